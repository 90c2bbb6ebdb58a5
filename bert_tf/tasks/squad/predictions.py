"""Answers from the start and end logits of the windows, as Google's `run_squad.py`
(`write_predictions`, `get_final_text`), and the files it writes.

For each question, over all windows of its passage:

  1. The `n_best_size` highest start logits and the `n_best_size` highest end logits
     of a window (ties to the lower position) pair up into candidate spans. A span is
     kept only if both ends are passage tokens of the window, the window gives its
     start token the most context of all windows (so a span is proposed by one window
     only), it does not end before it starts, and it is at most `max_answer_length`
     WordPieces long.
  2. SQuAD 2.0: the null answer (start = end = `[CLS]`, position 0) joins them, with
     the *lowest* `start[0] + end[0]` over the windows: no answer is only as likely as
     the window most sure that there is one says.
  3. Candidates are ranked by start + end logit (stable: on a tie the one proposed
     first stays first; the null answer comes after the spans it ties with). Walking
     down the ranking, a span's text is its WordPieces joined (`##` undone), mapped
     back onto the passage's words by `get_final_text`; a text already taken is
     skipped, until `n_best_size` texts are in the n-best list. SQuAD 2.0 puts the
     empty answer in if it did not make it; if nothing did, the list is the nonce
     answer "empty". Probabilities are the softmax of the n-best's logit sums.
  4. SQuAD 1.1 predicts the n-best's first text. SQuAD 2.0 computes the null odds

         score_diff = null score - start logit - end logit of the best non-empty answer

     and predicts "" if `score_diff > null_score_diff_threshold`, else that answer.

Speed, with the same results: step 1 runs on all windows at once with NumPy
(`[N, n_best_size, n_best_size]` pairs), proposing the candidates in the order of
Google's nested loops; `get_final_text`'s basic tokenization runs once per distinct
passage word rather than once per candidate (`benchmarks/squad_postprocessing.py`).
"""

import dataclasses
import math
import os
from collections.abc import Sequence

import numpy as np
from absl import logging

from bert_tf import io
from bert_tf.tasks.squad import squad_json
from bert_tf.tasks.squad.features import SquadFeatures
from bert_tf.text import tokenization

PREDICTIONS_FILE = "predictions.json"
NBEST_FILE = "nbest_predictions.json"
NULL_ODDS_FILE = "null_odds.json"

# The null odds of a SQuAD 2.0 question whose n-best list holds no non-empty answer
# (Google's script crashes there). See `compute_predictions`.
NO_SPAN_NULL_ODDS = 1e6

# The text of the n-best list when no candidate survives (SQuAD 1.1), as Google's.
NONCE_TEXT = "empty"


@dataclasses.dataclass(frozen=True)
class SquadPredictions:
    """What Google's `write_predictions` writes, in question (example) order.

    Attributes:
      predictions: qas_id -> the predicted answer text ("" for no answer).
      nbest: qas_id -> the n-best list, best first: dicts with the keys "text",
        "probability", "start_logit", "end_logit" (in that order; Python floats).
      null_odds: SQuAD 2.0: qas_id -> score_diff (the null score minus the best
        non-empty answer's score); None for SQuAD 1.1.
    """
    predictions: dict[str, str]
    nbest: dict[str, list[dict]]
    null_odds: dict[str, float] | None


@dataclasses.dataclass(frozen=True)
class _Candidates:
    """The candidate spans of all windows, grouped by question and ranked within it.

    Attributes:
      offsets: int [E + 1]: question e's candidates are rows offsets[e]:offsets[e+1].
      feature, start, end: int [M]: the window and its start and end positions.
      start_logit, end_logit, score: float64 [M]: the logits and their sum.
    """
    offsets: np.ndarray
    feature: np.ndarray
    start: np.ndarray
    end: np.ndarray
    start_logit: np.ndarray
    end_logit: np.ndarray
    score: np.ndarray


def compute_predictions(squad_file: squad_json.SquadFile, features: SquadFeatures,
                        start_logits: np.ndarray,
                        end_logits: np.ndarray, *, id_to_token: Sequence[str],
                        n_best_size: int, max_answer_length: int, do_lower_case: bool,
                        version_2_with_negative: bool, null_score_diff_threshold: float,
                        verbose_logging: bool = False) -> SquadPredictions:
    """The answers, n-best lists and (SQuAD 2.0) null odds of Google's
    `write_predictions`, with one difference: a SQuAD 2.0 question whose n-best list
    holds no non-empty answer (none survived the filters, or `n_best_size=1` and the
    empty answer ranked first) crashes Google's script. Here it is predicted "" and
    gets the null odds `NO_SPAN_NULL_ODDS` = 1e6, a finite stand-in for "null score
    minus the score of no span" (+inf, which JSON cannot hold): any threshold then
    predicts "" for it, as was done, and in the official evaluation's threshold
    search (`find_best_thresh`, questions sorted by null odds) it sorts last and
    never sets the best threshold, since its prediction "" changes no score there.
    Real score differences are logit differences, far below 1e6. (tf-models writes
    the null score itself, which can sort the question among the answerable ones.)

    Args:
      squad_file: the file the windows were made from.
      features: its windows (N windows of S positions).
      start_logits, end_logits: float32 [N, L], L <= S: the model's logits for the
        windows, in the same order. Positions from L on do not exist (dynamically
        padded batches), so they must hold no passage token.
      id_to_token: the vocabulary, id -> WordPiece.
      n_best_size: how many start and end positions pair up per window, and how many
        answers the n-best list keeps.
      max_answer_length: the most WordPieces of an answer.
      do_lower_case: whether the model's tokenizer lower-cases (for `get_final_text`).
      version_2_with_negative: SQuAD 2.0: questions may have no answer.
      null_score_diff_threshold: SQuAD 2.0: predict "" if the null odds exceed it.
      verbose_logging: log why `get_final_text` falls back to the whole words.

    Returns:
      the `SquadPredictions`, one entry per example of `squad_file`.

    Raises:
      ValueError: if the logits do not match the windows, or a window names an
        example `squad_file` does not have.
    """
    examples = squad_file.examples
    start_logits, end_logits = _check_inputs(features, start_logits, end_logits,
                                             len(examples), n_best_size)
    length = start_logits.shape[1]
    token_to_word = np.asarray(features.token_to_word)[:, :length]
    candidates = _candidates(
        np.asarray(features.example_index), len(examples), token_to_word,
        np.asarray(features.token_is_max_context)[:, :length], start_logits, end_logits,
        n_best_size, max_answer_length)
    span_text = _SpanText(candidates, np.asarray(features.input_ids), token_to_word,
                          id_to_token, do_lower_case, verbose_logging)
    null = _null_answers(features, start_logits, end_logits, len(examples))

    all_predictions, all_nbest = {}, {}
    all_null_odds = {} if version_2_with_negative else None
    for index, example in enumerate(examples):
        nbest = _nbest(candidates, index, squad_file.contexts[example.context_index].words,
                       span_text, version_2_with_negative, null[index], n_best_size)
        probabilities = _softmax([start + end for _, start, end in nbest])
        all_nbest[example.qas_id] = [
            {"text": text, "probability": probability, "start_logit": start,
             "end_logit": end}
            for (text, start, end), probability in zip(nbest, probabilities)]
        if not version_2_with_negative:
            all_predictions[example.qas_id] = nbest[0][0]
            continue
        best = next((entry for entry in nbest if entry[0]), None)
        if best is None:
            all_null_odds[example.qas_id] = NO_SPAN_NULL_ODDS
            all_predictions[example.qas_id] = ""
            continue
        null_start, null_end = null[index]
        score_diff = null_start + null_end - best[1] - best[2]
        all_null_odds[example.qas_id] = score_diff
        all_predictions[example.qas_id] = (
            "" if score_diff > null_score_diff_threshold else best[0])
    return SquadPredictions(all_predictions, all_nbest, all_null_odds)


def _check_inputs(features: SquadFeatures, start_logits: np.ndarray, end_logits: np.ndarray,
                  num_examples: int, n_best_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The logits as float32 arrays, after checking them against the windows."""
    start_logits = np.asarray(start_logits, np.float32)
    end_logits = np.asarray(end_logits, np.float32)
    count, seq_length = np.shape(features.token_to_word)
    if (start_logits.ndim != 2 or start_logits.shape != end_logits.shape
            or start_logits.shape[0] != count or start_logits.shape[1] > seq_length):
        raise ValueError(
            f"the logits (start {start_logits.shape}, end {end_logits.shape}) must both "
            f"be [{count}, L] with L <= {seq_length}: one row per window, at most "
            f"max_seq_length positions")
    if (np.asarray(features.token_to_word)[:, start_logits.shape[1]:] >= 0).any():
        raise ValueError(
            f"the logits have {start_logits.shape[1]} positions, but some windows hold "
            f"passage tokens beyond: pad the batches to their longest window")
    example_index = np.asarray(features.example_index)
    if count and (example_index.min() < 0 or example_index.max() >= num_examples):
        raise ValueError(f"the windows name examples outside the file's "
                         f"{num_examples}: were they made from another file?")
    if n_best_size < 1:
        raise ValueError(f"n_best_size={n_best_size} must be at least 1")
    return start_logits, end_logits


def _top_positions(logits: np.ndarray, n_best_size: int) -> np.ndarray:
    """int [N, min(n_best_size, L)]: each row's positions of the highest logits,
    highest first, ties to the lower position (Google's `_get_best_indexes`, a
    stable sort by descending logit)."""
    return np.argsort(-logits, axis=1, kind="stable")[:, :n_best_size]


def _candidates(example_index: np.ndarray, num_examples: int, token_to_word: np.ndarray,
                token_is_max_context: np.ndarray, start_logits: np.ndarray,
                end_logits: np.ndarray, n_best_size: int,
                max_answer_length: int) -> _Candidates:
    """The spans that pass Google's filters, grouped by question (its windows in
    order) and ranked by descending score; on a tie, in the order Google's loops
    propose them: window, then start rank, then end rank."""
    rows = np.arange(len(token_to_word))[:, None]
    starts = _top_positions(start_logits, n_best_size)  # [N, K]
    ends = _top_positions(end_logits, n_best_size)  # [N, K]
    start_ok = (token_to_word[rows, starts] >= 0) & token_is_max_context[rows, starts]
    end_ok = token_to_word[rows, ends] >= 0
    span_length = ends[:, None, :] - starts[:, :, None] + 1  # [N, K, K]
    valid = (start_ok[:, :, None] & end_ok[:, None, :] & (span_length >= 1)
             & (span_length <= max_answer_length))
    # np.nonzero walks the mask in row-major order: window, start rank, end rank.
    feature, start_rank, end_rank = np.nonzero(valid)
    start = starts[feature, start_rank]
    end = ends[feature, end_rank]
    # Google's logits are Python floats (float64) of the float32 outputs.
    start_logit = start_logits[feature, start].astype(np.float64)
    end_logit = end_logits[feature, end].astype(np.float64)
    score = start_logit + end_logit
    example = example_index[feature]
    order = np.lexsort((np.arange(len(feature)), -score, example))
    offsets = np.zeros(num_examples + 1, np.int64)
    np.cumsum(np.bincount(example, minlength=num_examples), out=offsets[1:])
    return _Candidates(offsets, feature[order], start[order], end[order],
                       start_logit[order], end_logit[order], score[order])


def _null_answers(features: SquadFeatures, start_logits: np.ndarray, end_logits: np.ndarray,
                  num_examples: int) -> list[tuple[float, float] | None]:
    """Per question, the (start, end) logits of `[CLS]` in the window where their sum
    is lowest (the first such window), or None for a question without windows."""
    null_scores = (start_logits[:, 0].astype(np.float64)
                   + end_logits[:, 0].astype(np.float64))
    result: list[tuple[float, float] | None] = [None] * num_examples
    lowest = [math.inf] * num_examples
    for feature, (example, score) in enumerate(
            zip(np.asarray(features.example_index).tolist(), null_scores.tolist())):
        if score < lowest[example]:
            lowest[example] = score
            result[example] = (float(start_logits[feature, 0]),
                               float(end_logits[feature, 0]))
    return result


class _SpanText:
    """The answer text of a candidate span: the body of Google's n-best loop.

    `get_final_text` basic-tokenizes the span's words joined by spaces. The basic
    tokenizer ends a token at every space before anything else, and each character's
    treatment depends on that character alone, so the joined words tokenize to each
    word's tokens in turn: those are computed once per distinct word.
    """

    def __init__(self, candidates: _Candidates, input_ids: np.ndarray,
                 token_to_word: np.ndarray, id_to_token: Sequence[str],
                 do_lower_case: bool, verbose_logging: bool):
        self.candidates = candidates
        self.input_ids = input_ids
        self.token_to_word = token_to_word
        self.id_to_token = id_to_token
        self.tokenizer = tokenization.BasicTokenizer(do_lower_case=do_lower_case)
        self.verbose_logging = verbose_logging
        self.word_tokens: dict[str, str] = {}

    def __call__(self, row: int, words: Sequence[str]) -> str:
        """The text of candidate `row`, whose passage has the words `words`."""
        feature = self.candidates.feature[row]
        start, end = self.candidates.start[row], self.candidates.end[row]
        pieces = " ".join(self.id_to_token[token_id]
                          for token_id in self.input_ids[feature, start:end + 1].tolist())
        # WordPieces joined, "##" undone, whitespace collapsed.
        pred_text = " ".join(pieces.replace(" ##", "").replace("##", "").split())
        span_words = words[self.token_to_word[feature, start]:
                           self.token_to_word[feature, end] + 1]
        tok_text = " ".join(filter(None, map(self._tokens, span_words)))
        return _final_text(pred_text, " ".join(span_words), tok_text,
                           self.verbose_logging)

    def _tokens(self, word: str) -> str:
        """The basic tokens of `word` joined by spaces ("" for none)."""
        tokens = self.word_tokens.get(word)
        if tokens is None:
            tokens = self.word_tokens[word] = " ".join(self.tokenizer.tokenize(word))
        return tokens


def _nbest(candidates: _Candidates, example: int, words: Sequence[str],
           span_text: _SpanText, version_2_with_negative: bool,
           null: tuple[float, float] | None,
           n_best_size: int) -> list[tuple[str, float, float]]:
    """The n-best list of one question as (text, start logit, end logit): Google's
    walk down the ranked candidates. SQuAD 2.0: the null answer `null` is ranked
    after the spans that score at least as high (None: the question has no window,
    and the empty answer is added with logits 0)."""
    begin, stop = candidates.offsets[example], candidates.offsets[example + 1]
    pending = version_2_with_negative and null is not None
    null_score = null[0] + null[1] if pending else None
    nbest, seen = [], set()
    for row in range(begin, stop):
        if pending and null_score > candidates.score[row]:
            if len(nbest) >= n_best_size:
                break
            # Google's null answer is not checked against the texts seen.
            nbest.append(("", *null))
            seen.add("")
            pending = False
        if len(nbest) >= n_best_size:
            break
        text = span_text(row, words)
        if text in seen:
            continue
        seen.add(text)
        nbest.append((text, float(candidates.start_logit[row]),
                      float(candidates.end_logit[row])))
    if pending and len(nbest) < n_best_size:
        nbest.append(("", *null))
        seen.add("")
    if version_2_with_negative and "" not in seen:
        nbest.append(("", *(null or (0.0, 0.0))))
    if not nbest:
        nbest.append((NONCE_TEXT, 0.0, 0.0))
    return nbest


def _softmax(scores: list[float]) -> list[float]:
    """Google's `_compute_softmax`, in the same float operations."""
    largest = max(scores)
    exps = [math.exp(score - largest) for score in scores]
    total = 0.0
    for value in exps:
        total += value
    return [value / total for value in exps]


def get_final_text(pred_text: str, orig_text: str, do_lower_case: bool,
                   verbose_logging: bool = False) -> str:
    """The part of `orig_text` (the passage words a span covers, joined by spaces)
    that the span's WordPieces `pred_text` (joined, `##` undone) stand for; Google's
    function of the same name.

    The span's words may hold more than its pieces ("Steve Smith's" for the pieces
    `steve smith`, "golden" for `gold`), and the pieces are normalized (lower case,
    no accents), so neither text is the answer. `orig_text` is basic-tokenized as
    the model's tokenizer did; `pred_text`'s first occurrence in that is found (the
    first even if the span was a later one: Google's behaviour, kept); if both texts
    without spaces have the same length, their characters are taken as aligned one
    to one and the found characters are cut out of `orig_text`. When that fails (not
    found, lengths differ, as when accents or other characters were removed), the
    answer is the whole `orig_text`.

    Args:
      pred_text: the span's text from its WordPieces.
      orig_text: the words the span lies in.
      do_lower_case: whether the model's tokenizer lower-cases.
      verbose_logging: log why the alignment failed.
    """
    tok_text = " ".join(tokenization.BasicTokenizer(do_lower_case).tokenize(orig_text))
    return _final_text(pred_text, orig_text, tok_text, verbose_logging)


def _final_text(pred_text: str, orig_text: str, tok_text: str,
                verbose_logging: bool) -> str:
    """`get_final_text` given `tok_text`, `orig_text` basic-tokenized and joined by
    spaces."""
    start = tok_text.find(pred_text)
    if start == -1:
        if verbose_logging:
            logging.info("Unable to find text: '%s' in '%s'", pred_text, orig_text)
        return orig_text
    end = start + len(pred_text) - 1

    if len(orig_text) - orig_text.count(" ") != len(tok_text) - tok_text.count(" "):
        if verbose_logging:
            logging.info("Length not equal after stripping spaces: '%s' vs '%s'",
                         orig_text.replace(" ", ""), tok_text.replace(" ", ""))
        return orig_text

    # Same length without spaces: the i-th non-space characters of both align. A
    # position maps only if it holds a non-space character (Google's dictionaries).
    if not (0 <= start < len(tok_text)) or tok_text[start] == " ":
        if verbose_logging:
            logging.info("Couldn't map start position")
        return orig_text
    if not (0 <= end < len(tok_text)) or tok_text[end] == " ":
        if verbose_logging:
            logging.info("Couldn't map end position")
        return orig_text
    orig_positions = [index for index, char in enumerate(orig_text) if char != " "]
    ns_start = start - tok_text.count(" ", 0, start)
    ns_end = end - tok_text.count(" ", 0, end)
    return orig_text[orig_positions[ns_start]:orig_positions[ns_end] + 1]


def write_prediction_files(output_dir: str, result: SquadPredictions) -> dict[str, str]:
    """Writes `predictions.json`, `nbest_predictions.json` and (SQuAD 2.0)
    `null_odds.json` to `output_dir` as Google's script does (`json.dumps(value,
    indent=4)` and a newline, questions in file order), each atomically.

    Returns:
      file name -> path of each file written.
    """
    files = {PREDICTIONS_FILE: result.predictions, NBEST_FILE: result.nbest}
    if result.null_odds is not None:
        files[NULL_ODDS_FILE] = result.null_odds
    return {name: io.write_json_atomically(os.path.join(output_dir, name), value,
                                           indent=4)
            for name, value in files.items()}
