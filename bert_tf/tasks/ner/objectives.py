"""Losses of token classification (named entities), for training and evaluation.

Only word positions count: `label_weights` is 1 on the first piece of each word whose
prediction a window gives (see `bert_tf.tasks.ner.features`) and 0 on `[CLS]`, `##`
pieces, `[SEP]`, padding and context words, so every word is counted exactly once.

Softmax head: the cross-entropy at each word position, averaged over word positions,
sum(w * loss) / sum(w), as Google's masked-LM loss is averaged over its predictions.
CRF head: the negative log-likelihood of each window's gold label sequence (the chain
over its word positions), summed and divided by the same word count, so that both
losses are per word and a learning rate suits both.

With several replicas the word count is the mean over replicas (as in
`bert_tf.tasks.pretraining.objectives`), so the replicas' losses average to the loss one
device computes on the global batch.
"""

from typing import Callable

import numpy as np
import tensorflow as tf

from bert_tf.layers.crf import CRF


def _word_count(weights: tf.Tensor) -> tf.Tensor:
    """sum(weights), averaged over replicas when there are several."""
    count = tf.reduce_sum(weights)
    replica = tf.distribute.get_replica_context()
    if replica is not None and replica.num_replicas_in_sync > 1:
        count = replica.all_reduce("SUM", count) / replica.num_replicas_in_sync
    return count


def token_classification_loss_fn(crf: CRF | None = None,
                                 ) -> Callable[[dict, dict], dict[str, tf.Tensor]]:
    """The `loss_fn` for `bert_tf.training.trainer.Trainer` of a (CRF) token classifier.

    Args:
      crf: the model's CRF layer (`BertCrfTokenClassifier.crf`) for the CRF loss;
        None for the softmax cross-entropy.

    Returns:
      `(outputs, features) -> {"loss", "token_correct", "token_count"}`: the loss (a
      scalar, see the module docstring) and the sums of a word-level accuracy. The
      accuracy uses the model's `tags` output where there is one (a CRF model, not
      training), else the argmax of the logits.
    """

    def loss_fn(outputs: dict, features: dict) -> dict[str, tf.Tensor]:
        logits = tf.cast(outputs["logits"], tf.float32)  # [B, S, T]
        labels = tf.cast(features["label_ids"], tf.int32)  # [B, S]
        weights = tf.cast(features["label_weights"], tf.float32)  # [B, S]
        count = _word_count(weights)
        if crf is None:
            per_position = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels,
                                                                           logits=logits)
            total = tf.reduce_sum(per_position * weights)
        else:
            total = -tf.reduce_sum(crf.log_likelihood(logits, labels, weights > 0))
        predictions = outputs.get("tags")
        if predictions is None:
            predictions = tf.argmax(logits, axis=-1, output_type=tf.int32)
        correct = tf.cast(tf.equal(tf.cast(predictions, tf.int32), labels), tf.float32)
        return {"loss": total / (count + 1e-5),
                "token_correct": tf.reduce_sum(correct * weights),
                "token_count": tf.reduce_sum(weights)}

    return loss_fn


def evaluation_loss(logits: np.ndarray, label_ids: np.ndarray, label_weights: np.ndarray,
                    crf: CRF | None = None) -> float:
    """The loss over a whole evaluation set, per word, as training computes it.

    Args:
      logits: float [N, S, T], the model's logits for every window.
      label_ids: int [N, S], the gold labels.
      label_weights: float [N, S], the word positions (see the module docstring).
      crf: the model's CRF for the CRF loss; None for cross-entropy.

    Returns:
      The summed loss over all words divided by the number of words (0 without words).
    """
    count = float(np.sum(label_weights))
    if count == 0:
        return 0.0
    if crf is None:
        shifted = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
        log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        picked = np.take_along_axis(log_probabilities, label_ids[..., None].astype(np.int64),
                                    axis=-1)[..., 0]
        return float(-np.sum(picked * label_weights) / count)
    log_likelihood = crf.log_likelihood(tf.constant(logits, tf.float32),
                                        tf.constant(label_ids, tf.int32),
                                        tf.constant(label_weights > 0))
    return float(-np.sum(log_likelihood.numpy(), dtype=np.float64) / count)


def decode(logits: np.ndarray, label_weights: np.ndarray,
           crf: CRF | None = None) -> np.ndarray:
    """The predicted label of every position: Viterbi over the word positions with a
    CRF, else the argmax of the logits.

    Args:
      logits: float [N, S, T].
      label_weights: float [N, S]; its non-zero positions form the CRF's chain.
      crf: the model's CRF, or None.

    Returns:
      int32 [N, S] label ids (with a CRF, 0 away from word positions).
    """
    if crf is None:
        return logits.argmax(axis=-1).astype(np.int32)
    return crf.decode(tf.constant(logits, tf.float32),
                      tf.constant(label_weights > 0)).numpy()
