"""The official SQuAD scores: exact match and F1 of `evaluate-v1.1.py`, and of
`evaluate-v2.0.py` with its split into answerable (HasAns) and unanswerable (NoAns)
questions and its search for the best null-odds threshold.

Both scripts compare answers after the same normalization (lower case, no
punctuation, no articles "a", "an", "the", whitespace collapsed) and take the best
score over a question's gold answers. They differ on empty answers:

  * SQuAD 1.1: an answer that normalizes to nothing has F1 0 against anything (even
    against another empty one); a question without a prediction scores 0.
  * SQuAD 2.0: gold answers that normalize to nothing are dropped, and an
    unanswerable question (no gold answer left) has the single gold answer "". F1
    of two answers one of which is empty is 1 if both are, else 0.

Sums run in the scripts' order (the questions in file order), so that the scores are
the scripts' to the last bit.
"""

import collections
import re
import string

from absl import logging

from bert_tf.tasks.squad import squad_json

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """`text` lower-cased, without ASCII punctuation and the articles "a", "an",
    "the" (whole words), its words separated by single spaces; the scripts'
    `normalize_answer`."""
    text = "".join(char for char in text.lower() if char not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match_score(prediction: str, gold: str) -> float:
    """1.0 if both normalize to the same text, else 0.0 (both scripts)."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1_score(prediction: str, gold: str, version_2_with_negative: bool = False) -> float:
    """The F1 of the bags of normalized words of `prediction` and `gold`.

    Args:
      prediction: the predicted answer.
      gold: one gold answer.
      version_2_with_negative: score empty answers as `evaluate-v2.0.py` does (1.0 if
        both are empty, 0.0 if one is); `evaluate-v1.1.py` gives them 0.0.
    """
    prediction_words = normalize_answer(prediction).split()
    gold_words = normalize_answer(gold).split()
    if version_2_with_negative and (not prediction_words or not gold_words):
        return float(prediction_words == gold_words)
    common = sum((collections.Counter(prediction_words)
                  & collections.Counter(gold_words)).values())
    if common == 0:
        return 0.0
    precision = 1.0 * common / len(prediction_words)
    recall = 1.0 * common / len(gold_words)
    return (2 * precision * recall) / (precision + recall)


def evaluate(squad_file: squad_json.SquadFile, predictions: dict[str, str],
             null_odds: dict[str, float] | None = None,
             version_2_with_negative: bool = False,
             na_prob_thresh: float = 1.0) -> dict[str, float]:
    """The official script's scores (percent) of `predictions` on `squad_file`.

    Args:
      squad_file: the questions with their gold answers.
      predictions: qas_id -> predicted answer text.
      null_odds: SQuAD 2.0: qas_id -> the null odds (`null_odds.json`; the scripts
        call them "na_prob"), for the thresholded scores and the best thresholds.
      version_2_with_negative: score as `evaluate-v2.0.py`, else as
        `evaluate-v1.1.py`.
      na_prob_thresh: SQuAD 2.0: a question whose null odds exceed this counts as
        predicted unanswerable (the script's `--na-prob-thresh`).

    Returns:
      SQuAD 1.1: `exact_match` and `f1`. SQuAD 2.0: the script's `exact`, `f1`,
      `total`, `HasAns_exact`, `HasAns_f1`, `HasAns_total` (if the file has
      answerable questions), `NoAns_*` (if it has unanswerable ones), with
      `null_odds` `best_exact`, `best_exact_thresh`, `best_f1`, `best_f1_thresh`; and
      `exact_match`, a copy of `exact`, so that both versions report `exact_match`
      and `f1`.

    Raises:
      ValueError: SQuAD 1.1: a question has no gold answer. SQuAD 2.0: a question has
        no prediction, or no null odds (the script fails there too).
    """
    if version_2_with_negative:
        return _evaluate_v2(squad_file, predictions, null_odds, na_prob_thresh)
    return _evaluate_v1(squad_file, predictions)


def _gold_answers(example: squad_json.SquadExample) -> list[str]:
    return [answer.text for answer in example.answers]


def _evaluate_v1(squad_file: squad_json.SquadFile,
                 predictions: dict[str, str]) -> dict[str, float]:
    """`evaluate-v1.1.py`'s `evaluate`."""
    exact_match = f1 = 0.0
    missing = []
    for example in squad_file.examples:
        gold = _gold_answers(example)
        if not gold:
            raise ValueError(
                f"{squad_file.path}: question {example.qas_id} has no gold answer: "
                f"score SQuAD 2.0 files with version_2_with_negative")
        if example.qas_id not in predictions:
            missing.append(example.qas_id)
            continue
        prediction = predictions[example.qas_id]
        exact_match += max(exact_match_score(prediction, answer) for answer in gold)
        f1 += max(f1_score(prediction, answer) for answer in gold)
    if missing:
        logging.warning("%d unanswered questions (e.g. %s) receive score 0",
                        len(missing), missing[0])
    total = len(squad_file.examples)
    return {"exact_match": 100.0 * exact_match / total, "f1": 100.0 * f1 / total}


def _evaluate_v2(squad_file: squad_json.SquadFile, predictions: dict[str, str],
                 null_odds: dict[str, float] | None,
                 na_prob_thresh: float) -> dict[str, float]:
    """`evaluate-v2.0.py`'s `main` (without the precision-recall curves)."""
    has_answer = {}
    exact_raw, f1_raw = {}, {}
    for example in squad_file.examples:
        qas_id = example.qas_id
        if qas_id not in predictions:
            raise ValueError(f"{squad_file.path}: no prediction for question {qas_id}")
        has_answer[qas_id] = bool(example.answers)
        gold = [text for text in _gold_answers(example) if normalize_answer(text)]
        gold = gold or [""]  # The only right answer to an unanswerable question.
        prediction = predictions[qas_id]
        exact_raw[qas_id] = max(exact_match_score(prediction, text) for text in gold)
        f1_raw[qas_id] = max(f1_score(prediction, text, version_2_with_negative=True)
                             for text in gold)
    if null_odds is not None:
        missing = [qas_id for qas_id in exact_raw if qas_id not in null_odds]
        if missing:
            raise ValueError(f"{squad_file.path}: no null odds for {len(missing)} "
                             f"questions, e.g. {missing[0]}")
    na_probs = null_odds if null_odds is not None else {key: 0.0 for key in predictions}
    exact = _apply_threshold(exact_raw, na_probs, has_answer, na_prob_thresh)
    f1 = _apply_threshold(f1_raw, na_probs, has_answer, na_prob_thresh)

    result = _scores(exact, f1, list(exact))
    for prefix, wanted in (("HasAns", True), ("NoAns", False)):
        qas_ids = [qas_id for qas_id, value in has_answer.items() if value == wanted]
        if qas_ids:
            result.update({f"{prefix}_{key}": value
                           for key, value in _scores(exact, f1, qas_ids).items()})
    if null_odds is not None:
        result["best_exact"], result["best_exact_thresh"] = _best_threshold(
            predictions, exact_raw, null_odds, has_answer)
        result["best_f1"], result["best_f1_thresh"] = _best_threshold(
            predictions, f1_raw, null_odds, has_answer)
    result["exact_match"] = result["exact"]
    return result


def _apply_threshold(scores: dict[str, float], na_probs: dict[str, float],
                     has_answer: dict[str, bool],
                     na_prob_thresh: float) -> dict[str, float]:
    """The scores with the questions whose null odds exceed the threshold counted as
    predicted unanswerable: 1 if they are, else 0."""
    return {qas_id: float(not has_answer[qas_id])
            if na_probs[qas_id] > na_prob_thresh else score
            for qas_id, score in scores.items()}


def _scores(exact: dict[str, float], f1: dict[str, float],
            qas_ids: list[str]) -> dict[str, float]:
    """The script's `make_eval_dict`: `exact`, `f1` (percent) and `total`."""
    total = len(qas_ids)
    return {"exact": 100.0 * sum(exact[key] for key in qas_ids) / total,
            "f1": 100.0 * sum(f1[key] for key in qas_ids) / total,
            "total": total}


def _best_threshold(predictions: dict[str, str], scores: dict[str, float],
                    null_odds: dict[str, float],
                    has_answer: dict[str, bool]) -> tuple[float, float]:
    """The script's `find_best_thresh`: the best score (percent) over the thresholds
    t at which questions with null odds > t are predicted unanswerable, and that t.

    Starting from "every question unanswered" (the unanswerable ones right), the
    questions are answered in order of rising null odds: an answerable one adds its
    raw score, an unanswerable one costs 1 if its prediction is not empty. The
    threshold is the null odds of the question after which the score peaked (0.0 if
    answering nothing is best).
    """
    score = best = sum(1 for value in has_answer.values() if not value)
    best_thresh = 0.0
    for qas_id in sorted(null_odds, key=lambda key: null_odds[key]):
        if qas_id not in scores:
            continue
        if has_answer[qas_id]:
            score += scores[qas_id]
        elif predictions[qas_id]:
            score -= 1
        if score > best:
            best = score
            best_thresh = null_odds[qas_id]
    return 100.0 * best / len(scores), best_thresh
