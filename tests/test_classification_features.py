"""Classification examples to features as Google's `convert_single_example`: packing,
truncation of the longer text first, label ids, on a tiny vocabulary."""

import numpy as np
import pytest

from bert_tf.errors import InvalidArgumentError, UserInputError
from bert_tf.tasks.classification.examples import InputExample
from bert_tf.tasks.classification.features import convert_examples_to_features
from bert_tf.text import tokenization
from tests.conftest import write_vocab


VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c", "d", "e", "f", "g"]
ID = {token: index for index, token in enumerate(VOCAB)}


@pytest.fixture
def tokenizer(tmp_path):
    return tokenization.FullTokenizer(write_vocab(tmp_path, VOCAB), do_lower_case=True)


def test_features_truncation_and_labels(tokenizer):
    examples = [
        # Pair of 5 + 2 tokens into 8 - 3 = 5: A loses 2 (the longer side first).
        InputExample("x-0", "a b c d e", "f g", "1"),
        # Single text of 6 tokens fits 8 - 2 exactly.
        InputExample("x-1", "a b c d e f", None, "0"),
        # Single text of 7 tokens: cut to 6.
        InputExample("x-2", "A B C D E F G", None, "1"),
        # An empty text B makes a single text; a test example (no label) gets id 0.
        InputExample("x-3", "g", "", None),
    ]
    features, truncated = convert_examples_to_features(examples, ["0", "1"], 8, tokenizer)
    assert truncated == 2
    cls, sep = ID["[CLS]"], ID["[SEP]"]
    np.testing.assert_array_equal(features["input_ids"], [
        [cls, ID["a"], ID["b"], ID["c"], sep, ID["f"], ID["g"], sep],
        [cls, ID["a"], ID["b"], ID["c"], ID["d"], ID["e"], ID["f"], sep],
        [cls, ID["a"], ID["b"], ID["c"], ID["d"], ID["e"], ID["f"], sep],
        [cls, ID["g"], sep, 0, 0, 0, 0, 0]])
    np.testing.assert_array_equal(features["segment_ids"], [
        [0, 0, 0, 0, 0, 1, 1, 1], [0] * 8, [0] * 8, [0] * 8])
    np.testing.assert_array_equal(features["input_mask"], [
        [1] * 8, [1] * 8, [1] * 8, [1, 1, 1, 0, 0, 0, 0, 0]])
    np.testing.assert_array_equal(features["label_ids"], [1, 0, 1, 0])
    assert all(array.dtype == np.int32 for array in features.values())


def test_regression_labels_are_floats(tokenizer):
    examples = [InputExample("s-0", "a", "b", 4.25), InputExample("s-1", "c", "d", None)]
    features, truncated = convert_examples_to_features(examples, None, 6, tokenizer,
                                                       is_regression=True)
    assert truncated == 0
    assert features["label_ids"].dtype == np.float32
    np.testing.assert_array_equal(features["label_ids"], [4.25, 0.0])


def test_label_outside_the_list_is_an_error(tokenizer):
    with pytest.raises(UserInputError, match=r"x-0: label 'maybe'"):
        convert_examples_to_features([InputExample("x-0", "a", None, "maybe")],
                                     ["0", "1"], 8, tokenizer)


def test_max_seq_length_must_hold_cls_a_piece_and_sep(tokenizer):
    examples = [InputExample("x-0", "a", None, "0")]
    with pytest.raises(InvalidArgumentError, match=r"max_seq_length=2 must be at least 3"):
        convert_examples_to_features(examples, ["0", "1"], 2, tokenizer)
    features, _ = convert_examples_to_features(examples, ["0", "1"], 3, tokenizer)
    np.testing.assert_array_equal(features["input_ids"], [[ID["[CLS]"], ID["a"], ID["[SEP]"]]])
