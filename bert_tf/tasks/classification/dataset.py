"""`tf.data` input for sequence classification from in-memory feature arrays."""

import numpy as np
import tensorflow as tf

from bert_tf.errors import UserInputError
from bert_tf.text import long_inputs

FEATURE_NAMES = ("input_ids", "input_mask", "segment_ids", "label_ids")
_SEQUENCE_FEATURES = ("input_ids", "input_mask", "segment_ids")


def pad_to_multiple(features: dict[str, np.ndarray],
                    multiple: int) -> dict[str, np.ndarray]:
    """Appends all-zero rows until the example count is a multiple of `multiple`, and
    adds `is_real_example` (float32: 1 for the given rows, 0 for the padding) — Google's
    `PaddingInputExample`, so every eval batch is full and shapes stay static."""
    count = len(features["input_ids"])
    padding = -count % multiple
    padded = {name: np.concatenate([array, np.zeros((padding, *array.shape[1:]),
                                                    array.dtype)])
              for name, array in features.items()}
    padded["is_real_example"] = np.concatenate([np.ones(count, np.float32),
                                                np.zeros(padding, np.float32)])
    return padded


def _trim(batch: dict[str, tf.Tensor], sequence_features: tuple[str, ...],
          ) -> dict[str, tf.Tensor]:
    """Cuts the sequence axis of `sequence_features` to the longest sequence of the
    batch (at least 1)."""
    length = tf.maximum(tf.reduce_max(tf.reduce_sum(batch["input_mask"], axis=1)), 1)
    return {name: value[:, :length] if name in sequence_features else value
            for name, value in batch.items()}


def classification_dataset(features: dict[str, np.ndarray], batch_size: int,
                           is_training: bool, seed: int | None = None,
                           input_context: tf.distribute.InputContext | None = None,
                           drop_remainder: bool = True, trim_padding: bool = False,
                           sample_windows: bool = False) -> tf.data.Dataset:
    """Batches of classification features.

    Training: the examples are split over the input pipelines (one per worker), then
    shuffled (the whole shard, reshuffled each epoch; with a seed the order is the same
    on every run, so a resumed run can skip the batches it has seen, as
    `Trainer.train` does), repeated forever, and batched.

    Evaluation and prediction: every example once, in order, no shuffling. With
    `drop_remainder` (static shapes, as TPUs and XLA need) the examples are first
    padded with dummy rows to fill the last batch of every pipeline; with several
    pipelines, pipeline `i` gets examples `i, i + n, i + 2n, …`. Without it the last
    batch may be smaller and there is no padding.

    Every batch has `input_ids`, `input_mask`, `segment_ids` [batch, seq] int32,
    `label_ids` [batch] (int32, or float32 for regression) and `is_real_example`
    [batch] float32 (0 for padding rows: leave them out of metrics and predictions).

    Args:
      features: from `classification_data.convert_examples_to_features`.
      batch_size: the batch size of this input pipeline (per worker).
      is_training: training or evaluation behaviour, as above.
      seed: shuffling seed (None: not reproducible).
      input_context: from `strategy.distribute_datasets_from_function`.
      drop_remainder: static batch size (see above); for training, batches are
        always full, this only sets the static shape.
      trim_padding: cut each batch's sequence axis to its longest real sequence (the
        sequence dimension becomes None): less work on CPU and GPU; not for TPUs.
      sample_windows: training on examples of several rows (`example_index`,
        windows of a long text): each epoch takes one row of each example, drawn
        anew; otherwise every row is a training example.

    Raises:
      UserInputError: if there are no training examples, or fewer than pipelines.
    """
    return array_dataset(features, FEATURE_NAMES, _SEQUENCE_FEATURES, batch_size,
                         is_training, seed, input_context, drop_remainder, trim_padding,
                         row_groups=features["example_index"] if sample_windows else None)


def array_dataset(features: dict[str, np.ndarray], feature_names: tuple[str, ...],
                  sequence_features: tuple[str, ...], batch_size: int, is_training: bool,
                  seed: int | None = None,
                  input_context: tf.distribute.InputContext | None = None,
                  drop_remainder: bool = True, trim_padding: bool = False,
                  row_groups: np.ndarray | None = None) -> tf.data.Dataset:
    """The pipeline behind `classification_dataset` for any in-memory features: the
    arrays named `feature_names` (all with one row per example), of which
    `sequence_features` are [examples, seq] and are cut by `trim_padding`. See
    `classification_dataset` for the behaviour and the other arguments.

    With `row_groups` (the group of each row, ascending from 0, e.g. the example of
    each window), training shuffles groups, not rows, and takes one row of each group
    per epoch, drawn uniformly from the seed and the position in the stream (so a
    resumed run draws the same rows again).
    """
    missing = [name for name in feature_names if name not in features]
    if missing:
        raise ValueError(f"features lack {missing}; expected {list(feature_names)}.")
    pipelines = input_context.num_input_pipelines if input_context else 1
    pipeline_id = input_context.input_pipeline_id if input_context else 0
    features = {name: features[name] for name in feature_names}
    count = len(features["input_ids"])
    if is_training:
        if count < pipelines:
            raise UserInputError(f"{count} training examples cannot feed {pipelines} input "
                                 "pipelines; give more training data.")
        features["is_real_example"] = np.ones(count, np.float32)
    elif drop_remainder:
        features = pad_to_multiple(features, batch_size * pipelines)
    else:
        features["is_real_example"] = np.ones(count, np.float32)
    tensors = {name: tf.constant(array) for name, array in features.items()}

    # Shuffle and batch row indexes, then gather whole batches: the shuffle buffer
    # holds integers, not examples, and one gather per batch is cheap.
    sampled = is_training and row_groups is not None
    units = int(row_groups[-1]) + 1 if sampled and count else count
    dataset = tf.data.Dataset.range(units if sampled else len(features["input_ids"]))
    if pipelines > 1:
        dataset = dataset.shard(pipelines, pipeline_id)
    if is_training:
        shard_size = len(range(pipeline_id, units, pipelines))
        dataset = dataset.shuffle(shard_size, seed=seed, reshuffle_each_iteration=True)
        dataset = dataset.repeat()
    if sampled:
        dataset = _one_row_per_group(dataset, row_groups, seed)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    dataset = dataset.map(
        lambda indexes: {name: tf.gather(tensor, indexes) for name, tensor in tensors.items()},
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if trim_padding:
        dataset = dataset.map(lambda batch: _trim(batch, sequence_features),
                              num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


def _one_row_per_group(groups: tf.data.Dataset, row_groups: np.ndarray,
                       seed: int | None) -> tf.data.Dataset:
    """Maps a stream of group numbers to one row of each, drawn uniformly by a
    stateless generator keyed on `seed` and the element's position in the stream."""
    first = long_inputs.first_rows(row_groups)
    sizes = np.diff(np.append(first, len(row_groups)))
    first, sizes = tf.constant(first, tf.int64), tf.constant(sizes, tf.int64)
    key = tf.constant(np.random.SeedSequence().entropy % 2**31 if seed is None else seed,
                      tf.int64)

    def draw(position: tf.Tensor, group: tf.Tensor) -> tf.Tensor:
        size = tf.gather(sizes, group)
        offset = tf.random.stateless_uniform([], seed=tf.stack([key, position]),
                                             maxval=size, dtype=tf.int64)
        return tf.gather(first, group) + offset

    return groups.enumerate().map(draw)
