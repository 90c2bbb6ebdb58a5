"""Dropout whose masks a training loop derives from (seed, step), so that a resumed run
draws the masks an uninterrupted one would.

Keras' `Dropout` draws each mask from a `SeedGenerator`, a variable that advances at
every call: it is not in Google's checkpoint layout, so a resumed run would start it
afresh and draw other masks than the killed run would have. Inside `seeded(seed)`
(which `training.Trainer` enters for every micro-batch, with a seed made of the run's
seed, the optimizer step, the micro-batch and the replica), every `Dropout` call in
training instead draws its mask with stateless random ops from that seed and the
call's position in the forward pass. Nothing then needs saving, and the masks are the
same under `tf.function`, XLA and any number of replicas (each replica its own).
Outside such a context the layer is Keras' `Dropout`.

The seeded masks compare 16 random bits per element with a threshold, so one 32-bit
random number serves two elements: drawing the bits is most of a mask's cost, and
attention probabilities [B, N, F, T] are the largest tensors of a training step. The
drop probability is then `rate` rounded to a multiple of 1 / 65536 (0.1 becomes
0.1000061), and kept elements are scaled by the inverse of the rounded keep
probability, so that every element's expectation is unchanged.
"""

import contextlib
import threading
from typing import Iterator

import keras
import tensorflow as tf

# One per thread: MirroredStrategy traces each replica's step in a thread of its own.
_active = threading.local()

_LEVELS = 2 ** 16  # Values of the 16 random bits each element's keep decision reads.


class _CallSeeds:
    """The seed of one forward pass, and how many dropout calls it has served."""

    def __init__(self, seed: tf.Tensor):
        self.seed = seed
        self.calls = 0

    def next(self) -> tf.Tensor:
        """int32 [2]: the seed of the next dropout call of this forward pass."""
        self.calls += 1
        return tf.random.experimental.stateless_fold_in(self.seed, self.calls)


def step_seed(seed: int, step, micro_batch: int = 0, replica=0) -> tf.Tensor:
    """int32 [2]: the dropout seed of one forward pass of a training step.

    Args:
      seed: the run's seed (e.g. --seed).
      step: the optimizer step (an int or an integer tensor, e.g.
        `optimizer.iterations`).
      micro_batch: the micro-batch within the step (gradient accumulation).
      replica: the replica's index in the sync group (an int or an integer tensor).
    """
    folded = tf.constant([seed % (2 ** 31 - 1), 0], tf.int32)
    for value in (step, micro_batch, replica):
        folded = tf.random.experimental.stateless_fold_in(folded, tf.cast(value, tf.int32))
    return folded


@contextlib.contextmanager
def seeded(seed: tf.Tensor) -> Iterator[None]:
    """Within this context (on this thread), every `Dropout` called with
    `training=True` draws its mask from `seed` (int32 [2], see `step_seed`) and its
    position among the dropout calls of the context, in call order."""
    previous = getattr(_active, "seeds", None)
    _active.seeds = _CallSeeds(seed)
    try:
        yield
    finally:
        _active.seeds = previous


class Dropout(keras.layers.Dropout):
    """Keras' `Dropout`, with masks drawn from the seed of an enclosing `seeded`
    context when there is one (see the module docstring)."""

    def call(self, inputs, training=False):
        """Drops each element of `inputs` with probability `rate` when training and
        scales the rest by 1 / (1 - rate)."""
        seeds = getattr(_active, "seeds", None)
        if seeds is None or not training or self.rate == 0 or self.noise_shape is not None:
            return super().call(inputs, training=training)
        return _seeded_dropout(inputs, self.rate, seeds.next())


def _seeded_dropout(inputs: tf.Tensor, rate: float, seed: tf.Tensor) -> tf.Tensor:
    """Zeroes each element of `inputs` with probability `rate` (rounded to a multiple
    of 1 / 65536) and scales the rest by the inverse of their keep probability."""
    if inputs.shape.rank == 0:
        return tf.reshape(_seeded_dropout(tf.reshape(inputs, [1]), rate, seed), [])
    dropped_levels = min(round(rate * _LEVELS), _LEVELS - 1)
    shape = tf.shape(inputs)
    last = shape[-1]
    pairs = (last + 1) // 2
    bits = tf.random.stateless_uniform(tf.concat([shape[:-1], [pairs]], 0), seed,
                                       minval=None, maxval=None, dtype=tf.int32)
    # Reading each int32 as two int16 costs no copy; an odd last axis leaves one over.
    halves = tf.reshape(tf.bitcast(bits, tf.int16), tf.concat([shape[:-1], [2 * pairs]], 0))
    keep = halves[..., :last] >= dropped_levels - _LEVELS // 2
    scale = tf.cast(_LEVELS / (_LEVELS - dropped_levels), inputs.dtype)
    return tf.where(keep, inputs * scale, tf.zeros([], inputs.dtype))
