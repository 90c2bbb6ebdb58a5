"""Pre-training TFRecords in Google's layout, and the metadata file written beside them.

Each record is a `tf.train.Example` with Google's features: int64 `input_ids`,
`input_mask`, `segment_ids` [max_seq_length]; int64 `masked_lm_positions`,
`masked_lm_ids` and float `masked_lm_weights` [max_predictions_per_seq];
int64 `next_sentence_labels` [1] (0: B follows A, 1: B is random).
"""

import hashlib
import json

import tensorflow as tf

from bert_tf import io
from bert_tf.errors import InvalidArgumentError, UserInputError

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


def vocab_hash(vocab_file: str) -> str:
    """SHA-256 of the vocabulary file's bytes."""
    with tf.io.gfile.GFile(vocab_file, "rb") as reader:
        return hashlib.sha256(reader.read()).hexdigest()


def metadata_path(record_file: str) -> str:
    """Where the metadata of `record_file` lives."""
    return record_file + METADATA_SUFFIX


def write_metadata(record_file: str, metadata: dict) -> None:
    """Writes the metadata JSON beside `record_file`, keys sorted, atomically
    (`io.write_atomically`)."""
    io.write_atomically(metadata_path(record_file),
                        [json.dumps(metadata, indent=2, sort_keys=True) + "\n"])


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
      InvalidArgumentError: naming `max_seq_length` or `max_predictions_per_seq` when
        it differs from the records'.
      UserInputError: when the records' vocabulary is larger than `vocab_size`.
    """
    metadata = read_metadata(record_file)
    if metadata is None:
        return
    for argument, expected in (("max_seq_length", max_seq_length),
                               ("max_predictions_per_seq", max_predictions_per_seq)):
        if metadata[argument] != expected:
            raise InvalidArgumentError(
                argument, expected,
                f"does not fit {record_file}, which was created with {argument}="
                f"{metadata[argument]}; use {metadata[argument]} or re-create the data.")
    if vocab_size is not None and metadata["vocab_size"] > vocab_size:
        raise UserInputError(
            f"{record_file} was created with a vocabulary of {metadata['vocab_size']} "
            f"tokens, larger than the model's vocab_size={vocab_size}; use the matching "
            "bert_config.json or re-create the data with the model's vocab.txt.")
