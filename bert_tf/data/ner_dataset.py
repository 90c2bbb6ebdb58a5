"""`tf.data` input for token classification from `NerFeatures` arrays."""

import numpy as np
import tensorflow as tf

from bert_tf.data.classification_dataset import pad_to_multiple
from bert_tf.errors import UserInputError

FEATURE_NAMES = ("input_ids", "input_mask", "segment_ids", "label_ids", "label_weights")


def _trim(batch: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """Cuts every [batch, seq] feature to the longest sequence of the batch (at least
    1); word positions all lie inside the input mask, so no label is lost."""
    length = tf.maximum(tf.reduce_max(tf.reduce_sum(batch["input_mask"], axis=1)), 1)
    return {name: value[:, :length] if name in FEATURE_NAMES else value
            for name, value in batch.items()}


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
      features: `NerFeatures.arrays()` (`bert_tf.data.ner_features`).
      batch_size: the batch size of this input pipeline (per worker).
      is_training: training or evaluation behaviour, as above.
      seed: shuffling seed (None: not reproducible).
      input_context: from `strategy.distribute_datasets_from_function`.
      drop_remainder: static batch size (see above).
      trim_padding: cut each batch's sequence axis to its longest window (the sequence
        dimension becomes None): less work on CPU and GPU; not for TPUs.

    Raises:
      UserInputError: if there are fewer training windows than input pipelines.
      ValueError: if a feature is missing.
    """
    missing = [name for name in FEATURE_NAMES if name not in features]
    if missing:
        raise ValueError(f"features lack {missing}; expected {list(FEATURE_NAMES)}.")
    pipelines = input_context.num_input_pipelines if input_context else 1
    pipeline_id = input_context.input_pipeline_id if input_context else 0
    features = {name: features[name] for name in FEATURE_NAMES}
    count = len(features["input_ids"])
    if is_training:
        if count < pipelines:
            raise UserInputError(f"{count} training windows cannot feed {pipelines} input "
                                 "pipelines; give more training data.")
        features["is_real_example"] = np.ones(count, np.float32)
    elif drop_remainder:
        features = pad_to_multiple(features, batch_size * pipelines)
    else:
        features["is_real_example"] = np.ones(count, np.float32)
    tensors = {name: tf.constant(array) for name, array in features.items()}

    # Shuffle and batch row indexes, then gather whole batches (small shuffle buffer,
    # one gather per batch).
    dataset = tf.data.Dataset.range(len(features["input_ids"]))
    if pipelines > 1:
        dataset = dataset.shard(pipelines, pipeline_id)
    if is_training:
        shard_size = len(range(pipeline_id, count, pipelines))
        dataset = dataset.shuffle(shard_size, seed=seed, reshuffle_each_iteration=True)
        dataset = dataset.repeat()
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    dataset = dataset.map(
        lambda indexes: {name: tf.gather(tensor, indexes) for name, tensor in tensors.items()},
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if trim_padding:
        dataset = dataset.map(_trim, num_parallel_calls=tf.data.AUTOTUNE,
                              deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)
