"""The loss of extractive question answering, as Google's `run_squad.py`
(`model_fn`): the cross-entropy of the softmax over a window's positions for the
answer's start, the same for its end, and their mean, averaged over the batch.

A window without the answer (or an unanswerable question) points both at `[CLS]`,
position 0. With dynamically padded batches the softmax runs over the batch's
positions rather than all `max_seq_length`: padding positions, whose logits carry no
information, then take no probability mass.
"""

from typing import Callable

import tensorflow as tf


def span_loss_fn() -> Callable[[dict, dict], dict[str, tf.Tensor]]:
    """The `loss_fn` for `bert_tf.training.trainer.Trainer` of a `BertSpanExtractor`.

    Returns:
      `(outputs, features) -> {"loss", "start_correct", "start_count",
      "end_correct", "end_count"}`: the loss (a scalar) and the sums of how often the
      argmax start and end hit their targets (the trainer logs them as accuracies).
    """

    def loss_fn(outputs: dict, features: dict) -> dict[str, tf.Tensor]:
        real = tf.cast(features["is_real_example"], tf.float32)  # [B]
        batch = tf.cast(tf.shape(real)[0], tf.float32)
        results = {}
        total = 0.0
        for side in ("start", "end"):
            logits = tf.cast(outputs[f"{side}_logits"], tf.float32)  # [B, S]
            positions = tf.cast(features[f"{side}_positions"], tf.int32)  # [B]
            loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=positions,
                                                                  logits=logits)
            total += tf.reduce_sum(loss * real) / batch
            hit = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), positions)
            results[f"{side}_correct"] = tf.reduce_sum(tf.cast(hit, tf.float32) * real)
            results[f"{side}_count"] = tf.reduce_sum(real)
        results["loss"] = total / 2.0
        return results

    return loss_fn
