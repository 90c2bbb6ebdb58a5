"""Losses of sequence classification and regression, for training and evaluation.

As Google's `run_classifier.py` (`create_model`): the mean cross-entropy of the
softmax over the labels (a regression task, e.g. STS-B, uses the mean squared error of
its single output). Examples added only to fill a batch (`is_real_example` 0) count for
nothing. Optional class weights scale each example's loss by its label's weight.
"""

from typing import Callable, Sequence

import numpy as np
import tensorflow as tf


def classification_loss_fn(num_labels: int, class_weights: Sequence[float] | None = None,
                           ) -> Callable[[dict, dict], dict[str, tf.Tensor]]:
    """The `loss_fn` for `bert_tf.training.trainer.Trainer` of a `BertClassifier`.

    Args:
      num_labels: the classifier's outputs; 1 means regression.
      class_weights: one weight per label (classification only); None for all 1.

    Returns:
      `(outputs, features) -> {"loss", "classification_correct",
      "classification_count"}` (the accuracy counts only for classification).

    Raises:
      ValueError: if `class_weights` does not have one weight per label.
    """
    if class_weights is not None and len(class_weights) != num_labels:
        raise ValueError(f"{len(class_weights)} class weights for {num_labels} labels.")
    weight_table = (None if class_weights is None
                    else tf.constant(class_weights, dtype=tf.float32))

    def loss_fn(outputs: dict, features: dict) -> dict[str, tf.Tensor]:
        logits = tf.cast(outputs["logits"], tf.float32)
        real = tf.cast(features["is_real_example"], tf.float32)
        batch = tf.cast(tf.shape(logits)[0], tf.float32)
        if num_labels == 1:
            targets = tf.cast(features["label_ids"], tf.float32)
            squared = tf.square(logits[:, 0] - targets)
            return {"loss": tf.reduce_sum(squared * real) / batch}
        labels = tf.cast(features["label_ids"], tf.int32)
        per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels,
                                                                     logits=logits)
        weights = real if weight_table is None else real * tf.gather(weight_table, labels)
        correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels),
                          tf.float32)
        return {"loss": tf.reduce_sum(per_example * weights) / batch,
                "classification_correct": tf.reduce_sum(correct * real),
                "classification_count": tf.reduce_sum(real)}

    return loss_fn


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64, stable for large logits."""
    shifted = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def evaluation_loss(logits: np.ndarray, labels: np.ndarray) -> float:
    """The mean loss over real examples, as training computes it without weights:
    cross-entropy for classification, squared error for regression (one output)."""
    if logits.shape[-1] == 1:
        return float(np.mean((logits[:, 0].astype(np.float64) - labels) ** 2))
    probabilities = softmax(logits)
    picked = probabilities[np.arange(len(labels)), labels.astype(np.int64)]
    return float(-np.mean(np.log(np.maximum(picked, 1e-30))))
