"""`tf.data` input for token classification from `NerFeatures` arrays."""

import numpy as np
import tensorflow as tf

from bert_tf.tasks.classification import dataset as classification_dataset

FEATURE_NAMES = ("input_ids", "input_mask", "segment_ids", "label_ids", "label_weights")


def ner_dataset(features: dict[str, np.ndarray], batch_size: int, is_training: bool,
                seed: int | None = None,
                input_context: tf.distribute.InputContext | None = None,
                drop_remainder: bool = True, trim_padding: bool = False) -> tf.data.Dataset:
    """Batches of token-classification windows.

    Training: the windows are split over the input pipelines (one per worker), shuffled
    (the whole shard, reshuffled each epoch; with a seed, the same order on every run,
    so a resumed run can skip what it has seen), repeated forever and batched.

    Evaluation and prediction: every window once, in order. With `drop_remainder`
    (static shapes, as TPUs and XLA need) the windows are first padded with all-zero
    rows, whose `label_weights` are 0, to fill the last batch of every pipeline; with
    several pipelines, pipeline `i` gets windows `i, i + n, i + 2n, ...`.

    Every batch has `input_ids`, `input_mask`, `segment_ids`, `label_ids` int32 and
    `label_weights` float32, each [batch, seq], and `is_real_example` float32 [batch]
    (0 for padding rows).

    Args:
      features: `NerFeatures.arrays()` (`bert_tf.tasks.ner.features`).
      batch_size: the batch size of this input pipeline (per worker).
      is_training: training or evaluation behaviour, as above.
      seed: shuffling seed (None: not reproducible).
      input_context: from `strategy.distribute_datasets_from_function`.
      drop_remainder: static batch size (see above).
      trim_padding: cut each batch's sequence axis to its longest window (the sequence
        dimension becomes None; word positions all lie inside the input mask, so no
        label is lost): less work on CPU and GPU; not for TPUs.

    Raises:
      UserInputError: if there are fewer training windows than input pipelines.
      ValueError: if a feature is missing.
    """
    return classification_dataset.array_dataset(
        features, FEATURE_NAMES, FEATURE_NAMES, batch_size, is_training, seed,
        input_context, drop_remainder, trim_padding)
