"""Word tags to WordPiece windows and back: alignment, windows, document context."""

import numpy as np
import pytest

from bert_tf.tasks.ner import features as ner_features
from bert_tf.text import windows
from bert_tf.tasks.ner.conll import Sentence
from bert_tf.errors import UserInputError
from bert_tf.text.tokenization import FullTokenizer
from conftest import write_vocab

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "johan", "##son", "lives", "in",
         "jack", "##ville", ".", "u", "s", "a", "##b", "##c", "##d", "##e", "##f"]
VOCAB += [f"w{i}" for i in range(40)]  # One-piece words with distinct ids.
LABELS = ["O", "B-LOC", "B-PER", "I-LOC", "I-PER"]
LABEL_MAP = {label: index for index, label in enumerate(LABELS)}


@pytest.fixture
def tokenizer(tmp_path) -> FullTokenizer:
    return FullTokenizer(write_vocab(tmp_path, VOCAB), do_lower_case=True)


def tokens_of(features, tokenizer, row: int) -> list[str]:
    ids = features.input_ids[row][features.input_mask[row] == 1]
    return tokenizer.convert_ids_to_tokens(ids.tolist())


def gold_ids(sentences) -> list[list[int]]:
    return [[LABEL_MAP[tag] for tag in sentence.tags] for sentence in sentences]


def test_first_piece_carries_the_label(tokenizer):
    sentence = Sentence(["Johanson", "lives", "in", "Jacksonville", "."],
                        ["B-PER", "O", "O", "B-LOC", "O"])
    features = ner_features.convert_documents([[sentence]], tokenizer, LABEL_MAP, 12)
    assert tokens_of(features, tokenizer, 0) == [
        "[CLS]", "johan", "##son", "lives", "in", "jack", "##son", "##ville", ".", "[SEP]"]
    assert features.label_ids.tolist() == [[0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]]
    assert features.label_weights.tolist() == [[0, 1, 0, 1, 1, 1, 0, 0, 1, 0, 0, 0]]
    assert features.mapping.word_index.tolist() == [[-1, 0, -1, 1, 2, 3, -1, -1, 4, -1, -1,
                                                     -1]]
    assert features.input_mask.tolist() == [[1] * 10 + [0] * 2]
    assert not features.segment_ids.any()
    for name, array in features.arrays().items():
        assert array.dtype == (np.float32 if name == "label_weights" else np.int32), name
        assert array.shape == (1, 12)


def test_many_piece_words_control_characters_and_unknown_words(tokenizer):
    # "abcdef" is six pieces; "u.s." is four basic tokens; "\x07" tokenizes to nothing;
    # "zzz" cannot be covered by the vocabulary.
    sentence = Sentence(["abcdef", "u.s.", "\x07", "zzz", "in"],
                        ["B-PER", "B-LOC", "O", "B-PER", "I-PER"])
    features = ner_features.convert_documents([[sentence]], tokenizer, LABEL_MAP, 16)
    assert tokens_of(features, tokenizer, 0) == [
        "[CLS]", "a", "##b", "##c", "##d", "##e", "##f", "u", ".", "s", ".", "[UNK]",
        "[UNK]", "in", "[SEP]"]
    assert np.flatnonzero(features.label_weights[0]).tolist() == [1, 7, 11, 12, 13]
    # Round trip: the labels read back at the weighted positions are the words' labels.
    assert ner_features.word_predictions(features.label_ids, features.mapping,
                                         [sentence]) == gold_ids([sentence])


def test_window_spans_and_max_context_by_hand():
    assert windows.window_spans(0, 10, 10, 4, 2) == [(0, 4), (2, 6), (4, 8), (6, 10)]
    assert windows.window_spans(0, 10, 10, 4, 3) == [(0, 4), (3, 7), (6, 10)]
    # The last window is filled to the full size with earlier pieces.
    assert windows.window_spans(0, 10, 10, 4, 4) == [(0, 4), (4, 8), (6, 10)]
    assert windows.window_spans(0, 3, 3, 4, 2) == [(0, 3)]
    assert windows.window_spans(5, 5, 9, 4, 2) == []
    spans = [(0, 4), (2, 6), (4, 8), (6, 10)]
    # Position 4: min(2, 1) in (2, 6) beats min(0, 3) in (4, 8).
    assert windows.best_window(spans, 4) == 1
    # Position 5: min(1, 2) in (4, 8) beats min(3, 0) in (2, 6).
    assert windows.best_window(spans, 5) == 2
    assert windows.best_window(spans, 0) == 0
    assert windows.best_window(spans, 9) == 3
    # A tie in context goes to the longer window (0.01 a piece), then to the first.
    assert windows.best_window([(0, 5), (0, 6)], 2) == 1
    assert windows.best_window([(0, 4), (1, 5)], 2) == 0
    assert windows.max_context_score((2, 6), 4) == pytest.approx(1.04)


def check_max_context(features, sentences, window_size):
    """Recomputes, from the arrays alone, that each word's prediction comes from the
    window where its first piece has most context; the words here are one piece each
    with distinct ids, so their occurrences can be found by id."""
    starts = {}  # (sentence, word) -> [(score, row, position)]
    for row in range(len(features.input_ids)):
        sentence = int(features.mapping.sentence_index[row])
        length = int(features.input_mask[row].sum()) - 2
        assert length <= window_size
        ids = features.input_ids[row].tolist()
        for word, word_id in enumerate(sentences[sentence]):
            if word_id in ids[1:length + 1]:
                position = ids.index(word_id)
                score = min(position - 1, length - position) + 0.01 * length
                starts.setdefault((sentence, word), []).append((score, row, position))
    for (sentence, word), occurrences in starts.items():
        best_score = max(score for score, _, _ in occurrences)
        chosen = [(score, row, position) for score, row, position in occurrences
                  if features.mapping.word_index[row, position] == word
                  and features.mapping.sentence_index[row] == sentence]
        assert len(chosen) == 1 and chosen[0][0] == best_score, (sentence, word)


@pytest.mark.parametrize("max_seq_length, doc_stride", [(8, 1), (8, 2), (8, 6), (12, 5)])
def test_long_sentences_are_windowed_not_truncated(tokenizer, max_seq_length, doc_stride):
    words = [f"w{i}" for i in range(23)]
    tags = ["B-PER" if i % 3 == 0 else "I-PER" if i % 3 == 1 else "O" for i in range(23)]
    sentences = [Sentence(words, tags), Sentence(["w30", "w31"], ["O", "B-LOC"])]
    features = ner_features.convert_documents([sentences], tokenizer, LABEL_MAP,
                                              max_seq_length, doc_stride)
    rows_for_first = int((features.mapping.sentence_index == 0).sum())
    assert rows_for_first >= -(-23 // (max_seq_length - 2))
    assert features.label_weights.sum() == 25  # Every word counted exactly once.
    assert ner_features.word_predictions(features.label_ids, features.mapping,
                                         sentences) == gold_ids(sentences)
    vocab = {token: index for index, token in enumerate(VOCAB)}
    check_max_context(features, [[vocab[w] for w in s.words] for s in sentences],
                      max_seq_length - 2)


def test_windows_of_words_with_many_pieces(tokenizer):
    words = ["abcdef", "in", "abc", "jacksonville", "abcdef", "ab", "lives", "abcde"] * 3
    tags = ["B-PER", "O", "B-LOC", "I-LOC", "O", "B-PER", "O", "B-LOC"] * 3
    sentence = Sentence(words, tags)
    for doc_stride in (1, 3, 7):
        features = ner_features.convert_documents([[sentence]], tokenizer, LABEL_MAP, 9,
                                                  doc_stride)
        assert len(features.input_ids) > 3
        # Each weighted position holds a word's first piece, never a ## continuation.
        for row, position in zip(*np.nonzero(features.label_weights)):
            token = tokenizer.inv_vocab[int(features.input_ids[row, position])]
            assert not token.startswith("##")
        assert ner_features.word_predictions(features.label_ids, features.mapping,
                                             [sentence]) == gold_ids([sentence])


def test_document_context_fills_windows_and_weights_only_the_sentence(tokenizer):
    document = [Sentence(["w0", "w1", "w2"], ["B-PER", "I-PER", "O"]),
                Sentence(["w3", "w4"], ["O", "B-LOC"]),
                Sentence(["w5", "w6", "w7", "w8"], ["O", "O", "B-PER", "O"])]
    other = [Sentence(["w9"], ["B-LOC"])]
    features = ner_features.convert_documents([document, other], tokenizer, LABEL_MAP, 8,
                                              document_context=True)
    # Six pieces a window; context split evenly, shifted where the document ends.
    assert [tokens_of(features, tokenizer, row)[1:-1] for row in range(4)] == [
        ["w0", "w1", "w2", "w3", "w4", "w5"],
        ["w1", "w2", "w3", "w4", "w5", "w6"],
        ["w3", "w4", "w5", "w6", "w7", "w8"],
        ["w9"]]
    assert features.mapping.sentence_index.tolist() == [0, 1, 2, 3]
    assert features.label_weights.tolist() == [
        [0, 1, 1, 1, 0, 0, 0, 0],
        [0, 0, 0, 1, 1, 0, 0, 0],
        [0, 0, 0, 1, 1, 1, 1, 0],
        [0, 1, 0, 0, 0, 0, 0, 0]]
    # Context words keep their labels (weight 0): w3's O and w4's B-LOC in row 0.
    assert features.label_ids[0].tolist() == [0, 2, 4, 0, 0, 1, 0, 0]
    sentences = document + other
    assert ner_features.word_predictions(features.label_ids, features.mapping,
                                         sentences) == gold_ids(sentences)


def test_document_context_with_a_sentence_longer_than_a_window(tokenizer):
    document = [Sentence(["w0", "w1"], ["O", "O"]),
                Sentence([f"w{i}" for i in range(2, 14)], ["B-PER"] * 12),
                Sentence(["w14", "w15"], ["O", "B-LOC"])]
    features = ner_features.convert_documents([document], tokenizer, LABEL_MAP, 7, 3,
                                              document_context=True)
    long_rows = np.flatnonzero(features.mapping.sentence_index == 1)
    assert len(long_rows) >= 3
    assert features.label_weights[long_rows].sum() == 12
    for row in long_rows:  # No weight on w0, w1, w14, w15 (ids of the other sentences).
        weighted = features.input_ids[row][features.label_weights[row] == 1]
        assert set(tokenizer.convert_ids_to_tokens(weighted.tolist())) <= {
            f"w{i}" for i in range(2, 14)}
    assert ner_features.word_predictions(features.label_ids, features.mapping,
                                         document) == gold_ids(document)
    vocab = {token: index for index, token in enumerate(VOCAB)}
    check_max_context(features, [[vocab[w] for w in s.words] for s in document], 5)


def test_word_predictions_from_logits_and_bad_mappings(tokenizer):
    sentences = [Sentence(["w1", "abcdef", "w2"], ["O", "B-PER", "I-PER"])]
    features = ner_features.convert_documents([sentences], tokenizer, LABEL_MAP, 6, 2)
    logits = np.eye(len(LABELS), dtype=np.float32)[features.label_ids] * 5
    assert ner_features.word_predictions(logits, features.mapping, sentences) == [[0, 2, 4]]
    with pytest.raises(ValueError, match="has no prediction"):
        ner_features.word_predictions(features.label_ids, features.mapping,
                                      [Sentence(["a"] * 4, ["O"] * 4)])
    with pytest.raises(ValueError, match="not among the sentences"):
        ner_features.word_predictions(features.label_ids, features.mapping, [["a"]])
    doubled = ner_features.WindowMapping(
        np.concatenate([features.mapping.sentence_index] * 2),
        np.concatenate([features.mapping.word_index] * 2))
    with pytest.raises(ValueError, match="predicted twice"):
        ner_features.word_predictions(np.concatenate([features.label_ids] * 2), doubled,
                                      sentences)


def test_unknown_tags_and_bad_sizes(tokenizer):
    sentence = Sentence(["w1", "w2"], ["O", "B-ORG"], path="dev.txt", line=7)
    with pytest.raises(UserInputError, match=r"'B-ORG' \('dev.txt', line 8\)"):
        ner_features.convert_documents([[sentence]], tokenizer, LABEL_MAP, 8)
    ok = Sentence(["w1"], ["O"])
    with pytest.raises(ValueError, match="at least 3"):
        ner_features.convert_documents([[ok]], tokenizer, LABEL_MAP, 2)
    with pytest.raises(ValueError, match="doc_stride"):
        ner_features.convert_documents([[ok]], tokenizer, LABEL_MAP, 8, doc_stride=7)
    empty = ner_features.convert_documents([], tokenizer, LABEL_MAP, 8)
    assert empty.input_ids.shape == (0, 8) and empty.mapping.word_index.shape == (0, 8)
