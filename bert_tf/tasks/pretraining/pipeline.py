"""Corpus to pre-training records, in parallel and in memory bounded by one shard.

The corpus (one sentence per line, blank lines between documents) is cut into shards
of whole documents, at most `max_shard_bytes` each (a larger single document makes a
larger shard). Each shard is tokenized with the in-graph tokenizer in batches, turned
into instances `dupe_factor` times, shuffled and masked (`build_instances`, NumPy
only), then serialized and written to a temporary record file. Random "next" segments
come from another document of the same shard (Google's script draws from the whole
corpus, which forces it to hold the whole corpus in memory). Finally the shard files
are interleaved, one record from each in turn, into the output files, round-robin.

The main process does the TensorFlow work (tokenizing, serializing, writing); worker
processes build instances, so they never load TensorFlow and start in a fraction of a
second with little memory. Every shard draws its randomness from its own generator
seeded by (random_seed, shard index), so the output is the same whatever the number
of workers.
"""

import dataclasses
import itertools
import multiprocessing
import os
import random
import time
from typing import Iterator, Mapping

import numpy as np

from bert_tf import console, file_checks
from bert_tf.tasks.pretraining import instances as instances_lib
from bert_tf.tasks.pretraining.instances import MaskingConfig

_TOKENIZE_BATCH = 2048
_INSTANCE_BATCH = 4096
# Interleaving: shards that take turns at once, bytes read from each at a time, and
# records gathered per output before a write.
_OPEN_SHARDS = 64
_READ_BYTES = 1 << 20
_WRITE_RECORDS = 1024
# A TFRecord frame: length and its checksum before the record, its checksum after it.
_FRAME_HEAD_BYTES = 12
_FRAME_TAIL_BYTES = 4
# A file in which more than this fraction of the tokens are [UNK] gets a warning.
UNKNOWN_WARNING_FRACTION = 0.05


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


def iter_shards(input_files: list[str], max_shard_bytes: int, argument: str = "input_files",
                ) -> Iterator[tuple[list[bytes], list[tuple[str, int]]]]:
    """Yields runs of whole documents: each a list of lines (bytes, newline stripped)
    and where they come from, `(path, number of lines)` for each file in turn.

    Raises:
      UserInputError: at the first line that is not UTF-8 text, naming `argument`, the
        file and the byte (`file_checks.decode_utf8`).
    """
    import tensorflow as tf  # Only the reading side needs gfile (gs:// paths).

    lines: list[bytes] = []
    sources: list[tuple[str, int]] = []
    size = 0
    for path in input_files:
        first = len(lines)  # Where this file's lines start in `lines`.
        offset = 0
        with tf.io.gfile.GFile(path, "rb") as reader:
            for line in reader:
                file_checks.decode_utf8(line, path, argument, offset)
                offset += len(line)
                is_blank = not line.strip()
                if is_blank and size >= max_shard_bytes:
                    sources.append((path, len(lines) - first))
                    yield lines, sources
                    lines, sources, size, first = [], [], 0, 0
                    continue
                lines.append(line.rstrip(b"\r\n"))
                size += len(line)
        lines.append(b"")  # A file ends its last document.
        sources.append((path, len(lines) - first))
    if any(line.strip() for line in lines):
        yield lines, sources


@dataclasses.dataclass
class TokenizedShard:
    """A shard's sentences as token ids (see `Tokenizer.documents`)."""

    index: int
    tokens: np.ndarray
    documents: list[list[int]]
    sentences: int


def build_instances(shard: TokenizedShard, config: PipelineConfig,
                    is_continuation: np.ndarray) -> tuple[list[bytes], ShardStats]:
    """The shard's instances, `dupe_factor` passes over its documents, shuffled,
    masked and serialized. NumPy only: runs in worker processes."""
    rng = np.random.default_rng([config.random_seed, shard.index])
    scalar_rng = random.Random(int(rng.integers(2**63)))
    documents = list(shard.documents)
    scalar_rng.shuffle(documents)
    pairs = []
    for _ in range(config.dupe_factor):
        for index in range(len(documents)):
            pairs += instances_lib.create_pairs_from_document(
                documents, index, config.masking, scalar_rng)
    scalar_rng.shuffle(pairs)
    stats = ShardStats(documents=len(documents), sentences=shard.sentences)
    records = []
    for start in range(0, len(pairs), _INSTANCE_BATCH):
        input_ids, segment_ids, lengths, first_sep, labels = instances_lib.pack_pairs(
            shard.tokens, pairs[start:start + _INSTANCE_BATCH], config.masking)
        batch = instances_lib.mask_batch(input_ids, segment_ids, lengths, first_sep, labels,
                                         config.masking, rng, is_continuation)
        records += batch.serialize()
        stats.instances += len(batch)
        stats.tokens += int(lengths.sum())
        stats.masked += int(batch.masked_lm_weights.sum())
        stats.eligible += int((lengths - 3).sum())
        stats.random_next += int(labels.sum())
    return records, stats


class Tokenizer:
    """Reads shards into token ids with the in-graph tokenizer (main process), and
    counts tokens and `[UNK]`s per input file (`counts_by_file`)."""

    def __init__(self, config: PipelineConfig):
        """Builds the tokenizer (the slow part of start-up)."""
        from bert_tf.text.graph_tokenization import InGraphTokenizer
        from bert_tf.text import tokenization

        self.tokenizer = InGraphTokenizer(config.vocab_file, config.do_lower_case)
        vocab = tokenization.load_vocab(config.vocab_file)
        self.unknown_id = vocab[tokenization.UNK_TOKEN]
        self.is_continuation = np.zeros(max(vocab.values()) + 1, bool)
        for token, index in vocab.items():
            self.is_continuation[index] = token.startswith("##")
        # path -> [tokens, [UNK] tokens], over every shard tokenized with its sources.
        self.counts_by_file: dict[str, list[int]] = {}

    def documents(self, index: int, lines: list[bytes],
                  sources: list[tuple[str, int]] | None = None) -> TokenizedShard:
        """Tokenizes lines as Google reads them: a blank line ends a document, a line
        without tokens is skipped. A document is the list of offsets where its
        sentences start in the shard's flat token array, followed by its end.

        `sources` (from `iter_shards`) says which file each line comes from; with it,
        the lines' tokens and `[UNK]`s are added to `counts_by_file`."""
        import tensorflow as tf

        pieces, documents, current = [], [], []
        line_tokens, line_unknown = [], []
        offset = 0
        for start in range(0, len(lines), _TOKENIZE_BATCH):
            batch = lines[start:start + _TOKENIZE_BATCH]
            ragged = self.tokenizer.tokenize(tf.constant(batch))
            ids = ragged.flat_values.numpy()
            row_splits = ragged.row_splits.numpy()
            pieces.append(ids)
            unknown = np.concatenate([[0], np.cumsum(ids == self.unknown_id)])
            line_unknown.append(unknown[row_splits[1:]] - unknown[row_splits[:-1]])
            row_lengths = np.diff(row_splits)
            line_tokens.append(row_lengths)
            for line, length in zip(batch, row_lengths.tolist()):
                if not line.strip():
                    if current:
                        documents.append(current + [offset])
                    current = []
                elif length:
                    current.append(offset)
                    offset += length
        if current:
            documents.append(current + [offset])
        if sources is not None and line_tokens:
            self._count_by_file(sources, np.concatenate(line_tokens),
                                np.concatenate(line_unknown))
        tokens = np.concatenate(pieces) if pieces else np.zeros(0, np.int32)
        return TokenizedShard(index, tokens, documents,
                              sum(len(document) - 1 for document in documents))

    def _count_by_file(self, sources: list[tuple[str, int]], line_tokens: np.ndarray,
                       line_unknown: np.ndarray) -> None:
        start = 0
        for path, count in sources:
            totals = self.counts_by_file.setdefault(path, [0, 0])
            totals[0] += int(line_tokens[start:start + count].sum())
            totals[1] += int(line_unknown[start:start + count].sum())
            start += count


def unknown_token_warnings(counts_by_file: dict[str, list[int]],
                           threshold: float = UNKNOWN_WARNING_FRACTION,
                           arguments: tuple[str, str] = ("vocab_file", "do_lower_case"),
                           ) -> list[str]:
    """One warning per file in which more than `threshold` of the tokens are `[UNK]`:
    a sign of a vocabulary or casing that does not fit the text (text Google's
    vocabulary fits has well under 1%). The warning tells to check the two `arguments`
    that set them (a script passes its flags)."""
    warnings = []
    for path, (tokens, unknown) in counts_by_file.items():
        if tokens and unknown > threshold * tokens:
            warnings.append(
                f"{path}: {unknown} of its {tokens} tokens ({unknown / tokens:.1%}) are "
                f"[UNK], more than {threshold:.0%}; check that {arguments[0]} and "
                f"{arguments[1]} fit this text.")
    return warnings


def write_records(records: list[bytes], path: str) -> None:
    """Writes serialized records to a TFRecord file (main process)."""
    import tensorflow as tf

    with tf.io.TFRecordWriter(path) as writer:
        for record in records:
            writer.write(record)


def start_workers(processes: int):
    """Starts `processes` NumPy-only worker processes (None for none)."""
    if processes < 1:
        return None
    # "spawn": the parent has TensorFlow loaded, which is not fork-safe.
    return multiprocessing.get_context("spawn").Pool(processes)


def create_shard_files(input_files: list[str], config: PipelineConfig, temp_dir: str,
                       pool, pool_size: int, max_shard_bytes: int, log=print, warn=print,
                       names: Mapping[str, str] | None = None,
                       ) -> tuple[list[str], ShardStats]:
    """Processes every shard of the corpus into a record file under `temp_dir`.

    This process tokenizes each shard and queues it for the workers of `pool` (from
    `start_workers`; `pool_size` of them), or builds its instances itself when the
    queue already holds two shards per worker; it writes every shard's serialized
    instances as they come back. So at most `2 * pool_size + 1` shards are in memory.
    At the end, `warn`s about files with many `[UNK]`s (`unknown_token_warnings`).

    Messages name `input_files`, `vocab_file` (of `config`) and `do_lower_case` as
    `names` maps them (a script maps them to its flags); unmapped, by those names.

    Returns:
      the shard files in shard order, and the summed counts.
    """
    def name(argument: str) -> str:
        return (names or {}).get(argument, argument)

    import tensorflow as tf  # Only the parent process sizes the input (gs:// paths).

    tokenizer = Tokenizer(config)
    totals = ShardStats()
    paths: list[str] = []
    pending: list[tuple[str, object]] = []
    started = time.time()
    input_bytes = sum(tf.io.gfile.stat(path).length for path in input_files)
    shard_bytes: dict[str, int] = {}
    done_bytes = 0

    def finish(path: str, records: list[bytes], stats: ShardStats) -> None:
        nonlocal done_bytes
        write_records(records, path)
        totals.add(stats)
        done_bytes += shard_bytes.pop(path)
        seconds = time.time() - started
        log(f"{min(100, 100 * done_bytes // max(input_bytes, 1))}% of the input "
            f"({done_bytes / 1e6:.1f}/{input_bytes / 1e6:.1f} MB, {len(paths)} "
            f"shards read), {totals.instances} instances written, {seconds:.1f} s, "
            f"ETA {console.eta(done_bytes, input_bytes, seconds)}")

    for index, (lines, sources) in enumerate(
            iter_shards(input_files, max_shard_bytes, name("input_files"))):
        path = os.path.join(temp_dir, f"shard-{index:06d}.tfrecord")
        paths.append(path)
        shard_bytes[path] = sum(len(line) + 1 for line in lines)
        shard = tokenizer.documents(index, lines, sources)
        del lines
        while pending and pending[0][1].ready():
            finished_path, result = pending.pop(0)
            finish(finished_path, *result.get())
        if len(pending) < 2 * pool_size:
            pending.append((path, pool.apply_async(
                build_instances, (shard, config, tokenizer.is_continuation))))
        else:
            finish(path, *build_instances(shard, config, tokenizer.is_continuation))
    for path, result in pending:
        finish(path, *result.get())
    for message in unknown_token_warnings(
            tokenizer.counts_by_file,
            arguments=(name("vocab_file"), name("do_lower_case"))):
        warn(message)
    return paths, totals


def _framed_records(path: str) -> Iterator[bytes]:
    """The records of a TFRecord file with their framing, as stored: each is the
    record's length (uint64, little-endian) and its masked CRC-32C (uint32), the
    record, then the record's masked CRC-32C (uint32). Copied as they are, they make a
    valid TFRecord file without computing a checksum again."""
    import tensorflow as tf  # gfile: temporary files beside gs:// outputs.

    with tf.io.gfile.GFile(path, "rb") as reader:
        data = b""
        while chunk := reader.read(_READ_BYTES):
            data += chunk
            frames, position = [], 0
            while position + _FRAME_HEAD_BYTES <= len(data):
                end = (position + _FRAME_HEAD_BYTES + _FRAME_TAIL_BYTES
                       + int.from_bytes(data[position:position + 8], "little"))
                if end > len(data):
                    break
                frames.append(data[position:end])
                position = end
            data = data[position:]
            yield from frames
    if data:
        raise ValueError(f"{path} ends inside a record: it is not a complete TFRecord file.")


def interleave_into_outputs(shard_files: list[str], output_files: list[str]) -> list[int]:
    """Writes the shards' records into the outputs: one record of each shard in turn,
    dealt round-robin over the outputs. At most `_OPEN_SHARDS` shards take turns at
    once; when one runs out, the next shard takes its place from the next turn on.
    Returns the number of records per output."""
    import tensorflow as tf

    waiting = iter(shard_files)
    turns = [_framed_records(path) for path in itertools.islice(waiting, _OPEN_SHARDS)]
    counts = [0] * len(output_files)
    buffers: list[list[bytes]] = [[] for _ in output_files]
    writers = [tf.io.gfile.GFile(path, "wb") for path in output_files]
    position = 0
    try:
        while turns:
            next_turns = []
            for records in turns:
                frame = next(records, None)
                if frame is None:
                    replacement = next(waiting, None)
                    if replacement is not None:
                        next_turns.append(_framed_records(replacement))
                    continue
                next_turns.append(records)
                buffers[position].append(frame)
                counts[position] += 1
                if len(buffers[position]) == _WRITE_RECORDS:
                    writers[position].write(b"".join(buffers[position]))
                    buffers[position].clear()
                position = (position + 1) % len(writers)
            turns = next_turns
        for writer, buffer in zip(writers, buffers):
            writer.write(b"".join(buffer))
    finally:
        for writer in writers:
            writer.close()
    return counts
