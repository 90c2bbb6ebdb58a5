"""SQuAD questions to model inputs: Google's `convert_examples_to_features`, faster.

Each question becomes one or more *windows* over its context's WordPieces:

    [CLS] query pieces [SEP] passage pieces of the window [SEP] 0 0 ...
    segment 0 ......................  segment 1 ................  0 (padding)

The query is cut to `max_query_length` pieces; a window holds up to
`max_tokens = max_seq_length - len(query) - 3` passage pieces. Windows start at piece 0
and then every `doc_stride` pieces (never further than the window's own length), until
one reaches the passage's end; that last window is just shorter (unlike
`bert_tf.text.windows.window_spans`, which moves it back):

    passage of 10 pieces, max_tokens 4, doc_stride 3:   [0, 4)  [3, 7)  [6, 10)
    passage of 9 pieces,  max_tokens 4, doc_stride 3:   [0, 4)  [3, 7)  [6, 9)

A piece in several windows counts in the one where it has the most context
(`token_is_max_context`): for piece p of a window [start, end), the score is
`min(p - start, end - 1 - p) + 0.01 * (end - start)`, the highest wins, the first
window on a tie (`bert_tf.text.windows.max_context_score`).

Passage pieces come from tokenizing each whitespace word of the context on its own, so
that every piece maps back to a word (`token_to_word`), which is how predictions become
answer text. Training targets: the first answer's words become a piece span, narrowed
to the pieces of the tokenized answer where they match (Google's
`_improve_answer_span`: answer "1895" in the word "(1895-1943)." is the piece `1895`,
not the whole word); a window that does not hold the whole span, and every window of an
impossible question, points at `[CLS]` (start = end = 0).

The output equals Google's (the tests compare it with tf-models' copy of that code)
but comes more than 10x faster (`benchmarks/squad_features.py`): each context is
tokenized once for all its questions (Google's code re-tokenizes it for every
question), each distinct word and basic token once, ASCII text by a shorter exact
route, and the arrays are built with NumPy at the end.
"""

import dataclasses
import itertools
import operator
import re
from typing import Protocol

import numpy as np

from bert_tf.errors import InvalidArgumentError
from bert_tf.tasks.squad.squad_json import (SquadExample, SquadFile,
                                            paused_garbage_collection)
from bert_tf.text.packing import CLS_TOKEN, SEP_TOKEN, check_query_length
from bert_tf.text.tokenization import BasicTokenizer, FullTokenizer


class Tokenizer(Protocol):
    """What is needed of a tokenizer (`bert_tf.text.tokenization.FullTokenizer` has it)."""

    def tokenize(self, text: str) -> list[str]:
        """WordPiece tokens of `text`."""

    def convert_tokens_to_ids(self, tokens: list[str]) -> list[int]:
        """Vocabulary ids of `tokens`."""


@dataclasses.dataclass
class SquadFeatures:
    """The windows of a SQuAD file's questions: model inputs, training targets and the
    way back to the context's words. N windows of S = max_seq_length positions.

    Attributes:
      input_ids: int32 [N, S], `[CLS] query [SEP] passage window [SEP]`, zero padding.
      input_mask: int32 [N, S], 1 on the tokens, 0 on the padding.
      segment_ids: int32 [N, S], 0 for `[CLS] query [SEP]`, 1 for the passage window
        and its `[SEP]`, 0 on the padding.
      start_positions, end_positions: int32 [N], the positions of the answer's first
        and last pieces in the window; 0 when the window does not hold the whole
        answer, the question is impossible, or the file is not converted for training.
      example_index: int32 [N], the question, an index into `SquadFile.examples`.
      doc_span_index: int32 [N], the window's number among its question's windows.
      token_to_word: int32 [N, S], at a passage piece, the index of its word in the
        context (`Context.words`); -1 elsewhere.
      token_is_max_context: bool [N, S], True at the passage pieces that have their
        most context in this window (see the module docstring).
    """

    input_ids: np.ndarray
    input_mask: np.ndarray
    segment_ids: np.ndarray
    start_positions: np.ndarray
    end_positions: np.ndarray
    example_index: np.ndarray
    doc_span_index: np.ndarray
    token_to_word: np.ndarray
    token_is_max_context: np.ndarray

    def arrays(self) -> dict[str, np.ndarray]:
        """The model's inputs and targets by name, e.g. for
        `tf.data.Dataset.from_tensor_slices`."""
        return {"input_ids": self.input_ids, "input_mask": self.input_mask,
                "segment_ids": self.segment_ids, "start_positions": self.start_positions,
                "end_positions": self.end_positions}

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclasses.dataclass
class _Passage:
    """A context's WordPieces, made once for all its questions.

    Attributes:
      tokens: the pieces (Google's `all_doc_tokens`).
      ids: int32 [len(tokens)], their vocabulary ids.
      token_to_word: int32 [len(tokens)], each piece's word (`tok_to_orig_index`).
      word_to_token: each word's first piece (`orig_to_tok_index`).
    """

    tokens: list[str]
    ids: np.ndarray
    token_to_word: np.ndarray
    word_to_token: list[int]


class _Pieces:
    """`tokenizer.tokenize` of each distinct text, and its ids, computed once.

    With a `FullTokenizer`, whose `tokenize` is WordPiece of each token of its
    `basic_tokenizer`, the WordPieces of each distinct basic token are computed once
    too, and the basic tokens of ASCII text (most of SQuAD) come from
    `_ascii_basic_tokens`, the same tokens by a faster route. Other tokenizers are
    called as they are.
    """

    def __init__(self, tokenizer: Tokenizer):
        self.tokenizer = tokenizer
        self.texts: dict[str, tuple[list[str], list[int]]] = {}
        self.basic_tokens: dict[str, tuple[list[str], list[int]]] = {}
        self.full = (isinstance(tokenizer, FullTokenizer)
                     and type(tokenizer).tokenize is FullTokenizer.tokenize
                     and type(tokenizer.basic_tokenizer) is BasicTokenizer)

    def __call__(self, text: str) -> tuple[list[str], list[int]]:
        """The WordPieces of `text` and their ids."""
        found = self.texts.get(text)
        if found is None:
            found = self.texts[text] = self._tokenize(text)
        return found

    def _tokenize(self, text: str) -> tuple[list[str], list[int]]:
        if not self.full:
            tokens = self.tokenizer.tokenize(text)
            return tokens, self.tokenizer.convert_tokens_to_ids(tokens)
        basic = self.tokenizer.basic_tokenizer
        tokens, ids = [], []
        for token in (_ascii_basic_tokens(text, basic.do_lower_case) if text.isascii()
                      else basic.tokenize(text)):
            found = self.basic_tokens.get(token)
            if found is None:
                pieces = self.tokenizer.wordpiece_tokenizer.tokenize(token)
                found = self.basic_tokens[token] = (
                    pieces, self.tokenizer.convert_tokens_to_ids(pieces))
            tokens += found[0]
            ids += found[1]
        return tokens, ids

    def passage(self, words: tuple[str, ...], with_tokens: bool) -> _Passage:
        """The pieces of a context's words (Google's per-word tokenization); the piece
        strings only `with_tokens` (training needs them)."""
        texts = self.texts
        entries = [texts.get(word) or self(word) for word in words]
        word_ids = list(map(_SECOND, entries))
        counts = list(map(len, word_ids))
        return _Passage(
            tokens=(list(itertools.chain.from_iterable(map(_FIRST, entries)))
                    if with_tokens else []),
            ids=np.array(list(itertools.chain.from_iterable(word_ids)), np.int32),
            token_to_word=np.repeat(np.arange(len(words), dtype=np.int32), counts),
            word_to_token=[0, *itertools.accumulate(counts)][:len(words)])


_FIRST, _SECOND = operator.itemgetter(0), operator.itemgetter(1)
# ASCII control characters, which Google's BasicTokenizer drops (tab, newline and
# carriage return are whitespace instead).
_ASCII_CONTROLS = dict.fromkeys([*(c for c in range(32) if chr(c) not in "\t\n\r"), 127])
# Letter-or-digit runs, and single ASCII punctuation characters (all other printable
# ASCII but the space).
_ASCII_TOKEN = re.compile(r"[A-Za-z0-9]+|[!-/:-@\[-`{-~]")


def _ascii_basic_tokens(text: str, do_lower_case: bool) -> list[str]:
    """`BasicTokenizer.tokenize(text)` for ASCII `text`, where its steps reduce to: drop
    control characters, lower-case (NFD and accent stripping change nothing), split on
    whitespace and around every non-alphanumeric character (tests check it against
    `BasicTokenizer` on every ASCII character)."""
    text = text.translate(_ASCII_CONTROLS)
    return _ASCII_TOKEN.findall(text.lower() if do_lower_case else text)


def convert_examples_to_features(squad_file: SquadFile, tokenizer: Tokenizer,
                                 max_seq_length: int, doc_stride: int,
                                 max_query_length: int, is_training: bool) -> SquadFeatures:
    """The windows of every question of `squad_file`, exactly as Google's
    `convert_examples_to_features` makes them (see the module docstring).

    Args:
      squad_file: the read file (`read_squad_file`; with `is_training=True` if
        `is_training` is).
      tokenizer: WordPiece tokenizer (`FullTokenizer`).
      max_seq_length: the padded length of a window.
      doc_stride: how many passage pieces apart windows start, at least 1.
      max_query_length: the most pieces kept of a question.
      is_training: compute `start_positions` and `end_positions`.

    Returns:
      The windows, question after question in file order.

    Raises:
      InvalidArgumentError: for lengths `check_query_length` refuses, or `doc_stride` < 1.
      ValueError: if `is_training` but the file was not read for training.
    """
    check_query_length(max_seq_length, max_query_length)
    if doc_stride < 1:
        raise InvalidArgumentError("doc_stride", doc_stride, "must be at least 1.")
    with paused_garbage_collection():
        return _convert(squad_file, _Pieces(tokenizer), max_seq_length, doc_stride,
                        max_query_length, is_training)


def _convert(squad_file: SquadFile, pieces: "_Pieces", max_seq_length: int,
             doc_stride: int, max_query_length: int, is_training: bool) -> SquadFeatures:
    """`convert_examples_to_features` once its arguments are checked."""
    tokenizer = pieces.tokenizer
    cls_id, sep_id = tokenizer.convert_tokens_to_ids([CLS_TOKEN, SEP_TOKEN])
    rows = _Rows(max_seq_length, sep_id)
    passage_index, passage = -1, None
    for example_index, example in enumerate(squad_file.examples):
        if example.context_index != passage_index:  # Questions of a context are adjacent.
            passage_index = example.context_index
            passage = pieces.passage(squad_file.contexts[passage_index].words, is_training)
        query_ids = pieces(example.question_text)[1][:max_query_length]
        # [CLS] query [SEP], where every window of the question starts.
        head = np.array([cls_id, *query_ids, sep_id], np.int32)
        answer = None
        if is_training:
            answer = _answer_pieces(example, passage, pieces,
                                    len(squad_file.contexts[passage_index].words))
        num_tokens = len(passage.ids)
        spans = _doc_spans(num_tokens, max_seq_length - len(query_ids) - 3, doc_stride)
        for span_index, ((start, length), is_max_context) in enumerate(
                zip(spans, _max_context(spans, num_tokens))):
            start_position = end_position = 0
            if answer is not None and answer[0] >= start and answer[1] <= start + length - 1:
                start_position = answer[0] - start + len(head)
                end_position = answer[1] - start + len(head)
            rows.add(head, passage, start, length, is_max_context,
                     (example_index, span_index, start_position, end_position))
    return rows.features()


def _answer_pieces(example: SquadExample, passage: _Passage, pieces: _Pieces,
                   num_words: int) -> tuple[int, int] | None:
    """The training target as pieces of the passage (first, last), or None for an
    impossible question."""
    if example.start_position is None:
        raise ValueError(f"Question {example.qas_id!r} has no training target: read the "
                         "file with read_squad_file(..., is_training=True) to convert it "
                         "for training.")
    if example.is_impossible:
        return None
    start = passage.word_to_token[example.start_position]
    if example.end_position < num_words - 1:
        end = passage.word_to_token[example.end_position + 1] - 1
    else:
        end = len(passage.ids) - 1
    return _improve_answer_span(passage.tokens, start, end,
                                pieces(example.answers[0].text)[0])


def _improve_answer_span(doc_tokens: list[str], start: int, end: int,
                         answer_tokens: list[str]) -> tuple[int, int]:
    """Google's `_improve_answer_span`: the first piece span within [start, end] that
    is exactly the tokenized answer, or [start, end] if none is.

    Google compares `" ".join` of each candidate span with the joined answer pieces;
    pieces hold no spaces, so that is list equality, and only spans of the answer's
    length can match: one candidate per start instead of all ends.
    """
    count = len(answer_tokens)
    if count:
        first = answer_tokens[0]
        for new_start in range(start, end - count + 2):
            if (doc_tokens[new_start] == first
                    and doc_tokens[new_start:new_start + count] == answer_tokens):
                return new_start, new_start + count - 1
    return start, end


def _doc_spans(num_tokens: int, max_tokens: int, doc_stride: int) -> list[tuple[int, int]]:
    """Google's windows (start, length) over `num_tokens` passage pieces: none for an
    empty passage."""
    spans = []
    start = 0
    while start < num_tokens:
        length = min(num_tokens - start, max_tokens)
        spans.append((start, length))
        if start + length == num_tokens:
            break
        start += min(length, doc_stride)
    return spans


def _max_context(spans: list[tuple[int, int]], num_tokens: int) -> list[np.ndarray]:
    """For each window, bool [length]: which of its pieces have their most context in
    it (Google's `_check_is_max_context`, for all pieces at once)."""
    if len(spans) < 2:
        return [np.ones(length, bool) for _, length in spans]
    starts = np.array([start for start, _ in spans])[:, np.newaxis]
    lengths = np.array([length for _, length in spans])[:, np.newaxis]
    ends = starts + lengths - 1
    positions = np.arange(num_tokens)[np.newaxis]
    # The same float operations as Google's, so that ties break the same way.
    score = np.minimum(positions - starts, ends - positions) + 0.01 * lengths
    score = np.where((positions >= starts) & (positions <= ends), score, -np.inf)
    best = score.argmax(axis=0)  # The first window on a tie.
    return [best[start:start + length] == index
            for index, (start, length) in enumerate(spans)]


class _Rows:
    """The output windows as they are made: the parts of each row, joined at the end
    into the arrays (one NumPy copy each, not one per row)."""

    def __init__(self, max_seq_length: int, sep_id: int):
        self.max_seq_length = max_seq_length
        self.sep = np.array([sep_id], np.int32)
        self.no_word = np.full(max_seq_length, -1, np.int32)
        self.no_max_context = np.zeros(max_seq_length, bool)
        self.ids: list[np.ndarray] = []
        self.words: list[np.ndarray] = []
        self.max_context: list[np.ndarray] = []
        self.lengths: list[int] = []
        self.doc_starts: list[int] = []
        self.numbers: list[tuple[int, int, int, int]] = []

    def add(self, head: np.ndarray, passage: _Passage, start: int, length: int,
            is_max_context: np.ndarray, numbers: tuple[int, int, int, int]) -> None:
        """One window: `head` ([CLS] query [SEP]), then `length` passage pieces from
        `start` and [SEP]; `numbers` are its example_index, doc_span_index,
        start_position and end_position."""
        doc_start, end = len(head), start + length
        self.ids += (head, passage.ids[start:end], self.sep)
        self.words += (self.no_word[:doc_start], passage.token_to_word[start:end],
                       self.no_word[:1])
        self.max_context += (self.no_max_context[:doc_start], is_max_context,
                             self.no_max_context[:1])
        self.lengths.append(doc_start + length + 1)
        self.doc_starts.append(doc_start)
        self.numbers.append(numbers)

    def features(self) -> SquadFeatures:
        """The arrays of all windows added."""
        count, width = len(self.lengths), self.max_seq_length
        positions = np.arange(width)
        lengths = np.array(self.lengths, np.int32).reshape(count, 1)
        doc_starts = np.array(self.doc_starts, np.int32).reshape(count, 1)
        mask = positions < lengths
        input_ids = np.zeros((count, width), np.int32)
        token_to_word = np.full((count, width), -1, np.int32)
        token_is_max_context = np.zeros((count, width), bool)
        if count:
            input_ids[mask] = np.concatenate(self.ids)
            token_to_word[mask] = np.concatenate(self.words)
            token_is_max_context[mask] = np.concatenate(self.max_context)
        numbers = np.array(self.numbers, np.int32).reshape(count, 4)
        return SquadFeatures(
            input_ids=input_ids, input_mask=mask.astype(np.int32),
            segment_ids=(mask & (positions >= doc_starts)).astype(np.int32),
            start_positions=numbers[:, 2].copy(), end_positions=numbers[:, 3].copy(),
            example_index=numbers[:, 0].copy(), doc_span_index=numbers[:, 1].copy(),
            token_to_word=token_to_word, token_is_max_context=token_is_max_context)
