"""A linear-chain conditional random field (CRF) over per-position tag scores.

Shapes: B = batch, S = sequence length, T = number of tags.

The score of a tag sequence y_1..y_n on emissions E [n, T] is

    start[y_1] + sum_i E[i, y_i] + sum_{i>1} transitions[y_{i-1}, y_i] + end[y_n]

and p(y | E) = exp(score(y)) / Z with Z summed over all T^n sequences (forward
algorithm, in log space); `decode` finds the best sequence (Viterbi).

Masks need not be prefixes. For BERT, only first sub-tokens carry a word's tag, so the
mask is 1 on those positions and 0 on `[CLS]`, `##` continuations, `[SEP]` and padding.
The chain links the masked positions in order, skipping the others: both methods first
gather the masked positions to the front (a stable reordering), run on that prefix,
and `decode` puts the tags back where they came from. Everything runs in float32
inside `tf.function` and under XLA (`jit_compile=True`).
"""

import keras
import tensorflow as tf


class CRF(keras.layers.Layer):
    """Linear-chain CRF: transition scores [T, T] (from, to) and start/end scores [T].

    `log_likelihood` is the training objective (its negative is the loss); `decode`,
    also what calling the layer does, gives the best tags.
    """

    def __init__(self, num_tags: int, **kwargs):
        """Creates the (zero-initialized) transition, start and end scores.

        Args:
          num_tags: T, the number of tags.
        """
        super().__init__(**kwargs)
        if num_tags < 1:
            raise ValueError(f"num_tags must be at least 1, got {num_tags}")
        self.num_tags = num_tags
        self.transitions = self.add_weight(shape=(num_tags, num_tags),
                                           initializer="zeros", name="transitions")
        self.start_transitions = self.add_weight(shape=(num_tags,), initializer="zeros",
                                                 name="start_transitions")
        self.end_transitions = self.add_weight(shape=(num_tags,), initializer="zeros",
                                               name="end_transitions")
        self.built = True

    def call(self, emissions, mask=None):
        """Same as `decode`."""
        return self.decode(emissions, mask)

    def log_likelihood(self, emissions, tags, mask=None):
        """log p(tags | emissions) of each sequence.

        Args:
          emissions: float [B, S, T], per-position tag scores (e.g. logits).
          tags: int [B, S], the gold tags; only masked positions are read.
          mask: [B, S] (bool or 0/1), the positions in the chain; None means all.

        Returns:
          float32 [B]; 0 for a sequence with no masked position.
        """
        emissions, mask, order, lengths = self._compact(emissions, mask)
        tags = tf.gather(tf.cast(tags, tf.int32), order, batch_dims=1)
        tags = tf.where(mask, tags, 0)  # Unmasked positions may hold -1 or the like.
        return self._sequence_score(emissions, tags, mask, lengths) - self._log_partition(
            emissions, mask)

    def decode(self, emissions, mask=None):
        """The highest-scoring tags (Viterbi).

        Args:
          emissions: float [B, S, T].
          mask: [B, S] (bool or 0/1), the positions in the chain; None means all.

        Returns:
          int32 [B, S]: the best tag at masked positions, 0 elsewhere.
        """
        emissions, compact_mask, order, _ = self._compact(emissions, mask)
        transitions = tf.cast(self.transitions, tf.float32)
        batch_size = tf.shape(emissions)[0]
        identity = tf.tile(tf.range(self.num_tags)[tf.newaxis], [batch_size, 1])

        def step(carry, inputs):
            score, _ = carry
            emission, step_mask = inputs  # [B, T], [B]
            # candidates[b, i, j]: best score ending in tag i, then i -> j.
            candidates = score[:, :, tf.newaxis] + transitions[tf.newaxis]
            new_score = tf.reduce_max(candidates, axis=1) + emission
            backpointer = tf.argmax(candidates, axis=1, output_type=tf.int32)
            keep = step_mask[:, tf.newaxis]
            # At positions past the end the score is carried on and the backpointer is
            # the identity, so backtracking passes through them unchanged.
            return tf.where(keep, new_score, score), tf.where(keep, backpointer, identity)

        first_score = tf.cast(self.start_transitions, tf.float32) + emissions[:, 0]
        time_major = (tf.transpose(emissions[:, 1:], [1, 0, 2]),
                      tf.transpose(compact_mask[:, 1:]))
        scores, backpointers = tf.scan(step, time_major,
                                       initializer=(first_score, identity))
        # scores [S-1, B, T]; with S = 1 it is empty and the first score is the last.
        final_scores = tf.concat([first_score[tf.newaxis], scores], axis=0)[-1]
        final_scores += tf.cast(self.end_transitions, tf.float32)
        last_tag = tf.argmax(final_scores, axis=-1, output_type=tf.int32)  # [B]

        def backtrack(tag, backpointer):
            return tf.gather(backpointer, tag, batch_dims=1)

        # backpointers[t] [S-1, B, T] leads from the tag at t + 1 to the tag at t.
        earlier = tf.scan(backtrack, backpointers, initializer=last_tag, reverse=True)
        best = tf.concat([tf.transpose(earlier), last_tag[:, tf.newaxis]], axis=1)
        # Undo the compaction: position order[k] receives the k-th compact tag.
        inverse = tf.argsort(order, axis=1, stable=True)
        best = tf.gather(best, inverse, batch_dims=1)
        return tf.where(_as_bool_mask(mask, tf.shape(best)), best, 0)

    def get_config(self):
        """The constructor's arguments."""
        return {**super().get_config(), "num_tags": self.num_tags}

    def _compact(self, emissions, mask):
        """Moves the masked positions to the front, keeping their order.

        Returns:
          emissions float32 [B, S, T] and the prefix mask bool [B, S], both reordered;
          order int32 [B, S] (compact position k came from position order[b, k]); the
          number of masked positions int32 [B].
        """
        emissions = tf.cast(emissions, tf.float32)
        mask = _as_bool_mask(mask, tf.shape(emissions)[:2])
        positions = tf.range(tf.shape(mask)[1])[tf.newaxis]
        sequence_length = tf.shape(mask)[1]
        # Masked positions sort by position, the others after all of them.
        keys = tf.where(mask, positions, positions + sequence_length)
        order = tf.argsort(keys, axis=1, stable=True)
        lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
        compact_mask = positions < lengths[:, tf.newaxis]
        return tf.gather(emissions, order, batch_dims=1), compact_mask, order, lengths

    def _sequence_score(self, emissions, tags, mask, lengths):
        """score(tags) [B] on compact (prefix-masked) inputs."""
        weights = tf.cast(mask, tf.float32)
        emitted = tf.gather(emissions, tags, axis=2, batch_dims=2)  # [B, S]
        score = tf.reduce_sum(emitted * weights, axis=1)
        pairs = tf.stack([tags[:, :-1], tags[:, 1:]], axis=-1)  # [B, S-1, 2]
        transition = tf.gather_nd(tf.cast(self.transitions, tf.float32), pairs)
        score += tf.reduce_sum(transition * weights[:, 1:], axis=1)
        first = tags[:, 0]
        last = tf.gather(tags, tf.maximum(lengths - 1, 0), batch_dims=1)
        boundary = (tf.gather(tf.cast(self.start_transitions, tf.float32), first)
                    + tf.gather(tf.cast(self.end_transitions, tf.float32), last))
        return score + tf.where(lengths > 0, boundary, 0.0)

    def _log_partition(self, emissions, mask):
        """log Z [B] on compact (prefix-masked) inputs (forward algorithm)."""
        transitions = tf.cast(self.transitions, tf.float32)

        def step(alpha, inputs):
            emission, step_mask = inputs  # [B, T], [B]
            # alpha[b, i] + transitions[i, j], summed over i in log space.
            new_alpha = tf.reduce_logsumexp(
                alpha[:, :, tf.newaxis] + transitions[tf.newaxis], axis=1) + emission
            return tf.where(step_mask[:, tf.newaxis], new_alpha, alpha)

        alpha = tf.cast(self.start_transitions, tf.float32) + emissions[:, 0]
        time_major = (tf.transpose(emissions[:, 1:], [1, 0, 2]), tf.transpose(mask[:, 1:]))
        alpha = tf.foldl(step, time_major, initializer=alpha)
        log_z = tf.reduce_logsumexp(alpha + tf.cast(self.end_transitions, tf.float32),
                                    axis=1)
        return tf.where(mask[:, 0], log_z, 0.0)


def _as_bool_mask(mask, shape):
    """`mask` as bool, or all True of `shape` ([B, S]) when None."""
    if mask is None:
        return tf.ones(shape, tf.bool)
    return tf.cast(mask, tf.bool)
