"""Masked-LM / next-sentence instances follow Google's algorithm and its statistics."""

import dataclasses
import pathlib
import random
import sysconfig

import numpy as np
import pytest

from bert_tf.text import tokenization
from bert_tf.tasks.pretraining import instances
from bert_tf.tasks.pretraining.pipeline import PipelineConfig, Tokenizer
from tests.conftest import SAMPLE_VOCAB


def _googles_truncation(length_a: int, length_b: int, max_num_tokens: int):
    """Google's truncate_seq_pair loop, on lengths."""
    while length_a + length_b > max_num_tokens:
        if length_a > length_b:
            length_a -= 1
        else:
            length_b -= 1
    return length_a, length_b


def test_truncated_lengths_equal_googles_loop():
    for length_a in range(0, 40):
        for length_b in range(0, 40):
            for max_num_tokens in (1, 5, 17, 30, 125):
                assert instances.truncated_lengths(length_a, length_b, max_num_tokens) == \
                    _googles_truncation(length_a, length_b, max_num_tokens)


def _stdlib_corpus_lines() -> list[bytes]:
    """Several thousand real lines (Python's standard library sources): each file a
    document, each non-empty line a sentence, blank lines between documents."""
    library = pathlib.Path(sysconfig.get_paths()["stdlib"])
    lines = []
    for name in ("textwrap.py", "argparse.py", "difflib.py", "calendar.py", "locale.py",
                 "pydoc.py", "typing.py", "inspect.py"):
        text = (library / name).read_text(encoding="utf-8")
        lines += [line.strip().encode() for line in text.splitlines() if line.strip()]
        lines.append(b"")
    return lines


def _config(**changes) -> PipelineConfig:
    vocab = tokenization.load_vocab(str(SAMPLE_VOCAB))
    masking = instances.MaskingConfig(
        max_seq_length=64, max_predictions_per_seq=20, masked_lm_prob=0.15,
        short_seq_prob=0.1, do_whole_word_mask=False, whole_word_decision_per_word=True,
        vocab_size=len(vocab), cls_id=vocab["[CLS]"], sep_id=vocab["[SEP]"],
        mask_id=vocab["[MASK]"])
    masking = dataclasses.replace(masking, **changes)
    return PipelineConfig(vocab_file=str(SAMPLE_VOCAB), do_lower_case=True,
                          masking=masking, dupe_factor=2, random_seed=7)


@pytest.fixture(scope="module")
def corpus():
    """The stdlib corpus tokenized with the sample vocabulary."""
    lines = _stdlib_corpus_lines()
    assert sum(1 for line in lines if line) > 5000
    tokenizer = Tokenizer(_config())
    return tokenizer, tokenizer.documents(0, lines)


def _build(corpus, config: PipelineConfig, seed: int = 0):
    """Instances for every document, packed (original ids) and masked."""
    tokenizer, shard = corpus
    tokens, documents = shard.tokens, shard.documents
    rng = random.Random(seed)
    pairs = [pair for index in range(len(documents))
             for pair in instances.create_pairs_from_document(documents, index,
                                                              config.masking, rng)]
    input_ids, segment_ids, lengths, first_sep, labels = instances.pack_pairs(
        tokens, pairs, config.masking)
    batch = instances.mask_batch(input_ids, segment_ids, lengths, first_sep, labels,
                                 config.masking, np.random.default_rng(seed),
                                 tokenizer.is_continuation)
    return input_ids, lengths, first_sep, batch


def test_instance_layout_and_statistics(corpus):
    config = _config()
    original, lengths, first_sep, batch = _build(corpus, config)
    masking = config.masking
    count, width = original.shape
    assert count > 3000
    position = np.arange(width)[None, :]
    real = position < lengths[:, None]

    # [CLS] A [SEP] B [SEP], padded with zeros; mask and segments agree with it.
    assert (original[:, 0] == masking.cls_id).all()
    assert (original[np.arange(count), first_sep] == masking.sep_id).all()
    assert (original[np.arange(count), lengths - 1] == masking.sep_id).all()
    assert (first_sep >= 2).all() and (lengths - first_sep >= 3).all()  # A and B non-empty.
    np.testing.assert_array_equal(batch.input_mask, real)
    np.testing.assert_array_equal(batch.segment_ids,
                                  (position > first_sep[:, None]) & real)
    assert (original[~real] == 0).all() and (batch.input_ids[~real] == 0).all()

    # Predictions: sorted, unique, inside the real tokens, never [CLS] or [SEP].
    weights = batch.masked_lm_weights.astype(bool)
    for row in range(count):
        positions = batch.masked_lm_positions[row][weights[row]]
        assert list(positions) == sorted(set(positions))
        assert (positions > 0).all() and (positions < lengths[row] - 1).all()
        assert first_sep[row] not in positions
        assert not batch.masked_lm_positions[row][~weights[row]].any()
        # masked_lm_ids are the original tokens at those positions.
        np.testing.assert_array_equal(batch.masked_lm_ids[row][weights[row]],
                                      original[row, positions])
        # Nothing outside the predictions was changed.
        untouched = np.ones(width, bool)
        untouched[positions] = False
        np.testing.assert_array_equal(batch.input_ids[row][untouched], original[row][untouched])

    # Google's count: round(length * 0.15), at least 1, at most 20.
    expected = np.clip(np.round(lengths * 0.15), 1, 20)
    np.testing.assert_array_equal(weights.sum(1), expected)
    uncapped = lengths * 0.15 < 19
    eligible = lengths - 3
    fraction = weights.sum(1)[uncapped & (lengths > 40)].sum() / eligible[uncapped & (lengths > 40)].sum()
    assert abs(fraction - 0.15) <= 0.01 + 3 * 0.15 / 40

    # 80% [MASK], 10% random, 10% unchanged.
    rows, slots = np.nonzero(weights)
    positions = batch.masked_lm_positions[rows, slots]
    now = batch.input_ids[rows, positions]
    before = batch.masked_lm_ids[rows, slots]
    masked = (now == masking.mask_id).mean()
    kept = (now == before).mean()
    assert abs(masked - 0.8) < 0.02 and abs(kept - 0.1) < 0.02
    assert abs(1 - masked - kept - 0.1) < 0.02

    # Next sentence: a bit more than half random (single-sentence chunks always are).
    random_share = batch.next_sentence_labels.mean()
    assert 0.47 < random_share < 0.62


def _words(ids, is_continuation, start, end):
    """Position lists of the words between start and end (a piece and its ## pieces)."""
    words = []
    for position in range(start, end):
        if words and is_continuation[ids[position]]:
            words[-1].append(position)
        else:
            words.append([position])
    return words


@pytest.mark.parametrize("per_word", [True, False])
def test_whole_word_masking_never_splits_a_word(corpus, per_word):
    config = _config(do_whole_word_mask=True, whole_word_decision_per_word=per_word)
    original, lengths, first_sep, batch = _build(corpus, config)
    is_continuation = corpus[0].is_continuation
    assert is_continuation[original[batch.input_mask.astype(bool)]].mean() > 0.05
    mixed = whole = 0
    for row in range(len(original)):
        chosen = set(batch.masked_lm_positions[row][batch.masked_lm_weights[row] > 0])
        for start, end in ((1, first_sep[row]), (first_sep[row] + 1, lengths[row] - 1)):
            for word in _words(original[row], is_continuation, start, end):
                taken = [position in chosen for position in word]
                if word[0] == start and is_continuation[original[row, start]]:
                    continue  # Continues a word cut off by truncation or [SEP].
                assert all(taken) or not any(taken), (row, word)
                if all(taken) and len(word) > 1:
                    whole += 1
                    treatments = {"mask" if batch.input_ids[row, p] == config.masking.mask_id
                                  else "keep" if batch.input_ids[row, p] == original[row, p]
                                  else "random" for p in word}
                    mixed += len(treatments) > 1
    assert whole > 200
    if per_word:
        assert mixed / whole < 0.02  # Only a random token that happens to equal [MASK].
    else:
        assert mixed / whole > 0.1  # Google's per-piece decision (its issue #910).


def test_pairs_are_reproducible_from_the_seed(corpus):
    config = _config()
    first = _build(corpus, config, seed=3)[3]
    second = _build(corpus, config, seed=3)[3]
    other = _build(corpus, config, seed=4)[3]
    np.testing.assert_array_equal(first.input_ids, second.input_ids)
    assert first.input_ids.shape != other.input_ids.shape or \
        not np.array_equal(first.input_ids, other.input_ids)


class _CoarseGenerator:
    """Draws keys from four values only, so that equal keys are common."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def random(self, shape):
        return self.rng.integers(0, 4, shape) / 4.0


@pytest.mark.parametrize("seed", range(5))
def test_token_choice_takes_the_smallest_keys_and_the_first_of_equal_ones(seed):
    draws = np.random.default_rng(100 + seed)
    candidates = draws.random((200, 12)) < 0.7
    wanted = draws.integers(1, 15, 200)  # Sometimes more than there are candidates.
    chosen = instances._choose_tokens(candidates, wanted, _CoarseGenerator(seed))
    keys = _CoarseGenerator(seed).random(candidates.shape)
    for row in range(len(candidates)):
        # By hand: candidates ordered by (key, position), the first `wanted` taken.
        ranked = sorted(np.flatnonzero(candidates[row]), key=lambda p: (keys[row, p], p))
        assert sorted(np.flatnonzero(chosen[row])) == sorted(ranked[:wanted[row]])
