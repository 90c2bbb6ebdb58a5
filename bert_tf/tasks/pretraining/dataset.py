"""`tf.data` input for pre-training from TFRecords in Google's layout."""

import tensorflow as tf

from bert_tf.tasks.pretraining import records as pretraining_records
from bert_tf.errors import InvalidArgumentError


def expand_record_files(patterns: str, argument: str = "patterns") -> list[str]:
    """Comma-separated paths or globs (local or gs://) to the record files, skipping
    the `.metadata.json` files written beside them.

    Args:
      patterns: e.g. `records/*.tfrecord,more.tfrecord`.
      argument: the name errors give `patterns` (a script passes its flag's name,
        `input_file`).

    Raises:
      InvalidArgumentError: if a pattern matches no record file, or none is given.
    """
    files = []
    for pattern in filter(None, (part.strip() for part in patterns.split(","))):
        matches = [path for path in sorted(tf.io.gfile.glob(pattern))
                   if not path.endswith(pretraining_records.METADATA_SUFFIX)]
        if not matches:
            raise InvalidArgumentError(argument, pattern, "matches no record file.")
        files += matches
    if not files:
        raise InvalidArgumentError(argument, patterns, "names no record file.")
    return files


def _decode(record: tf.Tensor, spec: dict) -> dict[str, tf.Tensor]:
    """Parses one Example; int64 becomes int32 (TPUs have no int64 on the device)."""
    example = tf.io.parse_single_example(record, spec)
    return {name: tf.cast(value, tf.int32) if value.dtype == tf.int64 else value
            for name, value in example.items()}


def pretraining_dataset(files: list[str], max_seq_length: int, max_predictions_per_seq: int,
                        batch_size: int, is_training: bool, seed: int | None = None,
                        input_context: tf.distribute.InputContext | None = None,
                        ) -> tf.data.Dataset:
    """Batches of pre-training features.

    Training: files are sharded over input pipelines (one per worker), shuffled, read in
    parallel and interleaved, records shuffled, repeated forever; batches have a static
    shape (`drop_remainder=True`), as TPUs and XLA need. Evaluation reads the files in
    order, once.

    Args:
      files: record files (see `expand_record_files`).
      max_seq_length, max_predictions_per_seq: the records' shapes.
      batch_size: the batch size of this input pipeline (per worker).
      is_training: training or evaluation behaviour, as above.
      seed: shuffling seed (None: not reproducible).
      input_context: from `strategy.distribute_datasets_from_function`.
    """
    spec = pretraining_records.feature_spec(max_seq_length, max_predictions_per_seq)
    dataset = tf.data.Dataset.from_tensor_slices(tf.constant(files))
    if is_training:
        pipelines = input_context.num_input_pipelines if input_context else 1
        # Shard by file when there are enough files, else by record.
        shard_files = pipelines > 1 and len(files) >= pipelines
        if shard_files:
            dataset = dataset.shard(pipelines, input_context.input_pipeline_id)
        dataset = dataset.shuffle(len(files), seed=seed).repeat()
        dataset = dataset.interleave(
            tf.data.TFRecordDataset, cycle_length=min(len(files), 8),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=seed is not None)
        if pipelines > 1 and not shard_files:
            dataset = dataset.shard(pipelines, input_context.input_pipeline_id)
        dataset = dataset.shuffle(1000, seed=seed)
    else:
        dataset = dataset.flat_map(tf.data.TFRecordDataset)
    dataset = dataset.map(lambda record: _decode(record, spec),
                          num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    dataset = dataset.batch(batch_size, drop_remainder=is_training)
    return dataset.prefetch(tf.data.AUTOTUNE)
