"""SavedModels for TF Serving that answer a question from a passage (SQuAD).

`export_question_answerer` writes a version folder as `bert_tf.serving.common`
describes (files, loading, XLA) for a `BertSpanExtractor`, with two signatures:

  * `serving_default`: `question` and `context`, tf.string [batch] of raw text. Returns

        answer       tf.string [batch]  the answer cut from `context`; "" for none
        start_char   int32 [batch]      where it starts in `context`; -1 for none
        end_char     int32 [batch]      where it ends (exclusive); -1 for none
        score        float32 [batch]    start + end logit of the best span; -inf if
                                        the context has no span to offer
        null_odds    float32 [batch]    (SQuAD 2.0 models only) null score minus the
                                        best span's score; +inf without a span

    Offsets count Unicode code points, as Python indexes a `str`:
    `context[start_char:end_char] == answer`.
  * `serve_ids`: `input_ids`, `input_mask`, `segment_ids`, int32 [batch, seq] ->
    `start_logits`, `end_logits`, float32 [batch, seq]. Core TensorFlow ops only;
    ids out of range are refused and an input without positions gets empty outputs,
    as for the other exports.

`serving_default` runs Google's `run_squad.py` prediction in the graph, question by
question exactly as `convert_examples_to_features` and `write_predictions` do:

1. The context is split into words on " ", "\\t", "\\r", "\\n" and U+202F only
   (`read_squad_examples`), and each word is WordPiece-tokenized on its own (as
   `FullTokenizer`, `bert_tf.text.graph_tokenization`); a word may give no piece.
   The question's pieces are cut to `max_query_length`.
2. A window holds `max_seq_length - len(question pieces) - 3` passage pieces. Windows
   start at piece 0 and every `min(doc_stride, window size)` pieces after it until one
   reaches the passage's end, which is then just shorter (unlike the NER export's
   `bert_tf.text.windows.window_starts`, which moves the last window back). Each is
   packed `[CLS] question [SEP] window [SEP]` (segments 0, then 1) and padded to
   `max_seq_length`; the windows of the whole batch go through the model in one pass.
   A context without pieces has no window, and no answer.
3. Per window, the `n_best_size` highest start logits and end logits over its real
   positions (ties: the lower position first) pair into candidates; padding positions
   take no slot, as in `run_squad.py` here (`bert_tf.tasks.squad.task`). A candidate is kept if both ends lie in the window's passage, the
   end is not before the start, it spans at most `max_answer_length` pieces, and its
   start piece has its maximum context in this window: of the windows holding a piece
   at offset p of a window [start, end), the one with the highest
   `min(p - start, end - 1 - p) + 0.01 * (end - start)` (the first on a tie).
4. The best candidate of a question has the highest start + end logit (in float64, as
   Python adds them) over all its windows; ties go to the earlier window, then the
   higher-ranked start, then the higher-ranked end (the order of Google's stable sort).
5. SQuAD 2.0 (`version_2_with_negative`): the null score is the least `[CLS]` start +
   end logit over the question's windows; `null_odds` = null score - best start logit -
   best end logit, and the answer is "" when it exceeds `null_score_diff_threshold`.
6. The answer text is Google's `get_final_text`, done literally with string ops: the
   predicted pieces joined by spaces with "##" removed are searched in Google's
   `BasicTokenizer` text of the words the span touches, and the characters found are
   mapped back to the words when both texts have as many non-space characters. So
   "bread" of "breadcrumbs" or "1895" of "(1895)." come out alone, while a span whose
   pieces include `[UNK]`, or whose words change length when normalized (an accent
   written as a separate combining mark, control characters, a word without pieces),
   gives its whole words. As in Google's code the search takes the *first* occurrence
   of the predicted text in the words' text, so the same text earlier in the span's
   first word moves the cut there: predicting the second "salt" of "Salt-salt", an
   uncased model answers "Salt", at offset 0.

The served answers equal the texts of `run_squad.py`'s `predictions.json` and of
Google's (checked against tf-models' copy of his code), except:

  * Google ranks the logits of padding positions too (they mean nothing, but one can
    push a real position out of the top `n_best_size`); here and in `run_squad.py`
    only real positions compete.
  * Between words the answer keeps the context's own whitespace (it is cut from the
    context), where Google joins the words with single spaces: for "New\\tYork" Google
    writes "New York".
  * A question without any valid candidate (an empty context, or every top start
    and end outside the passage) gets "", -1, -1 and score -inf; Google's SQuAD 1.1
    prediction is then the text "empty", and for SQuAD 2.0 his code fails (so does
    tf-models' copy for a context without pieces; otherwise it writes "" with the
    null score as its odds); here `null_odds` is +inf.
  * SQuAD 2.0 with `n_best_size` 1 when the null score beats every span: Google's
    n-best list then holds no span and his code fails (tf-models' answers ""); here
    the best span is still weighed against the threshold, so it is answered when
    `null_odds` does not exceed a positive `null_score_diff_threshold`.

The work grows with the context: a context of n pieces takes about
n / doc_stride windows, each a forward pass over `max_seq_length` positions. So a
context of more than `max_context_chars` characters (default
`DEFAULT_MAX_CONTEXT_CHARS`, 20,000: about 4,500 pieces of English, some 35 windows at
max_seq_length 384 and doc_stride 128, several times SQuAD's longest paragraphs) fails
the request with an InvalidArgumentError that gives the row, its length and the limit,
before any tokenization or model work. The cap counts each row on its own (a server's
batching may merge requests); questions are not capped, only their first
`max_query_length` pieces are used.
"""

import dataclasses
import math
from typing import NamedTuple

import tensorflow as tf
import tensorflow_text as tf_text

from bert_tf.errors import InvalidArgumentError
from bert_tf.modeling import INPUT_NAMES, BertSpanExtractor
from bert_tf.serving import common
from bert_tf.serving.common import SERVE_IDS, SERVING_DEFAULT, Signature
from bert_tf.text import tokenization
from bert_tf.text.graph_tokenization import InGraphTokenizer
from bert_tf.text.packing import (CLS_TOKEN, SEP_TOKEN, check_max_seq_length,
                                  check_query_length)

# The longest context, in characters, `serving_default` takes (see the module docstring).
DEFAULT_MAX_CONTEXT_CHARS = 20_000
ANSWER_OUTPUTS = ("answer", "start_char", "end_char", "score")
NULL_ODDS = "null_odds"
LOGIT_OUTPUTS = ("start_logits", "end_logits")
# What Google's `read_squad_examples` splits a context on (its `is_whitespace`).
_WORD_SEPARATORS = r"[ \t\r\n\x{202F}]+"


@dataclasses.dataclass(frozen=True)
class _Settings:
    """How questions become windows and logits become answers (the export's
    arguments of the same names)."""

    max_seq_length: int
    doc_stride: int
    max_query_length: int
    n_best_size: int
    max_answer_length: int
    version_2_with_negative: bool
    null_score_diff_threshold: float
    max_context_chars: int


class _Windows(NamedTuple):
    """The windows of a batch, question after question; flat over all windows [W]."""

    example: tf.Tensor  # int64, the row of the batch the window belongs to.
    first_piece: tf.Tensor  # int64, its first passage piece, in the batch's flat pieces.
    length: tf.Tensor  # int64, its number of passage pieces.
    offset: tf.Tensor  # int64, the position of its first passage piece (query + 2).
    inputs: dict[str, tf.Tensor]  # int32 [W, max_seq_length] model inputs.


class _Spans(NamedTuple):
    """The best span of each question [batch]."""

    found: tf.Tensor  # bool, whether the question has any valid candidate.
    first_piece: tf.Tensor  # int64, its first piece, in the batch's flat pieces.
    last_piece: tf.Tensor  # int64, its last piece, likewise.
    score: tf.Tensor  # float64, start + end logit.
    null_odds: tf.Tensor  # float64, null score - start logit - end logit.


class _QuestionAnswererModule(common.ServingModule):
    """What a question answerer's SavedModel holds: tokenizer, model variables,
    signatures."""

    def __init__(self, model: BertSpanExtractor, tokenizer: InGraphTokenizer | None,
                 vocab_file: str, vocab: dict[str, int], settings: _Settings,
                 jit_compile: bool):
        def forward(inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
            outputs = model(inputs, training=False)
            return {name: outputs[name] for name in LOGIT_OUTPUTS}

        super().__init__("bert_question_answerer_serving", model, vocab_file, forward,
                         common.ids_specs(), jit_compile)
        self._settings = settings
        self._vocab_sizes = (model.config.vocab_size, model.config.type_vocab_size)
        self.serve_ids = tf.function(self._serve_ids, input_signature=list(
            common.ids_specs().values()))
        if tokenizer is not None:
            self.tokenizer = tokenizer
            self._cls_id, self._sep_id = vocab[CLS_TOKEN], vocab[SEP_TOKEN]
            # The token of every id (an id is its line in the file), to spell pieces.
            tokens = [""] * (max(vocab.values()) + 1)
            for token, index in vocab.items():
                tokens[index] = token
            self._tokens = tuple(tokens)
            self.serve_text = tf.function(self._serve_text, input_signature=[
                tf.TensorSpec([None], tf.string, name="question"),
                tf.TensorSpec([None], tf.string, name="context")])

    # ------------------------------------------------------------------ serve_ids

    def _serve_ids(self, input_ids, input_mask, segment_ids):
        inputs = common.checked_ids({"input_ids": input_ids, "input_mask": input_mask,
                                     "segment_ids": segment_ids}, *self._vocab_sizes)
        shape = tf.shape(inputs["input_ids"])

        def empty() -> dict[str, tf.Tensor]:
            return {name: tf.zeros(shape, tf.float32) for name in LOGIT_OUTPUTS}

        # Without positions ([0, seq], [batch, 0]) the model need not run.
        outputs = tf.cond(tf.size(inputs["input_ids"]) > 0,
                          lambda: self._forward(inputs), empty)
        return {name: tf.ensure_shape(outputs[name], [None, None]) for name in LOGIT_OUTPUTS}

    # ------------------------------------------------------------ serving_default

    def _serve_text(self, question, context):
        settings = self._settings
        question, context = self._checked_texts(question, context)
        batch = tf.shape(context, out_type=tf.int64)[0]
        words, word_begin, word_chars = _context_words(context)
        # Each word tokenized on its own: [words, (pieces)], then [batch, (pieces)].
        pieces = self.tokenizer.tokenize(words.flat_values).with_row_splits_dtype(tf.int64)
        document = words.with_flat_values(pieces).merge_dims(1, 2)
        piece_word = pieces.value_rowids()  # The word of each piece (flat indices).
        query = self.tokenizer.tokenize(question).with_row_splits_dtype(tf.int64)
        query = query[:, :settings.max_query_length]
        windows = self._windows(query, document)

        def answers() -> dict[str, tf.Tensor]:
            logits = self._forward(windows.inputs)
            real = windows.inputs["input_mask"] > 0
            # Padding positions take no top-n slot (see step 3).
            start_logits, end_logits = (
                tf.where(real, tf.ensure_shape(logits[name],
                                               [None, settings.max_seq_length]), -math.inf)
                for name in LOGIT_OUTPUTS)
            max_context = _max_context(windows, tf.size(document.flat_values,
                                                        out_type=tf.int64),
                                       settings.max_seq_length)
            spans = _best_spans(start_logits, end_logits, windows, max_context, settings,
                                batch)
            return self._answers(context, spans, document, piece_word, words,
                                 word_begin, word_chars)

        def no_answers() -> dict[str, tf.Tensor]:
            outputs = {"answer": tf.fill([batch], ""),
                       "start_char": tf.fill([batch], -1),
                       "end_char": tf.fill([batch], -1),
                       "score": tf.fill([batch], -math.inf)}
            if settings.version_2_with_negative:
                outputs[NULL_ODDS] = tf.fill([batch], math.inf)
            return outputs

        # Without windows (an empty batch, empty contexts) the model need not run.
        return tf.cond(tf.size(windows.example) > 0, answers, no_answers)

    def _checked_texts(self, question: tf.Tensor, context: tf.Tensor,
                       ) -> tuple[tf.Tensor, tf.Tensor]:
        """`question` and `context`, usable only once they have as many rows and no
        context is longer than `max_context_chars`: the tokenization and the model,
        whose work grows with the context, wait for the checks."""
        rows = [tf.shape(question)[0], tf.shape(context)[0]]
        same_rows = common.fail_unless(tf.equal(*rows), lambda: tf.strings.format(
            "question and context must have as many rows; got {} questions and {} "
            "contexts.", rows))
        lengths = tf.concat([tf.strings.length(context, unit="UTF8_CHAR"), [0]], axis=0)
        row = tf.argmax(lengths)  # The extra 0: an empty batch passes.
        limit = self._settings.max_context_chars
        within_cap = common.fail_unless(lengths[row] <= limit, lambda: tf.strings.format(
            f"Row {{}} of the batch has a context of {{}} characters, more than the "
            f"{limit} characters this model takes (max_context_chars); split long "
            "passages into shorter ones.", [row, lengths[row]]))
        with tf.control_dependencies([same_rows, within_cap]):
            return tf.identity(question), tf.identity(context)

    def _windows(self, query: tf.RaggedTensor, document: tf.RaggedTensor) -> _Windows:
        """The windows of each question over its passage's pieces, as Google's
        `convert_examples_to_features` makes them (step 2 of the module docstring).

        Args:
          query: int [batch, (pieces)], the question's pieces, already truncated.
          document: int [batch, (pieces)], the passage's pieces.
        """
        settings = self._settings
        doc_length = document.row_lengths()
        query_length = query.row_lengths()
        size = settings.max_seq_length - 3 - query_length  # Google's max_tokens_for_doc.
        # Google advances by min(length, doc_stride), and every window but the last is
        # `size` long.
        stride = tf.minimum(size, settings.doc_stride)
        # The first window k with k * stride + size >= doc_length is the last one.
        count = tf.where(doc_length > 0,
                         1 + tf.maximum((doc_length - size + stride - 1) // stride, 0),
                         tf.zeros_like(doc_length))
        index = tf.ragged.range(count)  # [batch, (windows)]
        example = index.value_rowids()
        start = index.flat_values * tf.gather(stride, example)
        length = tf.minimum(tf.gather(size, example), tf.gather(doc_length, example) - start)
        first = start + tf.gather(document.row_starts(), example)
        passage = tf.gather(document.flat_values, tf.ragged.range(first, first + length))
        inputs = common.pack_segments([tf.gather(query, example), passage], self._cls_id,
                                      self._sep_id, settings.max_seq_length)
        return _Windows(example, first, length, tf.gather(query_length, example) + 2,
                        inputs)

    def _answers(self, context: tf.Tensor, spans: _Spans, document: tf.RaggedTensor,
                 piece_word: tf.Tensor, words: tf.RaggedTensor, word_begin: tf.Tensor,
                 word_chars: tf.Tensor) -> dict[str, tf.Tensor]:
        """The outputs of `serving_default` for the best spans (step 6 of the module
        docstring: Google's `get_final_text`, literally).

        Args:
          context: tf.string [batch].
          spans: the best span of each question.
          document: int32 [batch, (pieces)], the passages' pieces.
          piece_word: int64 [pieces], the word of each piece (flat indices).
          words: tf.string [batch, (words)], the contexts' words.
          word_begin, word_chars: int64 [words], where each word starts in its
            context and how long it is, in characters.
        """
        settings = self._settings
        first_word = tf.gather(piece_word, spans.first_piece)
        last_word = tf.gather(piece_word, spans.last_piece)
        # Questions without a span get empty ranges.
        span_words = tf.ragged.range(first_word, tf.where(spans.found, last_word + 1,
                                                          first_word))
        span_pieces = tf.ragged.range(spans.first_piece, tf.where(
            spans.found, spans.last_piece + 1, spans.first_piece))
        # Google's orig_text: the span's words joined by spaces; tok_text: its
        # BasicTokenizer tokens joined by spaces; pred_text: the predicted pieces.
        original = tf.strings.reduce_join(tf.gather(words.flat_values, span_words),
                                          axis=1, separator=" ")
        normalized = tf.strings.reduce_join(self.tokenizer.split_words(original), axis=1,
                                            separator=" ")
        tokens = tf.gather(tf.constant(self._tokens),
                           tf.gather(document.flat_values, span_pieces))
        predicted = tf.strings.reduce_join(tokens, axis=1, separator=" ")
        predicted = tf.strings.regex_replace(predicted, " ##", "")
        predicted = tf.strings.regex_replace(predicted, "##", "")
        # (Pieces hold no whitespace: Google's strip and re-split change nothing.)
        position = _find(normalized, tf.where(spans.found, predicted, " "))
        ns_start = _non_space_length(tf.strings.substr(
            normalized, tf.zeros_like(position), tf.maximum(position, 0)))
        ns_end = ns_start + _non_space_length(predicted) - 1
        aligned = (position >= 0) & tf.equal(_non_space_length(original),
                                             _non_space_length(normalized))
        # The k-th non-space character of orig_text, as a character of the context:
        # words hold no spaces, so it lies in the word where the lengths reach k.
        # [batch, span words + 1]: a column more, so that it is never empty.
        lengths = tf.pad(tf.gather(word_chars, span_words).to_tensor(0), [[0, 0], [0, 1]])
        before = tf.cumsum(lengths, axis=1, exclusive=True)
        in_span = tf.sequence_mask(span_words.row_lengths(), tf.shape(lengths)[1])

        def to_context(k: tf.Tensor) -> tf.Tensor:
            reached = tf.cast(in_span & (before <= k[:, tf.newaxis]), tf.int64)
            index = tf.maximum(tf.reduce_sum(reached, axis=1) - 1, 0)
            return (tf.gather(word_begin, first_word + index) + k
                    - tf.gather(before, index, batch_dims=1))

        start_char = tf.where(aligned, to_context(ns_start), tf.gather(word_begin, first_word))
        end_char = tf.where(aligned, to_context(ns_end) + 1,
                            tf.gather(word_begin, last_word) + tf.gather(word_chars, last_word))
        answered = spans.found
        if settings.version_2_with_negative:
            answered &= ~(spans.null_odds > settings.null_score_diff_threshold)
        start_char = tf.where(answered, start_char, -1)
        end_char = tf.where(answered, end_char, -1)
        answer = tf.strings.substr(context, tf.maximum(start_char, 0),
                                   tf.maximum(end_char - start_char, 0), unit="UTF8_CHAR")
        outputs = {"answer": tf.where(answered, answer, ""),
                   "start_char": tf.cast(start_char, tf.int32),
                   "end_char": tf.cast(end_char, tf.int32),
                   "score": tf.where(spans.found, tf.cast(spans.score, tf.float32),
                                     -math.inf)}
        if settings.version_2_with_negative:
            outputs[NULL_ODDS] = tf.where(spans.found, tf.cast(spans.null_odds, tf.float32),
                                          math.inf)
        return outputs


def _context_words(context: tf.Tensor) -> tuple[tf.RaggedTensor, tf.Tensor, tf.Tensor]:
    """Google's `doc_tokens` of each context: its words, split on " ", "\\t", "\\r",
    "\\n" and U+202F.

    Args:
      context: tf.string [batch].

    Returns:
      The words, tf.string [batch, (words)], and for each word (flat, int64 [words])
      where it starts in its context and how long it is, in characters.
    """
    # Words and the runs of whitespace between them, in order.
    parts, _, _ = tf_text.regex_split_with_offsets(
        context, _WORD_SEPARATORS, keep_delim_regex_pattern=_WORD_SEPARATORS)
    parts = parts.with_row_splits_dtype(tf.int64)
    chars = tf.cast(tf.strings.length(parts.flat_values, unit="UTF8_CHAR"), tf.int64)
    before = tf.cumsum(chars, exclusive=True)
    begin = before - tf.gather(before, tf.gather(parts.row_starts(), parts.value_rowids()))
    is_word = ~tf.strings.regex_full_match(parts.flat_values, _WORD_SEPARATORS)
    words = tf.ragged.boolean_mask(parts, parts.with_flat_values(is_word))
    return words, tf.boolean_mask(begin, is_word), tf.boolean_mask(chars, is_word)


def _max_context(windows: _Windows, num_pieces: tf.Tensor, width: int) -> tf.Tensor:
    """bool [windows, width]: whether the passage piece at each offset of a window has
    its maximum context there (Google's `_check_is_max_context`, in float64 as Python
    computes the score); False past the window's passage.

    Args:
      windows: the batch's windows.
      num_pieces: int64 scalar, the batch's passage pieces.
      width: the offsets to cover (at least the longest window).
    """
    offsets = tf.ragged.range(windows.length)  # [windows, (offsets)]
    window = offsets.value_rowids()
    offset = offsets.flat_values
    length = tf.gather(windows.length, window)
    score = (tf.cast(tf.minimum(offset, length - 1 - offset), tf.float64)
             + 0.01 * tf.cast(length, tf.float64))
    piece = tf.gather(windows.first_piece, window) + offset
    best = tf.math.unsorted_segment_max(score, piece, num_pieces)
    tied = tf.equal(score, tf.gather(best, piece))
    first = tf.math.unsorted_segment_min(
        tf.where(tied, window, tf.size(windows.length, out_type=tf.int64)), piece, num_pieces)
    is_max = tied & tf.equal(window, tf.gather(first, piece))
    return offsets.with_flat_values(is_max).to_tensor(False, shape=[None, width])


def _best_spans(start_logits: tf.Tensor, end_logits: tf.Tensor, windows: _Windows,
                max_context: tf.Tensor, settings: _Settings, batch: tf.Tensor) -> _Spans:
    """The best span of each question (steps 3 to 5 of the module docstring).

    Args:
      start_logits, end_logits: float32 [windows, max_seq_length].
      windows: the batch's windows.
      max_context: bool [windows, max_seq_length], from `_max_context`.
      settings: the export's settings.
      batch: int64 scalar, the number of questions.
    """
    k = min(settings.n_best_size, settings.max_seq_length)
    # Sorted, the lower position first on a tie, as Google's stable sort.
    start_values, start_index = tf.math.top_k(start_logits, k)  # [W, k]
    end_values, end_index = tf.math.top_k(end_logits, k)
    start_index = tf.cast(start_index, tf.int64)[:, :, tf.newaxis]  # [W, k, 1]
    end_index = tf.cast(end_index, tf.int64)[:, tf.newaxis, :]  # [W, 1, k]
    offset = windows.offset[:, tf.newaxis, tf.newaxis]
    length = windows.length[:, tf.newaxis, tf.newaxis]
    start_offset, end_offset = start_index - offset, end_index - offset

    def in_passage(offsets: tf.Tensor) -> tf.Tensor:
        return (offsets >= 0) & (offsets < length)

    start_is_max = tf.gather(max_context, tf.clip_by_value(
        start_offset, 0, settings.max_seq_length - 1), batch_dims=1)
    valid = (in_passage(start_offset) & in_passage(end_offset) & start_is_max
             & (end_index >= start_index)
             & (end_index - start_index < settings.max_answer_length))  # [W, k, k]
    score = (tf.cast(start_values, tf.float64)[:, :, tf.newaxis]
             + tf.cast(end_values, tf.float64)[:, tf.newaxis, :])
    # Window after window, start rank, then end rank: the order of Google's candidates.
    valid, score = tf.reshape(valid, [-1]), tf.reshape(score, [-1])
    example = tf.repeat(windows.example, k * k)
    found = tf.math.unsorted_segment_max(tf.cast(valid, tf.int32), example, batch) > 0
    best_score = tf.math.unsorted_segment_max(tf.where(valid, score, -math.inf), example,
                                              batch)
    is_best = valid & tf.equal(score, tf.gather(best_score, example))
    candidate = tf.range(tf.size(score, out_type=tf.int64))
    best = tf.math.unsorted_segment_min(tf.where(is_best, candidate, tf.size(
        score, out_type=tf.int64)), example, batch)
    best = tf.where(found, best, 0)  # Any candidate, for a question without one.
    window, rank = best // (k * k), best % (k * k)
    start_rank, end_rank = rank // k, rank % k
    first_piece = tf.gather(windows.first_piece, window)
    start = tf.gather_nd(start_index[:, :, 0], tf.stack([window, start_rank], axis=1))
    end = tf.gather_nd(end_index[:, 0, :], tf.stack([window, end_rank], axis=1))
    offset = tf.gather(windows.offset, window)
    start_logit = tf.cast(tf.gather_nd(start_values, tf.stack([window, start_rank], 1)),
                          tf.float64)
    end_logit = tf.cast(tf.gather_nd(end_values, tf.stack([window, end_rank], 1)),
                        tf.float64)
    # SQuAD 2.0: the least [CLS] score of the question's windows.
    null = tf.cast(start_logits[:, 0], tf.float64) + tf.cast(end_logits[:, 0], tf.float64)
    null_score = tf.math.unsorted_segment_min(null, windows.example, batch)
    # Piece 0 (of some question) stands in for the span of a question without one.
    return _Spans(found, tf.where(found, first_piece + start - offset, 0),
                  tf.where(found, first_piece + end - offset, 0),
                  start_logit + end_logit, null_score - start_logit - end_logit)


def _find(text: tf.Tensor, pattern: tf.Tensor) -> tf.Tensor:
    """int64 [batch]: the byte offset of the first occurrence of each non-empty
    `pattern` in its `text` (Python's `str.find`, in bytes), -1 where there is none."""

    def find(pair: tuple[tf.Tensor, tf.Tensor]) -> tf.Tensor:
        parts = tf.strings.split(pair[0], sep=pair[1], maxsplit=1)
        return tf.where(tf.size(parts) == 2, tf.cast(tf.strings.length(parts[0]), tf.int64),
                        tf.constant(-1, tf.int64))

    return tf.map_fn(find, (text, pattern), fn_output_signature=tf.int64)


def _non_space_length(text: tf.Tensor) -> tf.Tensor:
    """int64: the characters of `text` other than " " (Google's `_strip_spaces`)."""
    return tf.cast(tf.strings.length(tf.strings.regex_replace(text, " ", ""),
                                     unit="UTF8_CHAR"), tf.int64)


def export_question_answerer(model: BertSpanExtractor, export_dir: str, *, vocab_file: str,
                             do_lower_case: bool, max_seq_length: int, doc_stride: int = 128,
                             max_query_length: int = 64, n_best_size: int = 20,
                             max_answer_length: int = 30,
                             version_2_with_negative: bool = False,
                             null_score_diff_threshold: float = 0.0,
                             jit_compile: bool = False, text_signature: bool = True,
                             max_context_chars: int = DEFAULT_MAX_CONTEXT_CHARS) -> str:
    """Writes a SavedModel of an extractive question answerer (SQuAD) for TF Serving.

    Version folders, files, loading and `text_signature` are as for
    `export_classifier`; the signatures, outputs and the prediction are in the module
    docstring. The defaults are those of Google's `run_squad.py`.

    Args:
      model: the fine-tuned `BertSpanExtractor`.
      export_dir: the model's base directory, as TF Serving's `--model_base_path`.
      vocab_file: the WordPiece `vocab.txt` the model was trained with.
      do_lower_case: the casing the model was trained with (baked into the graph).
      max_seq_length: the length of a window, `[CLS]`, question, two `[SEP]` and
        passage pieces; more than `max_query_length + 3`.
      doc_stride: how many passage pieces apart windows start, at least 1 (a window
        never starts past the previous one's end).
      max_query_length: the most question pieces kept, at least 1.
      n_best_size: how many of a window's best starts and best ends pair into
        candidates, at least 1.
      max_answer_length: the most pieces an answer spans, at least 1.
      version_2_with_negative: the model was trained on SQuAD 2.0 (may answer ""):
        adds the `null_odds` output and the null rule.
      null_score_diff_threshold: SQuAD 2.0: answer "" when `null_odds` exceeds it.
      jit_compile: compile the model's forward pass with XLA; see `export_classifier`.
      text_signature: include `serving_default` (it needs tensorflow_text's ops);
        False writes `serve_ids` alone.
      max_context_chars: the most characters a context may hold; a longer one fails
        the request with an InvalidArgumentError saying so before any tokenization or
        model work. Kept in `export_info.json` (None there without `serving_default`).

    Returns:
      The path of the new version folder.

    Raises:
      ExportError: for a vocabulary that does not fit the model or an unusable
        `export_dir`.
      bert_tf.errors.InvalidArgumentError: naming the first argument out of its range.
      bert_tf.tokenization.VocabError: for a bad vocabulary file.
      TypeError: if `model` is not a `BertSpanExtractor`.
    """
    if not isinstance(model, BertSpanExtractor):
        raise TypeError(f"export_question_answerer needs a bert_tf BertSpanExtractor, got "
                        f"{type(model).__name__}.")
    check_max_seq_length(max_seq_length, model.config.max_position_embeddings)
    for name, value in (("max_query_length", max_query_length), ("doc_stride", doc_stride),
                        ("n_best_size", n_best_size),
                        ("max_answer_length", max_answer_length),
                        ("max_context_chars", max_context_chars)):
        _check_positive(name, value)
    check_query_length(max_seq_length, max_query_length)
    if (isinstance(null_score_diff_threshold, bool)
            or not isinstance(null_score_diff_threshold, (int, float))
            or not math.isfinite(null_score_diff_threshold)):
        raise InvalidArgumentError("null_score_diff_threshold", null_score_diff_threshold,
                                   "must be a finite number.")
    vocab = tokenization.load_vocab(vocab_file)
    common.special_ids(vocab, vocab_file, model.config.vocab_size)

    settings = _Settings(max_seq_length, doc_stride, max_query_length, n_best_size,
                         max_answer_length, bool(version_2_with_negative),
                         float(null_score_diff_threshold), max_context_chars)
    tokenizer = InGraphTokenizer(vocab_file, do_lower_case) if text_signature else None
    module = _QuestionAnswererModule(model, tokenizer, vocab_file, vocab, settings,
                                     jit_compile)
    signatures = {SERVE_IDS: Signature(module.serve_ids, INPUT_NAMES, LOGIT_OUTPUTS)}
    if text_signature:
        outputs = [*ANSWER_OUTPUTS, *([NULL_ODDS] if version_2_with_negative else [])]
        signatures[SERVING_DEFAULT] = Signature(module.serve_text, ["question", "context"],
                                                outputs)
    info = {
        "task": "question_answering",
        "do_lower_case": do_lower_case,
        "max_seq_length": max_seq_length,
        "doc_stride": doc_stride,
        "max_query_length": max_query_length,
        "n_best_size": n_best_size,
        "max_answer_length": max_answer_length,
        "version_2_with_negative": settings.version_2_with_negative,
        "null_score_diff_threshold": settings.null_score_diff_threshold,
        "max_context_chars": max_context_chars if text_signature else None,
        "jit_compile": jit_compile,
        "text_padding": common.text_padding(True),
    }
    return common.export_version(export_dir, module, signatures, model, vocab_file, info)


def _check_positive(name: str, value: int) -> None:
    """Raises InvalidArgumentError naming `name` unless `value` is an int >= 1."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidArgumentError(name, value, "must be at least 1.")
