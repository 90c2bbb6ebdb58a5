"""Masked-LM + next-sentence training instances, by Google's algorithm, on token ids.

Google's `create_pretraining_data.py`, step by step, with two changes for speed that
keep its distribution: documents are lists of id arrays instead of token strings, and
the random choices come from a NumPy generator, masking a whole batch of instances at
once (`mask_batch`). Whole-word masking keeps Google's per-instance greedy loop.

Instance layout (`[CLS] A [SEP] B [SEP]`, segment ids 0 for `[CLS] A [SEP]`, 1 for
`B [SEP]`), B being the actual next sentences of A (label 0) or a random span of
another document (label 1).
"""

import dataclasses
import random

import numpy as np

from bert_tf.tasks.pretraining import example_encoding


@dataclasses.dataclass(frozen=True)
class MaskingConfig:
    """How instances are built and masked (Google's flags, plus the ids they need)."""

    max_seq_length: int
    max_predictions_per_seq: int
    masked_lm_prob: float
    short_seq_prob: float
    do_whole_word_mask: bool
    whole_word_decision_per_word: bool
    vocab_size: int
    cls_id: int
    sep_id: int
    mask_id: int


@dataclasses.dataclass
class InstanceBatch:
    """Padded instances, one row each (`max_seq_length` / `max_predictions_per_seq`)."""

    input_ids: np.ndarray
    input_mask: np.ndarray
    segment_ids: np.ndarray
    masked_lm_positions: np.ndarray
    masked_lm_ids: np.ndarray
    masked_lm_weights: np.ndarray
    next_sentence_labels: np.ndarray

    def __len__(self) -> int:
        return len(self.input_ids)

    def serialize(self) -> list[bytes]:
        """The instances as serialized `tf.train.Example`s with Google's features,
        byte-identical to protobuf's deterministic serialization."""
        int_names = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions",
                     "masked_lm_ids", "next_sentence_labels")
        return example_encoding.serialize_examples(
            {name: getattr(self, name) for name in int_names},
            {"masked_lm_weights": self.masked_lm_weights})


def truncated_lengths(length_a: int, length_b: int, max_num_tokens: int) -> tuple[int, int]:
    """The lengths Google's `truncate_seq_pair` leaves.

    It removes one token at a time from the longer segment (from B on ties) until the
    pair fits: first the longer one shrinks to the shorter's length, then the two take
    turns, B first. The result depends only on the lengths, so it is computed directly.
    """
    surplus = length_a + length_b - max_num_tokens
    if surplus <= 0:
        return length_a, length_b
    alone = min(surplus, abs(length_a - length_b))
    if length_a > length_b:
        length_a -= alone
    else:
        length_b -= alone
    turns = surplus - alone
    return length_a - turns // 2, length_b - (turns + 1) // 2


def _truncate(start: int, length: int, new_length: int, rng: random.Random) -> int:
    """The new start of a span cut from `length` to `new_length` tokens.

    Google removes each surplus token from the front or the back with probability 1/2,
    so the number taken from the front is Binomial(surplus, 1/2): the number of set
    bits among `surplus` random bits.
    """
    surplus = length - new_length
    return start + rng.getrandbits(surplus).bit_count() if surplus else start


# A pair is (start of A, length of A, start of B, length of B, B is random), offsets
# into the shard's flat token array: A and B are each a run of consecutive sentences.
Pair = tuple[int, int, int, int, bool]


def create_pairs_from_document(documents: list[list[int]], document_index: int,
                               config: MaskingConfig, rng: random.Random) -> list[Pair]:
    """Google's `create_instances_from_document`, before masking.

    Sentences are added to a chunk until it reaches the target length (the maximum,
    or with probability `short_seq_prob` a random shorter one, so that the model also
    sees short inputs). A is a random number of the chunk's first sentences; B is the
    rest (label "actual next"), or with probability 1/2 (always, for a one-sentence
    chunk) text from a random other document, in which case the chunk's unused
    sentences go back for the next instance.

    The many scalar draws here come from Python's `random.Random`, as in Google's
    code (NumPy's per-call overhead would dominate).

    Args:
      documents: per document, the offsets where its sentences start in the shard's
        flat token array, followed by the offset where it ends.
      document_index: the document to make pairs from.
      config: lengths and probabilities.
      rng: the random generator.

    Returns:
      `Pair`s, truncated to fit `max_seq_length`.
    """
    bounds = documents[document_index]
    sentences = len(bounds) - 1
    max_num_tokens = config.max_seq_length - 3
    target_seq_length = max_num_tokens
    if rng.random() < config.short_seq_prob:
        target_seq_length = rng.randint(2, max_num_tokens)
    pairs = []
    chunk_start = 0  # The chunk is sentences chunk_start..i.
    i = 0
    while i < sentences:
        chunk_length = bounds[i + 1] - bounds[chunk_start]
        if i == sentences - 1 or chunk_length >= target_seq_length:
            chunk_size = i + 1 - chunk_start
            a_end = chunk_start + (1 if chunk_size < 2 else rng.randint(1, chunk_size - 1))
            a_start, a_length = bounds[chunk_start], bounds[a_end] - bounds[chunk_start]
            if chunk_size == 1 or rng.random() < 0.5:
                is_random_next = True
                target_b_length = target_seq_length - a_length
                # Ten tries to find another document, as Google's code.
                for _ in range(10):
                    random_index = rng.randint(0, len(documents) - 1)
                    if random_index != document_index:
                        break
                other = documents[random_index]
                first = rng.randint(0, len(other) - 2)
                last = first + 1
                while last < len(other) - 1 and other[last] - other[first] < target_b_length:
                    last += 1
                b_start, b_length = other[first], other[last] - other[first]
                i = a_end - 1  # Put the unused sentences back.
            else:
                is_random_next = False
                b_start, b_length = bounds[a_end], bounds[i + 1] - bounds[a_end]
            new_a, new_b = truncated_lengths(a_length, b_length, max_num_tokens)
            if new_a >= 1 and new_b >= 1:
                pairs.append((_truncate(a_start, a_length, new_a, rng), new_a,
                              _truncate(b_start, b_length, new_b, rng), new_b,
                              is_random_next))
            chunk_start = i + 1
        i += 1
    return pairs


def pack_pairs(tokens: np.ndarray, pairs: list[Pair], config: MaskingConfig,
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Lays pairs out as `[CLS] A [SEP] B [SEP]`, zero-padded.

    Args:
      tokens: the shard's flat token ids.
      pairs: from `create_pairs_from_document`.
      config: gives the padded length and the special ids.

    Returns:
      input_ids, segment_ids [N, max_seq_length]; lengths (real tokens), the index of
      the first [SEP] and the next-sentence labels [N].
    """
    columns = np.array(pairs, dtype=np.int64).reshape(-1, 5)
    a_start, a_length, b_start, b_length, labels = (columns[:, k:k + 1] for k in range(5))
    position = np.arange(config.max_seq_length)[None, :]
    first_sep = 1 + a_length
    end = first_sep + 1 + b_length  # Index of the second [SEP].
    in_a = (position >= 1) & (position < first_sep)
    in_b = (position > first_sep) & (position < end)
    source = np.where(in_a, a_start + position - 1, b_start + position - first_sep - 1)
    source = np.where(in_a | in_b, source, 0)
    input_ids = np.where(in_a | in_b, tokens[source], 0)
    input_ids = np.where((position == first_sep) | (position == end), config.sep_id, input_ids)
    input_ids[:, 0] = config.cls_id
    segment_ids = (position > first_sep) & (position <= end)
    return (input_ids.astype(np.int32), segment_ids.astype(np.int32),
            (end[:, 0] + 1).astype(np.int32), first_sep[:, 0].astype(np.int32),
            labels[:, 0].astype(np.int32))


def _num_to_predict(lengths: np.ndarray, config: MaskingConfig) -> np.ndarray:
    # Google counts [CLS] and [SEP] in the length; Python's round() rounds half to
    # even, as np.round does.
    return np.minimum(config.max_predictions_per_seq,
                      np.maximum(1, np.round(lengths * config.masked_lm_prob).astype(np.int64)))


def _choose_tokens(candidates: np.ndarray, wanted: np.ndarray, rng: np.random.Generator,
                   ) -> np.ndarray:
    """A uniformly random subset of `wanted[i]` candidate positions in each row: the
    candidates with the smallest random keys (on equal keys, the first ones)."""
    keys = np.where(candidates, rng.random(candidates.shape), 2.0)
    rows = np.arange(len(keys))
    # A value sort is several times faster than an argsort; the threshold is the
    # wanted-th smallest key.
    threshold = np.sort(keys, axis=1)[rows, np.minimum(wanted, keys.shape[1]) - 1]
    chosen = (keys <= threshold[:, None]) & candidates
    # Keys equal to the threshold (two equal draws: about 1e-12 a row) take the
    # places left in their row by position.
    for row in np.flatnonzero(chosen.sum(axis=1) > wanted):
        tied = np.flatnonzero(chosen[row] & (keys[row] == threshold[row]))
        below = chosen[row].sum() - len(tied)  # Chosen with a smaller key.
        chosen[row, tied[wanted[row] - below:]] = False
    return chosen


def _choose_whole_words(input_ids: np.ndarray, candidates: np.ndarray, wanted: np.ndarray,
                        is_continuation: np.ndarray, rng: np.random.Generator,
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Google's whole-word selection: words (a piece and its `##` continuations) in
    random order, each taken whole if it still fits under the row's budget.

    Returns:
      the chosen positions, and for every position the position of its word's first
      piece (itself outside chosen words).
    """
    chosen = np.zeros_like(candidates)
    leader = np.broadcast_to(np.arange(candidates.shape[1]), candidates.shape).copy()
    for row in range(len(input_ids)):
        positions = np.flatnonzero(candidates[row])
        words: list[list[int]] = []
        for position in positions:
            if words and is_continuation[input_ids[row, position]]:
                words[-1].append(position)
            else:
                words.append([position])
        taken = 0
        for word_index in rng.permutation(len(words)):
            if taken >= wanted[row]:
                break
            word = words[word_index]
            if taken + len(word) > wanted[row]:
                continue
            chosen[row, word] = True
            leader[row, word] = word[0]
            taken += len(word)
    return chosen, leader


def mask_batch(input_ids: np.ndarray, segment_ids: np.ndarray, lengths: np.ndarray,
               first_sep: np.ndarray, next_sentence_labels: np.ndarray,
               config: MaskingConfig, rng: np.random.Generator,
               is_continuation: np.ndarray | None = None) -> InstanceBatch:
    """Chooses and corrupts the masked-LM predictions of packed instances.

    `masked_lm_prob` of the tokens (rounded, at least 1, at most
    `max_predictions_per_seq`) are chosen among all but `[CLS]`/`[SEP]`; of those, 80%
    become `[MASK]`, 10% a random vocabulary token and 10% stay as they are, so the
    model cannot tell which inputs to predict. With whole-word masking the choice is
    per word and, if `whole_word_decision_per_word`, so is the 80/10/10 decision.

    Args:
      input_ids: int32 [N, L] from `pack_pairs` (not modified).
      segment_ids, lengths, first_sep: from `pack_pairs`.
      next_sentence_labels: int [N], 1 where B is random.
      config: masking settings.
      rng: the generator all randomness is drawn from.
      is_continuation: bool [vocab_size], True for `##` pieces (whole-word masking).
    """
    count, width = input_ids.shape
    position = np.arange(width)[None, :]
    real = position < lengths[:, None]
    special = (position == 0) | (position == first_sep[:, None]) | (
        position == lengths[:, None] - 1)
    candidates = real & ~special
    wanted = _num_to_predict(lengths, config)
    if config.do_whole_word_mask:
        chosen, leader = _choose_whole_words(input_ids, candidates, wanted,
                                             is_continuation, rng)
    else:
        chosen = _choose_tokens(candidates, wanted, rng)
    rows, columns = np.nonzero(chosen)  # Row-major: positions come out sorted.
    if config.do_whole_word_mask and config.whole_word_decision_per_word:
        # One 80/10/10 decision per word: each piece reads its first piece's draws.
        decision = rng.random((count, width))[rows, leader[rows, columns]]
        keep_draw = rng.random((count, width))[rows, leader[rows, columns]]
    else:
        decision, keep_draw = rng.random(len(rows)), rng.random(len(rows))
    replacement = np.where(decision < 0.8, config.mask_id, input_ids[rows, columns])
    use_random = (decision >= 0.8) & (keep_draw >= 0.5)
    replacement[use_random] = rng.integers(0, config.vocab_size, int(use_random.sum()))
    corrupted = input_ids.copy()
    corrupted[rows, columns] = replacement

    predictions = config.max_predictions_per_seq
    row_starts = np.searchsorted(rows, np.arange(count))
    slots = np.arange(len(rows)) - row_starts[rows]
    masked_positions = np.zeros((count, predictions), np.int32)
    masked_ids = np.zeros((count, predictions), np.int32)
    masked_weights = np.zeros((count, predictions), np.float32)
    masked_positions[rows, slots] = columns
    masked_ids[rows, slots] = input_ids[rows, columns]
    masked_weights[rows, slots] = 1.0
    return InstanceBatch(
        input_ids=corrupted.astype(np.int32), input_mask=real.astype(np.int32),
        segment_ids=segment_ids, masked_lm_positions=masked_positions,
        masked_lm_ids=masked_ids, masked_lm_weights=masked_weights,
        next_sentence_labels=np.asarray(next_sentence_labels, np.int32).reshape(count, 1))
