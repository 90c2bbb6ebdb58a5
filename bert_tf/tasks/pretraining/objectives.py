"""Google's pre-training losses and metrics, from `BertPretrainer` outputs and records.

Masked LM: the cross-entropy at each predicted position, averaged with the
`masked_lm_weights` (0 for padding slots): sum(w * loss) / (sum(w) + 1e-5), as Google's
`get_masked_lm_output`. Next sentence: the mean cross-entropy of the two-way
classifier. The total loss is their sum.
"""

import tensorflow as tf


def pretraining_losses(outputs: dict, features: dict) -> dict[str, tf.Tensor]:
    """Losses and accuracy counts for one batch.

    Args:
      outputs: `BertPretrainer` outputs (`masked_lm_logits` [B, P, V],
        `next_sentence_logits` [B, 2]).
      features: the batch's `masked_lm_ids`, `masked_lm_weights` [B, P] and
        `next_sentence_labels` [B, 1].

    Returns:
      `loss`, `masked_lm_loss`, `next_sentence_loss` (scalars) and the sums the
      accuracies are made of: `masked_lm_correct`, `masked_lm_count`,
      `next_sentence_correct`, `next_sentence_count`.
    """
    mlm_logits = tf.cast(outputs["masked_lm_logits"], tf.float32)
    weights = tf.cast(features["masked_lm_weights"], tf.float32)
    labels = tf.cast(features["masked_lm_ids"], tf.int32)
    per_position = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels,
                                                                   logits=mlm_logits)
    denominator = tf.reduce_sum(weights)
    replica = tf.distribute.get_replica_context()
    if replica is not None and replica.num_replicas_in_sync > 1:
        # Normalize by the mean over replicas of the prediction counts, so that the
        # replicas' losses average to the global-batch loss a single device computes
        # (Google's TPU code normalizes per core instead).
        denominator = replica.all_reduce("SUM", denominator) / replica.num_replicas_in_sync
    masked_lm_loss = tf.reduce_sum(per_position * weights) / (denominator + 1e-5)

    nsp_logits = tf.cast(outputs["next_sentence_logits"], tf.float32)
    nsp_labels = tf.reshape(tf.cast(features["next_sentence_labels"], tf.int32), [-1])
    next_sentence_loss = tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=nsp_labels, logits=nsp_logits))

    mlm_correct = tf.cast(tf.equal(tf.argmax(mlm_logits, -1, output_type=tf.int32), labels),
                          tf.float32)
    nsp_correct = tf.cast(tf.equal(tf.argmax(nsp_logits, -1, output_type=tf.int32),
                                   nsp_labels), tf.float32)
    return {
        "loss": masked_lm_loss + next_sentence_loss,
        "masked_lm_loss": masked_lm_loss,
        "next_sentence_loss": next_sentence_loss,
        "masked_lm_correct": tf.reduce_sum(mlm_correct * weights),
        "masked_lm_count": tf.reduce_sum(weights),
        "next_sentence_correct": tf.reduce_sum(nsp_correct),
        "next_sentence_count": tf.cast(tf.size(nsp_labels), tf.float32),
    }
