"""Classification metrics over numpy arrays, and the GLUE metric of each task.

Predictions are class ids (or scores, for regression); labels likewise. Keys of
`task_metrics` are those of Google's `eval_results.txt` (`eval_accuracy`, ...).
"""

from typing import Sequence

import numpy as np
from scipy import stats
from sklearn import metrics as sk_metrics


def accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    """The fraction of predictions equal to their label."""
    return float(sk_metrics.accuracy_score(labels, predictions))


def f1(predictions: np.ndarray, labels: np.ndarray) -> float:
    """Binary F1 score of class 1 (0 when class 1 is never predicted nor present)."""
    return float(sk_metrics.f1_score(labels, predictions, pos_label=1, average="binary",
                                     zero_division=0))


def matthews_corrcoef(predictions: np.ndarray, labels: np.ndarray) -> float:
    """Matthews correlation coefficient (CoLA's metric); 0 when undefined."""
    return float(sk_metrics.matthews_corrcoef(labels, predictions))


def pearson(predictions: np.ndarray, labels: np.ndarray) -> float:
    """Pearson correlation (NaN when either side is constant)."""
    if _is_constant(predictions) or _is_constant(labels):
        return float("nan")
    return float(stats.pearsonr(predictions, labels)[0])


def spearman(predictions: np.ndarray, labels: np.ndarray) -> float:
    """Spearman rank correlation (NaN when either side is constant)."""
    if _is_constant(predictions) or _is_constant(labels):
        return float("nan")
    return float(stats.spearmanr(predictions, labels)[0])


def _is_constant(values: np.ndarray) -> bool:
    values = np.asarray(values)
    return values.size < 2 or bool(np.all(values == values.flat[0]))


_ACCURACY_AND_F1 = ("mrpc", "qqp")
_REGRESSION = ("sts-b",)


def task_metrics(task_name: str, predictions: np.ndarray,
                 labels: np.ndarray) -> dict[str, float]:
    """The GLUE metrics of `task_name`, keyed as in Google's `eval_results.txt`.

    MRPC, QQP: `eval_accuracy`, `eval_f1`; CoLA: `eval_mcc`, `eval_accuracy`; STS-B:
    `eval_pearson`, `eval_spearman`; every other task (`tsv`/`csv` included):
    `eval_accuracy`.

    Args:
      task_name: the task (case-insensitive), as `classification_data.PROCESSORS`.
      predictions: predicted class ids [N] (scores for STS-B).
      labels: true class ids [N] (scores for STS-B).
    """
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if predictions.shape != labels.shape:
        raise ValueError(f"{predictions.shape[0] if predictions.ndim else 0} predictions "
                         f"for {labels.shape[0] if labels.ndim else 0} labels; shapes "
                         f"{predictions.shape} and {labels.shape} differ.")
    name = task_name.lower()
    if name in _REGRESSION:
        return {"eval_pearson": pearson(predictions, labels),
                "eval_spearman": spearman(predictions, labels)}
    results = {"eval_accuracy": accuracy(predictions, labels)}
    if name in _ACCURACY_AND_F1:
        results["eval_f1"] = f1(predictions, labels)
    if name == "cola":
        results = {"eval_mcc": matthews_corrcoef(predictions, labels), **results}
    return results


def primary_metric(task_name: str) -> str:
    """The key of `task_metrics` that ranks models for `task_name` (GLUE's headline
    number): `eval_mcc` for CoLA, `eval_pearson` for STS-B, `eval_f1` for MRPC and
    QQP, `eval_accuracy` otherwise."""
    name = task_name.lower()
    if name == "cola":
        return "eval_mcc"
    if name in _REGRESSION:
        return "eval_pearson"
    if name in _ACCURACY_AND_F1:
        return "eval_f1"
    return "eval_accuracy"


def classification_report(predictions: np.ndarray, labels: np.ndarray,
                          label_names: Sequence[str]) -> str:
    """scikit-learn's per-class precision/recall/F1 table, classes named by
    `label_names` (class id = position), every class listed even when absent."""
    return sk_metrics.classification_report(
        labels, predictions, labels=list(range(len(label_names))),
        target_names=[str(name) for name in label_names], digits=4, zero_division=0)
