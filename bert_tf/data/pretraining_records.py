"""Pre-training TFRecords in Google's layout, and the metadata file written beside them.

Each record is a `tf.train.Example` with Google's features: int64 `input_ids`,
`input_mask`, `segment_ids` [max_seq_length]; int64 `masked_lm_positions`,
`masked_lm_ids` and float `masked_lm_weights` [max_predictions_per_seq];
int64 `next_sentence_labels` [1] (0: B follows A, 1: B is random).
"""

import hashlib
import json

import tensorflow as tf

from bert_tf.data.pretraining_instances import InstanceBatch
from bert_tf.errors import UserInputError

_INT_FEATURES = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions",
                 "masked_lm_ids", "next_sentence_labels")
METADATA_SUFFIX = ".metadata.json"


def feature_spec(max_seq_length: int, max_predictions_per_seq: int) -> dict:
    """The parsing spec of Google's `run_pretraining.py` for these records."""
    return {
        "input_ids": tf.io.FixedLenFeature([max_seq_length], tf.int64),
        "input_mask": tf.io.FixedLenFeature([max_seq_length], tf.int64),
        "segment_ids": tf.io.FixedLenFeature([max_seq_length], tf.int64),
        "masked_lm_positions": tf.io.FixedLenFeature([max_predictions_per_seq], tf.int64),
        "masked_lm_ids": tf.io.FixedLenFeature([max_predictions_per_seq], tf.int64),
        "masked_lm_weights": tf.io.FixedLenFeature([max_predictions_per_seq], tf.float32),
        "next_sentence_labels": tf.io.FixedLenFeature([1], tf.int64),
    }


def _encode(message_type: str, field: str, values: tf.Tensor) -> tf.Tensor:
    """Serializes one message per row of `values` [N, K] into its repeated `field`."""
    count, width = tf.shape(values)[0], tf.shape(values)[1]
    return tf.io.encode_proto(sizes=tf.fill([count, 1], width), values=[values],
                              field_names=[field], message_type=message_type)


def _feature(values: tf.Tensor) -> tf.Tensor:
    """`tf.train.Feature`s holding each row of `values` as an int64 or float list."""
    if values.dtype == tf.float32:
        inner = _encode("tensorflow.FloatList", "value", values)
        field = "float_list"
    else:
        inner = _encode("tensorflow.Int64List", "value", tf.cast(values, tf.int64))
        field = "int64_list"
    return _encode("tensorflow.Feature", field, inner[:, None])


_BATCH_SPEC = {name: tf.TensorSpec([None, None], tf.int32) for name in _INT_FEATURES}
_BATCH_SPEC["masked_lm_weights"] = tf.TensorSpec([None, None], tf.float32)


@tf.function(input_signature=[_BATCH_SPEC])
def _serialize(features: dict[str, tf.Tensor]) -> tf.Tensor:
    count = tf.shape(features["input_ids"])[0]
    entries = []
    # Map entries in key order: the bytes protobuf writes with deterministic=True.
    for name in sorted(features):
        entry = tf.io.encode_proto(
            sizes=tf.ones([count, 2], tf.int32),
            values=[tf.fill([count, 1], name), _feature(features[name])[:, None]],
            field_names=["key", "value"], message_type="tensorflow.Features.FeatureEntry")
        entries.append(entry)
    features_message = _encode("tensorflow.Features", "feature", tf.stack(entries, axis=1))
    return _encode("tensorflow.Example", "features", features_message[:, None])


def serialize_batch(batch: InstanceBatch) -> list[bytes]:
    """Serialized `tf.train.Example`s, one per instance, byte-identical to protobuf's
    deterministic serialization (the feature map sorted by key), so that the same
    instances always give the same file."""
    features = {name: tf.constant(getattr(batch, name), tf.int32) for name in _INT_FEATURES}
    features["masked_lm_weights"] = tf.constant(batch.masked_lm_weights, tf.float32)
    return list(_serialize(features).numpy())


def vocab_hash(vocab_file: str) -> str:
    """SHA-256 of the vocabulary file's bytes."""
    with tf.io.gfile.GFile(vocab_file, "rb") as reader:
        return hashlib.sha256(reader.read()).hexdigest()


def metadata_path(record_file: str) -> str:
    """Where the metadata of `record_file` lives."""
    return record_file + METADATA_SUFFIX


def write_metadata(record_file: str, metadata: dict) -> None:
    """Writes the metadata JSON beside `record_file` (temporary name, then renamed)."""
    path = metadata_path(record_file)
    with tf.io.gfile.GFile(path + ".tmp", "w") as writer:
        writer.write(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    tf.io.gfile.rename(path + ".tmp", path, overwrite=True)


def read_metadata(record_file: str) -> dict | None:
    """The metadata written beside `record_file`, or None (e.g. Google's records)."""
    path = metadata_path(record_file)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path, "r") as reader:
        return json.load(reader)


def check_metadata(record_file: str, max_seq_length: int, max_predictions_per_seq: int,
                   vocab_size: int | None = None) -> None:
    """Fails with one sentence when the records were made for other settings.

    Raises:
      UserInputError: on a mismatch of sequence length, predictions or vocab size.
    """
    metadata = read_metadata(record_file)
    if metadata is None:
        return
    for key, expected, flag in (
            ("max_seq_length", max_seq_length, "--max_seq_length"),
            ("max_predictions_per_seq", max_predictions_per_seq, "--max_predictions_per_seq")):
        if metadata[key] != expected:
            raise UserInputError(
                f"{record_file} was created with {key}={metadata[key]}, but {flag}="
                f"{expected}; pass {flag}={metadata[key]} or re-create the data.")
    if vocab_size is not None and metadata["vocab_size"] > vocab_size:
        raise UserInputError(
            f"{record_file} was created with a vocabulary of {metadata['vocab_size']} "
            f"tokens, larger than the model's vocab_size={vocab_size}; use the matching "
            "bert_config.json or re-create the data with the model's vocab.txt.")
