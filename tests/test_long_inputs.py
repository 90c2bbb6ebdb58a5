"""Long-input strategies: the pieces each one keeps, checked by hand on a short
vocabulary (with `[CLS]`/`[SEP]`, for single texts and pairs); windows covering every
piece as the stride says; pooling of known logits; the graph form against the Python
form; the SavedModel against the Python pipeline for every strategy."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert_tf import serving
from bert_tf.errors import InvalidArgumentError
from bert_tf.modeling import BertClassifier
from bert_tf.tasks.classification.examples import InputExample
from bert_tf.tasks.classification.features import convert_examples_to_features
from bert_tf.text import long_inputs, tokenization
from bert_tf.text.long_inputs import LongInputStrategy
from tests.conftest import SAMPLE_VOCAB, sample_vocab_config, write_vocab

WORDS = [f"w{number}" for number in range(20)]
TEN = " ".join(WORDS[:10])  # Ten pieces, one per word.


@pytest.fixture
def tokenizer(tmp_path):
    vocab = write_vocab(tmp_path, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", *WORDS])
    return tokenization.FullTokenizer(vocab, do_lower_case=True)


def _inputs(tokenizer, text_a, text_b, max_seq_length, strategy):
    """The tokens and segment ids of each model input the features hold."""
    features, num_long = convert_examples_to_features(
        [InputExample("x", text_a, text_b, "a")], ["a"], max_seq_length, tokenizer,
        long_inputs=strategy)
    rows = []
    for ids, mask, segments in zip(features["input_ids"], features["input_mask"],
                                   features["segment_ids"]):
        length = int(mask.sum())
        rows.append((" ".join(tokenizer.convert_ids_to_tokens(ids[:length].tolist())),
                     segments[:length].tolist()))
    assert features["example_index"].tolist() == [0] * len(rows)
    return rows, num_long


@pytest.mark.parametrize("strategy, expected", [
    (LongInputStrategy("head"), ["[CLS] w0 w1 w2 w3 w4 w5 [SEP]"]),
    (LongInputStrategy("tail"), ["[CLS] w4 w5 w6 w7 w8 w9 [SEP]"]),
    (LongInputStrategy("head_tail", head_tokens=2), ["[CLS] w0 w1 w6 w7 w8 w9 [SEP]"]),
    (LongInputStrategy("head_tail", head_tokens=0), ["[CLS] w4 w5 w6 w7 w8 w9 [SEP]"]),
    (LongInputStrategy("head_tail", head_tokens=6), ["[CLS] w0 w1 w2 w3 w4 w5 [SEP]"]),
    # Six pieces a window; 2 apart: windows at 0, 2, 4 (the last ends at the text's end).
    (LongInputStrategy("windows", doc_stride=2), ["[CLS] w0 w1 w2 w3 w4 w5 [SEP]",
                                                  "[CLS] w2 w3 w4 w5 w6 w7 [SEP]",
                                                  "[CLS] w4 w5 w6 w7 w8 w9 [SEP]"]),
    # 3 apart (also half a window, the default): 0, 3, then 6 moved back to 4.
    (LongInputStrategy("windows", doc_stride=3), ["[CLS] w0 w1 w2 w3 w4 w5 [SEP]",
                                                  "[CLS] w3 w4 w5 w6 w7 w8 [SEP]",
                                                  "[CLS] w4 w5 w6 w7 w8 w9 [SEP]"]),
    (LongInputStrategy("windows"), ["[CLS] w0 w1 w2 w3 w4 w5 [SEP]",
                                    "[CLS] w3 w4 w5 w6 w7 w8 [SEP]",
                                    "[CLS] w4 w5 w6 w7 w8 w9 [SEP]"]),
    (LongInputStrategy("windows", doc_stride=6), ["[CLS] w0 w1 w2 w3 w4 w5 [SEP]",
                                                  "[CLS] w4 w5 w6 w7 w8 w9 [SEP]"]),
])
def test_single_text_pieces_by_hand(tokenizer, strategy, expected):
    rows, num_long = _inputs(tokenizer, TEN, None, 8, strategy)
    assert [tokens for tokens, _ in rows] == expected
    assert all(segments == [0] * 8 for _, segments in rows)
    assert num_long == 1


@pytest.mark.parametrize("name", long_inputs.STRATEGIES)
def test_a_text_that_fits_is_read_whole_by_every_strategy(tokenizer, name):
    rows, num_long = _inputs(tokenizer, TEN, None, 12, LongInputStrategy(name, 3, 2))
    assert rows == [("[CLS] " + TEN + " [SEP]", [0] * 12)]
    assert num_long == 0


@pytest.mark.parametrize("length, size, stride", itertools.product(
    [7, 10, 13, 31], [3, 6], [1, 2, 3, 5, 6]))
def test_windows_cover_every_piece_at_stride_steps(length, size, stride):
    if stride > size:
        return
    tokens = list(range(length))
    windows = LongInputStrategy("windows", doc_stride=stride).select(tokens, size)
    starts = [window[0] for window in windows]
    assert all(window == tokens[window[0]:window[0] + size] for window in windows)
    assert starts[:-1] == list(range(0, stride * (len(windows) - 1), stride))
    assert starts[-1] == length - size  # The last window ends at the text's end ...
    assert starts[-1] - starts[-2] <= stride  # ... and is the first that could.
    assert length - size > (starts[-2] if len(starts) > 1 else -1)


# text_a "w0 ... w5" (6 pieces), text_b "w10 ... w19" (10), max_seq_length 12: 9 pieces
# of room for the pair.
PAIR_A, PAIR_B = " ".join(WORDS[:6]), " ".join(WORDS[10:])


@pytest.mark.parametrize("strategy, expected", [
    # Google's _truncate_seq_pair: one piece at a time from the longer (B on a tie).
    (LongInputStrategy("head"), ["w0 w1 w2 w3 w4 | w10 w11 w12 w13"]),
    # The others keep text_a whole: 12 - 3 - 6 = 3 pieces of B.
    (LongInputStrategy("tail"), ["w0 w1 w2 w3 w4 w5 | w17 w18 w19"]),
    (LongInputStrategy("head_tail", head_tokens=1), ["w0 w1 w2 w3 w4 w5 | w10 w18 w19"]),
    (LongInputStrategy("windows", doc_stride=3), ["w0 w1 w2 w3 w4 w5 | w10 w11 w12",
                                                  "w0 w1 w2 w3 w4 w5 | w13 w14 w15",
                                                  "w0 w1 w2 w3 w4 w5 | w16 w17 w18",
                                                  "w0 w1 w2 w3 w4 w5 | w17 w18 w19"]),
    # A doc_stride past B's room is cut to it; none means half of it (1 here).
    (LongInputStrategy("windows", doc_stride=8), ["w0 w1 w2 w3 w4 w5 | w10 w11 w12",
                                                  "w0 w1 w2 w3 w4 w5 | w13 w14 w15",
                                                  "w0 w1 w2 w3 w4 w5 | w16 w17 w18",
                                                  "w0 w1 w2 w3 w4 w5 | w17 w18 w19"]),
    (LongInputStrategy("windows"), [f"w0 w1 w2 w3 w4 w5 | w{start} w{start + 1} "
                                    f"w{start + 2}" for start in range(10, 18)]),
])
def test_pair_pieces_by_hand_keep_text_a_whole(tokenizer, strategy, expected):
    rows, _ = _inputs(tokenizer, PAIR_A, PAIR_B, 12, strategy)
    pairs = []
    for tokens, segments in rows:
        assert tokens.startswith("[CLS] ") and tokens.endswith(" [SEP]")
        a, b = tokens.removeprefix("[CLS] ").removesuffix(" [SEP]").split(" [SEP] ")
        assert segments == [0] * (len(a.split()) + 2) + [1] * (len(b.split()) + 1)
        pairs.append(f"{a} | {b}")
    assert pairs == expected


def test_a_text_a_too_long_for_the_pair_leaves_one_piece_of_text_b(tokenizer):
    rows, _ = _inputs(tokenizer, TEN, PAIR_B, 8, LongInputStrategy("tail"))
    assert [tokens for tokens, _ in rows] == ["[CLS] w0 w1 w2 w3 [SEP] w19 [SEP]"]


def test_pooling_of_known_logits():
    logits = np.array([[1.0, 4.0], [3.0, 0.0], [5.0, 2.0], [-1.0, 7.0], [0.0, -3.0],
                       [2.0, 2.0]], np.float32)
    example = np.array([0, 0, 1, 2, 2, 2])
    mean = [[2.0, 2.0], [5.0, 2.0], [1 / 3, 2.0]]
    maximum = [[3.0, 4.0], [5.0, 2.0], [2.0, 7.0]]
    np.testing.assert_allclose(long_inputs.pool_logits(logits, example, "mean"), mean,
                               rtol=1e-6)
    np.testing.assert_allclose(long_inputs.pool_logits(logits, example, "max"), maximum)
    np.testing.assert_allclose(long_inputs.graph_pool(logits, example, "mean"), mean,
                               rtol=1e-6)
    np.testing.assert_allclose(long_inputs.graph_pool(logits, example, "max"), maximum)
    assert long_inputs.first_rows(example).tolist() == [0, 2, 3]


@pytest.mark.parametrize("strategy", [
    LongInputStrategy("head"), LongInputStrategy("tail"),
    LongInputStrategy("head_tail", head_tokens=2), LongInputStrategy("head_tail", 9),
    LongInputStrategy("windows"), LongInputStrategy("windows", doc_stride=1),
    LongInputStrategy("windows", doc_stride=4)])
def test_graph_selection_equals_python(strategy):
    rng = np.random.default_rng(0)
    lengths = [0, 1, 5, 6, 7, 12, 13, 30, *rng.integers(0, 40, 20)]
    budgets = [6, 6, 6, 6, 6, 6, 6, 6, *rng.integers(1, 9, 20)]
    texts = [list(range(100 * row, 100 * row + length)) for row, length in enumerate(lengths)]
    selected, example = long_inputs.graph_select(
        strategy, tf.ragged.constant(texts, tf.int64, row_splits_dtype=tf.int64),
        tf.constant(budgets, tf.int64))
    expected = [(row, window) for row, (text, budget) in enumerate(zip(texts, budgets))
                for window in strategy.select(text, int(budget))]
    assert list(zip(example.numpy().tolist(), selected.to_list())) == expected


@pytest.mark.parametrize("strategy, message", [
    (LongInputStrategy("middle"), "long_input_strategy='middle' must be one of head, "
                                  "tail, head_tail, windows."),
    (LongInputStrategy("windows", pooling="sum"), "window_pooling='sum' must be one of "
                                                  "mean, max."),
    (LongInputStrategy("head_tail", head_tokens=7), "head_tokens=7 must be between 0 and "
                                                    "max_seq_length - 2 = 6."),
    (LongInputStrategy("windows", doc_stride=7), "doc_stride=7 must be between 1 and "
                                                 "max_seq_length - 2 = 6."),
])
def test_out_of_range_options_name_the_argument(strategy, message):
    with pytest.raises(InvalidArgumentError) as error:
        strategy.check(8)
    assert str(error.value) == message


def test_pairs_read_by_another_strategy_need_room_for_both_texts():
    LongInputStrategy("head").check(3, pair=True)
    with pytest.raises(InvalidArgumentError, match="max_seq_length=4 must be at least 5"):
        LongInputStrategy("tail").check(4, pair=True)


# ------------------------------------------------------------------ SavedModel

MAX_SEQ_LENGTH = 12
LONG_TEXTS = [
    "the quick brown fox jumps over the lazy dog " * 4,
    "short text",
    "",
    "Héllo, WÖRLD! Ça va? 中文字符 and then some more words to make it long " * 2,
    "one two three four five six seven eight nine ten eleven",
]
SECOND_TEXTS = ["a question?", "what is going on in this long second text " * 3, "b",
                "c d e f g h i", "x"]


@pytest.fixture(scope="module")
def classifier():
    keras.utils.set_random_seed(4)
    model = BertClassifier(sample_vocab_config(), 3)
    weights = np.random.default_rng(4).normal(0, 0.3, model.classifier.output_weights.shape)
    model.classifier.output_weights.assign(weights.astype("float32"))
    return model


# Each strategy once with single texts and once with pairs, across the four cases.
@pytest.mark.parametrize("strategy, pair", [
    (LongInputStrategy("tail"), False), (LongInputStrategy("head_tail", head_tokens=3), True),
    (LongInputStrategy("windows", pooling="mean"), True),
    (LongInputStrategy("windows", doc_stride=2, pooling="max"), False)])
def test_saved_model_reads_long_texts_as_the_python_pipeline(classifier, tmp_path, strategy,
                                                             pair):
    path = serving.export_classifier(
        classifier, str(tmp_path), vocab_file=str(SAMPLE_VOCAB), do_lower_case=True,
        max_seq_length=MAX_SEQ_LENGTH, label_list=["a", "b", "c"], pair=pair,
        long_inputs=strategy)
    texts = {"text_a": tf.constant(LONG_TEXTS)}
    if pair:
        texts["text_b"] = tf.constant(SECOND_TEXTS)
    served = tf.saved_model.load(path).signatures["serving_default"](**texts)

    tokenizer = tokenization.FullTokenizer(str(SAMPLE_VOCAB), do_lower_case=True)
    examples = [InputExample(str(row), text, SECOND_TEXTS[row] if pair else None)
                for row, text in enumerate(LONG_TEXTS)]
    features, num_long = convert_examples_to_features(examples, ["a", "b", "c"],
                                                      MAX_SEQ_LENGTH, tokenizer,
                                                      long_inputs=strategy)
    assert num_long >= 2
    logits = classifier({name: features[name] for name in
                         ("input_ids", "input_mask", "segment_ids")})["logits"].numpy()
    expected = tf.nn.softmax(long_inputs.pool_logits(logits, features["example_index"],
                                                     strategy.pooling)).numpy()
    np.testing.assert_allclose(served["probabilities"].numpy(), expected, atol=1e-5)
