"""Corpus to pre-training records, in parallel and in memory bounded by one shard.

The corpus (one sentence per line, blank lines between documents) is cut into shards
of whole documents, at most `max_shard_bytes` each (a larger single document makes a
larger shard). Each shard is processed on its own, by a worker process: tokenized with
the in-graph tokenizer in batches, turned into instances `dupe_factor` times,
shuffled, masked and written to a temporary record file. Random "next" segments come
from another document of the same shard (Google's script draws from the whole
corpus, which forces it to hold the whole corpus in memory). Finally the shard files
are interleaved, one record from each in turn, into the output files, round-robin.

Every shard draws its randomness from its own generator seeded by (random_seed,
shard index), so the output is the same whatever the number of workers.
"""

import dataclasses
import multiprocessing
import os
import random
import time
from typing import Iterator

import numpy as np

from bert_tf.data import pretraining_instances as instances_lib
from bert_tf.data.pretraining_instances import MaskingConfig

_TOKENIZE_BATCH = 2048
_INSTANCE_BATCH = 4096


@dataclasses.dataclass
class ShardStats:
    """Counts for one shard, summed over shards for the final summary."""

    documents: int = 0
    sentences: int = 0
    instances: int = 0
    tokens: int = 0
    masked: int = 0
    eligible: int = 0
    random_next: int = 0

    def add(self, other: "ShardStats") -> None:
        """Adds `other`'s counts to these."""
        for field in dataclasses.fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Everything a worker needs besides the shard itself."""

    vocab_file: str
    do_lower_case: bool
    masking: MaskingConfig
    dupe_factor: int
    random_seed: int


def iter_shards(input_files: list[str], max_shard_bytes: int) -> Iterator[list[bytes]]:
    """Yields lists of lines (bytes, newline stripped), each a run of whole documents."""
    import tensorflow as tf  # Only the reading side needs gfile (gs:// paths).

    lines: list[bytes] = []
    size = 0
    for path in input_files:
        with tf.io.gfile.GFile(path, "rb") as reader:
            for line in reader:
                is_blank = not line.strip()
                if is_blank and size >= max_shard_bytes:
                    yield lines
                    lines, size = [], 0
                    continue
                lines.append(line.rstrip(b"\r\n"))
                size += len(line)
        lines.append(b"")  # A file ends its last document.
    if any(line.strip() for line in lines):
        yield lines


class ShardProcessor:
    """Turns shards into record files; one per worker process."""

    def __init__(self, config: PipelineConfig):
        """Builds the tokenizer (the slow part of start-up)."""
        from bert_tf.graph_tokenization import InGraphTokenizer
        from bert_tf import tokenization

        self.config = config
        self.tokenizer = InGraphTokenizer(config.vocab_file, config.do_lower_case)
        vocab = tokenization.load_vocab(config.vocab_file)
        self.is_continuation = np.zeros(max(vocab.values()) + 1, bool)
        for token, index in vocab.items():
            self.is_continuation[index] = token.startswith("##")

    def documents(self, lines: list[bytes]) -> tuple[np.ndarray, list[list[int]], int]:
        """Tokenizes lines as Google reads them: a blank line ends a document, a line
        without tokens is skipped.

        Returns:
          the flat token ids of all sentences, per document the offsets where its
          sentences start followed by its end, and the number of sentences.
        """
        import tensorflow as tf

        pieces, documents, current = [], [], []
        offset = 0
        for start in range(0, len(lines), _TOKENIZE_BATCH):
            batch = lines[start:start + _TOKENIZE_BATCH]
            ragged = self.tokenizer.tokenize(tf.constant(batch))
            pieces.append(ragged.flat_values.numpy())
            row_lengths = np.diff(ragged.row_splits.numpy()).tolist()
            for line, length in zip(batch, row_lengths):
                if not line.strip():
                    if current:
                        documents.append(current + [offset])
                    current = []
                elif length:
                    current.append(offset)
                    offset += length
        if current:
            documents.append(current + [offset])
        tokens = np.concatenate(pieces) if pieces else np.zeros(0, np.int32)
        return tokens, documents, sum(len(document) - 1 for document in documents)

    def process(self, shard_index: int, lines: list[bytes], output_path: str) -> ShardStats:
        """Writes the shard's shuffled, masked instances to `output_path`."""
        import tensorflow as tf
        from bert_tf.data import pretraining_records

        config = self.config
        rng = np.random.default_rng([config.random_seed, shard_index])
        scalar_rng = random.Random(int(rng.integers(2**63)))
        tokens, documents, sentences = self.documents(lines)
        stats = ShardStats(documents=len(documents), sentences=sentences)
        scalar_rng.shuffle(documents)
        pairs = []
        for _ in range(config.dupe_factor):
            for index in range(len(documents)):
                pairs += instances_lib.create_pairs_from_document(
                    documents, index, config.masking, scalar_rng)
        scalar_rng.shuffle(pairs)
        with tf.io.TFRecordWriter(output_path) as writer:
            for start in range(0, len(pairs), _INSTANCE_BATCH):
                input_ids, segment_ids, lengths, first_sep, labels = instances_lib.pack_pairs(
                    tokens, pairs[start:start + _INSTANCE_BATCH], config.masking)
                batch = instances_lib.mask_batch(
                    input_ids, segment_ids, lengths, first_sep, labels, config.masking, rng,
                    self.is_continuation)
                for record in pretraining_records.serialize_batch(batch):
                    writer.write(record)
                stats.instances += len(batch)
                stats.tokens += int(lengths.sum())
                stats.masked += int(batch.masked_lm_weights.sum())
                stats.eligible += int((lengths - 3).sum())
                stats.random_next += int(labels.sum())
        return stats


_processors: dict[PipelineConfig, ShardProcessor] = {}


def _processor(config: PipelineConfig) -> ShardProcessor:
    """The process's `ShardProcessor` for `config`, built on first use."""
    if config not in _processors:
        _processors[config] = ShardProcessor(config)
    return _processors[config]


def _warm_up() -> None:
    """Worker start-up: load TensorFlow and the Unicode tables before the first shard."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from bert_tf.graph_tokenization import _CharacterClasses
    _CharacterClasses.get()


def _process_in_worker(config: PipelineConfig, shard_index: int, lines: list[bytes],
                       output_path: str) -> ShardStats:
    return _processor(config).process(shard_index, lines, output_path)


def start_workers(extra_processes: int):
    """Starts `extra_processes` worker processes (None for none) that begin loading
    TensorFlow at once, so that their start-up overlaps the caller's."""
    if extra_processes < 1:
        return None
    # "spawn": TensorFlow is not fork-safe.
    return multiprocessing.get_context("spawn").Pool(extra_processes, initializer=_warm_up)


def create_shard_files(input_files: list[str], config: PipelineConfig, temp_dir: str,
                       pool, pool_size: int, max_shard_bytes: int, log=print,
                       ) -> tuple[list[str], ShardStats]:
    """Processes every shard of the corpus into a record file under `temp_dir`.

    The calling process works too: it takes the next shard itself whenever each of
    the `pool_size` workers of `pool` (from `start_workers`, or None) has one.

    Returns:
      the shard files in shard order, and the summed counts.
    """
    totals = ShardStats()
    paths: list[str] = []
    started = time.time()
    pending = []

    def report(stats: ShardStats) -> None:
        totals.add(stats)
        log(f"{len(paths)} shards read, {totals.instances} instances, "
            f"{time.time() - started:.1f} s")

    for index, lines in enumerate(iter_shards(input_files, max_shard_bytes)):
        path = os.path.join(temp_dir, f"shard-{index:06d}.tfrecord")
        paths.append(path)
        while pending and pending[0].ready():
            report(pending.pop(0).get())
        if len(pending) < pool_size:
            pending.append(pool.apply_async(_process_in_worker, (config, index, lines, path)))
        else:
            report(_processor(config).process(index, lines, path))
    for result in pending:
        report(result.get())
    return paths, totals


def interleave_into_outputs(shard_files: list[str], output_files: list[str]) -> list[int]:
    """Writes the shards' records into the outputs: one record of each shard in turn,
    dealt round-robin over the outputs. Returns the number of records per output."""
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(shard_files).interleave(
        tf.data.TFRecordDataset, cycle_length=max(1, min(len(shard_files), 64)),
        block_length=1).batch(1024)
    writers = [tf.io.TFRecordWriter(path) for path in output_files]
    counts = [0] * len(output_files)
    position = 0
    try:
        for records in dataset.as_numpy_iterator():
            for record in records:
                writers[position].write(record)
                counts[position] += 1
                position = (position + 1) % len(writers)
    finally:
        for writer in writers:
            writer.close()
    return counts
