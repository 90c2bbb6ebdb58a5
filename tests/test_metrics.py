"""Classification metrics against values computed by hand from their formulas."""

import math

import numpy as np
import pytest

from bert_tf.tasks.classification import metrics

# 10 binary predictions: TP = 4, TN = 3, FP = 2, FN = 1.
LABELS = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
PREDICTIONS = np.array([1, 1, 1, 1, 0, 0, 0, 0, 1, 1])
TP, TN, FP, FN = 4, 3, 2, 1


def test_accuracy():
    assert metrics.accuracy(PREDICTIONS, LABELS) == pytest.approx((TP + TN) / 10)


def test_f1_of_class_one():
    precision, recall = TP / (TP + FP), TP / (TP + FN)
    assert metrics.f1(PREDICTIONS, LABELS) == pytest.approx(
        2 * precision * recall / (precision + recall))
    # Swapping the classes scores class 1 of the swapped data: TP 3, FP 1, FN 2.
    assert metrics.f1(1 - PREDICTIONS, 1 - LABELS) == pytest.approx(2 * 3 / (2 * 3 + 1 + 2))


def test_matthews_correlation_by_its_formula():
    expected = (TP * TN - FP * FN) / math.sqrt((TP + FP) * (TP + FN) * (TN + FP) * (TN + FN))
    assert metrics.matthews_corrcoef(PREDICTIONS, LABELS) == pytest.approx(expected)
    assert metrics.matthews_corrcoef(LABELS, LABELS) == pytest.approx(1.0)
    assert metrics.matthews_corrcoef(1 - LABELS, LABELS) == pytest.approx(-1.0)


def test_pearson_and_spearman():
    predictions = np.array([1.0, 2.0, 4.0, 3.0, 10.0])
    labels = np.array([0.5, 1.0, 1.5, 3.0, 2.5])
    p, l = predictions - predictions.mean(), labels - labels.mean()
    expected_pearson = (p * l).sum() / math.sqrt((p * p).sum() * (l * l).sum())
    assert metrics.pearson(predictions, labels) == pytest.approx(expected_pearson)
    # No ties: Spearman is 1 - 6 sum(d^2) / (n (n^2 - 1)) over rank differences d.
    rank_p, rank_l = np.array([1, 2, 4, 3, 5]), np.array([1, 2, 3, 5, 4])
    d2 = ((rank_p - rank_l) ** 2).sum()
    assert metrics.spearman(predictions, labels) == pytest.approx(1 - 6 * d2 / (5 * 24))
    assert math.isnan(metrics.pearson(np.ones(3), labels[:3]))


def test_task_metrics_keys_and_values():
    assert metrics.task_metrics("MRPC", PREDICTIONS, LABELS) == pytest.approx(
        {"eval_accuracy": 0.7, "eval_f1": 8 / 11})
    assert set(metrics.task_metrics("qqp", PREDICTIONS, LABELS)) == {"eval_accuracy",
                                                                     "eval_f1"}
    cola = metrics.task_metrics("cola", PREDICTIONS, LABELS)
    assert set(cola) == {"eval_mcc", "eval_accuracy"}
    assert cola["eval_mcc"] == pytest.approx(metrics.matthews_corrcoef(PREDICTIONS, LABELS))
    for task in ("mnli", "rte", "sst-2", "tsv"):
        assert metrics.task_metrics(task, PREDICTIONS, LABELS) == pytest.approx(
            {"eval_accuracy": 0.7})
    sts = metrics.task_metrics("sts-b", np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 7.0]))
    assert set(sts) == {"eval_pearson", "eval_spearman"}
    assert sts["eval_spearman"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="differ"):
        metrics.task_metrics("mrpc", PREDICTIONS[:3], LABELS)


def test_primary_metric_is_a_key_of_task_metrics():
    for task, key in [("cola", "eval_mcc"), ("sts-b", "eval_pearson"), ("mrpc", "eval_f1"),
                      ("mnli", "eval_accuracy")]:
        assert metrics.primary_metric(task) == key
        assert key in metrics.task_metrics(task, PREDICTIONS, LABELS)


def test_classification_report_names_every_class():
    report = metrics.classification_report(np.array([0, 2, 2, 0]), np.array([0, 2, 0, 0]),
                                           ["neg", "neutral", "pos"])
    lines = {line.split()[0]: line.split()[1:] for line in report.splitlines()
             if line.strip() and line.split()[0] in ("neg", "neutral", "pos")}
    # neg: precision 2/2, recall 2/3; neutral: absent; pos: precision 1/2, recall 1/1.
    assert lines["neg"][:2] == ["1.0000", "0.6667"]
    assert lines["neutral"] == ["0.0000", "0.0000", "0.0000", "0"]
    assert lines["pos"][:2] == ["0.5000", "1.0000"]
