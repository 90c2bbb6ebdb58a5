"""Pre-training records from a corpus of any size, as an Apache Beam pipeline.

The same instance algorithm as the local path (`bert_tf.tasks.pretraining.pipeline`),
spread over Beam workers:

    input files --read--> documents --sha256 bucket--> GroupByKey
      --per bucket: tokenize, build dupe_factor x instances, mask, serialize-->
      one record file per bucket --per output file, buckets in order--> outputs

- A document is the run of lines between blank lines of one file (files are read
  whole, line by line: Beam's byte-offset splits cannot rebuild such documents). Its
  bucket is `sha256(seed:file index:document index) mod buckets`, so every bucket
  holds documents from the whole corpus, and random "next" segments, drawn from the
  document's bucket, come from anywhere in it: unlike the local path, whose shards are
  runs of neighbouring documents (mostly of one file), and like Google's script, which
  draws from the whole corpus but must hold it in memory.
- A bucket holds about `max_bucket_bytes` of text (the corpus size over the bucket
  count), which bounds a worker's memory; the bucket count is a multiple of the
  output files, and bucket b goes to output b mod outputs.
- Deterministic: a bucket's documents are sorted by (file, document) before its
  instances are built from a generator seeded by (random_seed, bucket), and each
  output file concatenates its buckets' records in bucket order, so the same inputs,
  flags and seed give byte-identical files on every runner and worker count.
- Counters (documents, sentences, instances, tokens, masked and eligible tokens,
  random next) are Beam metrics in namespace `bert_tf`, and are summed into the
  returned `ShardStats` from small JSON files the workers write.

The pipeline writes the outputs under the temporary names it is given; the caller
renames them once the whole run has succeeded.
"""

import dataclasses
import hashlib
import json
import math
import os
from typing import Iterator

from bert_tf import file_checks
from bert_tf.beam import options as beam_options
from bert_tf.tasks.pretraining import pipeline as local_pipeline
from bert_tf.tasks.pretraining.pipeline import PipelineConfig, ShardStats

NAMESPACE = "bert_tf"
_STATS_FILE = "output-{:05d}.json"
_UNKNOWN_FILE = "unknown_tokens.json"


@dataclasses.dataclass(frozen=True)
class BucketPlan:
    """How documents are spread: `num_buckets` buckets keyed by `seed`, bucket b
    written to output b mod `num_outputs`."""

    num_buckets: int
    num_outputs: int
    seed: int

    def bucket(self, file_index: int, document_index: int) -> int:
        """The bucket of a document: a stable hash (sha256; Python's `hash` differs
        between processes) of its place in the corpus and the seed."""
        digest = hashlib.sha256(f"{self.seed}:{file_index}:{document_index}".encode())
        return int.from_bytes(digest.digest()[:8], "big") % self.num_buckets


def plan_buckets(input_bytes: int, max_bucket_bytes: int, num_outputs: int,
                 seed: int) -> BucketPlan:
    """Enough buckets that each holds about `max_bucket_bytes` of the `input_bytes`,
    rounded up to a multiple of `num_outputs` (so that every output gets as many)."""
    per_output = max(1, math.ceil(input_bytes / max_bucket_bytes / num_outputs))
    return BucketPlan(per_output * num_outputs, num_outputs, seed)


def read_documents(file: tuple[int, str], plan: BucketPlan, argument: str,
                   ) -> Iterator[tuple[int, tuple[int, int, list[bytes]]]]:
    """The documents of one input file, `(its index in the corpus, its path)`, as
    `(bucket, (file index, document index, lines))`: lines without their line ends,
    blank lines dropped, documents split at blank lines as Google's script reads them.

    Raises:
      UserInputError: at the first byte that is not UTF-8, naming `argument`, the
        file and the byte.
    """
    beam = beam_options.import_beam()
    file_index, path = file
    lines: list[bytes] = []
    document_index = offset = 0
    with beam.io.filesystems.FileSystems.open(
            path, compression_type=beam.io.filesystem.CompressionTypes.UNCOMPRESSED,
    ) as reader:
        for line in reader:
            file_checks.decode_utf8(line, path, argument, offset)
            offset += len(line)
            if line.strip():
                lines.append(line.rstrip(b"\r\n"))
            elif lines:
                yield plan.bucket(file_index, document_index), (file_index,
                                                                 document_index, lines)
                lines, document_index = [], document_index + 1
    if lines:
        yield plan.bucket(file_index, document_index), (file_index, document_index, lines)


def bucket_records_path(temp_dir: str, bucket: int) -> str:
    """Where a bucket's serialized instances wait for their output file."""
    return os.path.join(temp_dir, f"bucket-{bucket:06d}.tfrecord")


def _stats_dict(stats: ShardStats) -> dict:
    return dataclasses.asdict(stats)


def _make_dofns():
    """The pipeline's DoFn classes (made here: Beam is imported only when a pipeline
    runs)."""
    beam = beam_options.import_beam()
    metrics = beam.metrics.Metrics

    class BuildBucket(beam.DoFn):
        """Tokenizes a bucket's documents and writes its instances (one tokenizer per
        worker, built in `setup`)."""

        def __init__(self, config: PipelineConfig, temp_dir: str, plan: BucketPlan):
            self.config, self.temp_dir, self.plan = config, temp_dir, plan
            self.counters = {}

        def setup(self):
            self.tokenizer = local_pipeline.Tokenizer(self.config)
            self.counters = {field.name: metrics.counter(NAMESPACE, field.name)
                             for field in dataclasses.fields(ShardStats)}

        def process(self, element, input_files: list[str]):
            bucket, documents = element
            documents = sorted(documents, key=lambda document: document[:2])
            lines, sources = [], []
            for file_index, _, document in documents:
                lines += document
                lines.append(b"")
                sources.append((input_files[file_index], len(document) + 1))
            self.tokenizer.counts_by_file = {}
            shard = self.tokenizer.documents(bucket, lines, sources)
            records, stats = local_pipeline.build_instances(
                shard, self.config, self.tokenizer.is_continuation)
            local_pipeline.write_records(records, bucket_records_path(self.temp_dir, bucket))
            for name, value in _stats_dict(stats).items():
                self.counters[name].inc(value)
            yield bucket % self.plan.num_outputs, (bucket, _stats_dict(stats))
            for path, counts in self.tokenizer.counts_by_file.items():
                yield beam.pvalue.TaggedOutput("unknown", (path, tuple(counts)))

    class WriteOutput(beam.DoFn):
        """Concatenates an output file's buckets, in bucket order, into its temporary
        name, and records its counts for the launcher."""

        def __init__(self, temporary_outputs: list[str], temp_dir: str):
            self.temporary_outputs, self.temp_dir = temporary_outputs, temp_dir

        def process(self, element):
            import tensorflow as tf

            index, grouped = element
            buckets = sorted(grouped["buckets"])
            totals = ShardStats()
            with tf.io.TFRecordWriter(self.temporary_outputs[index]) as writer:
                for bucket, stats in buckets:
                    totals.add(ShardStats(**stats))
                    path = bucket_records_path(self.temp_dir, bucket)
                    # The bucket files stay until the launcher removes the folder: a
                    # retried step reads them again.
                    for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
                        writer.write(record)
            with tf.io.gfile.GFile(os.path.join(self.temp_dir, _STATS_FILE.format(index)),
                                   "w") as stats_file:
                json.dump(_stats_dict(totals), stats_file)
            yield index

    class WriteUnknownCounts(beam.DoFn):
        """Writes the per-file token and [UNK] counts, for the launcher's warnings."""

        def __init__(self, temp_dir: str):
            self.temp_dir = temp_dir

        def process(self, counts: dict):
            import tensorflow as tf

            with tf.io.gfile.GFile(os.path.join(self.temp_dir, _UNKNOWN_FILE), "w") as out:
                json.dump({path: list(value) for path, value in counts.items()}, out)

    return BuildBucket, WriteOutput, WriteUnknownCounts


def _sum_pairs(pairs) -> tuple[int, int]:
    tokens = unknown = 0
    for pair_tokens, pair_unknown in pairs:
        tokens, unknown = tokens + pair_tokens, unknown + pair_unknown
    return tokens, unknown


@dataclasses.dataclass
class BeamRecords:
    """What a pipeline run wrote.

    Attributes:
      counts: the records of each output file.
      stats: the counts of the whole run (summed from the output files' JSON).
      counts_by_file: per input file, its tokens and `[UNK]` tokens (for
        `local_pipeline.unknown_token_warnings`).
      metrics: the run's Beam counters of namespace `NAMESPACE`, by name.
    """

    counts: list[int]
    stats: ShardStats
    counts_by_file: dict[str, list[int]]
    metrics: dict[str, int]


def create_records(input_files: list[str], temporary_outputs: list[str],
                   config: PipelineConfig, temp_dir: str, max_bucket_bytes: int,
                   pipeline_arguments: list[str], argument: str = "input_files",
                   ) -> BeamRecords:
    """Runs the pipeline (see the module docstring) with Beam's `pipeline_arguments`
    (`--runner=...` and its options), writing the records into `temporary_outputs`.

    Args:
      input_files: the corpus files (local or `gs://`, readable by the workers).
      temporary_outputs: the files to write, one per output.
      config: the tokenizer and instance settings (its vocabulary file must be
        readable by the workers).
      temp_dir: an empty folder for the buckets' files and counts (readable and
        writable by the workers and this process).
      max_bucket_bytes: about how much text a bucket holds.
      pipeline_arguments: Beam's options.
      argument: how messages name the input files.

    Returns:
      the counts of what was written (`BeamRecords`).

    Raises:
      UserInputError: for input the workers could not read (as one line).
    """
    import tensorflow as tf

    beam = beam_options.import_beam()
    input_bytes = sum(tf.io.gfile.stat(path).length for path in input_files)
    plan = plan_buckets(input_bytes, max_bucket_bytes, len(temporary_outputs),
                        config.random_seed)
    build_bucket, write_output, write_unknown = _make_dofns()

    def build(pipeline) -> None:
        built = (
            pipeline
            | "Files" >> beam.Create(list(enumerate(input_files)))
            | "SpreadFiles" >> beam.Reshuffle()
            | "Documents" >> beam.FlatMap(read_documents, plan=plan, argument=argument)
            | "Buckets" >> beam.GroupByKey()
            | "Instances" >> beam.ParDo(build_bucket(config, temp_dir, plan),
                                        input_files=input_files).with_outputs(
                                            "unknown", main="buckets"))
        outputs = pipeline | "Outputs" >> beam.Create(
            [(index, None) for index in range(len(temporary_outputs))])
        _ = ({"buckets": built.buckets, "outputs": outputs}
             | "BucketsByOutput" >> beam.CoGroupByKey()
             | "WriteOutputs" >> beam.ParDo(write_output(temporary_outputs, temp_dir)))
        _ = (built.unknown
             | "SumByFile" >> beam.CombinePerKey(_sum_pairs)
             | "AllFiles" >> beam.combiners.ToDict()
             | "WriteUnknown" >> beam.ParDo(write_unknown(temp_dir)))

    result = beam_options.run_pipeline(build, pipeline_arguments)
    counts, totals = [], ShardStats()
    for index in range(len(temporary_outputs)):
        with tf.io.gfile.GFile(os.path.join(temp_dir, _STATS_FILE.format(index))) as reader:
            stats = ShardStats(**json.load(reader))
        counts.append(stats.instances)
        totals.add(stats)
    unknown_file = os.path.join(temp_dir, _UNKNOWN_FILE)
    unknown = {}
    if tf.io.gfile.exists(unknown_file):
        with tf.io.gfile.GFile(unknown_file) as reader:
            unknown = json.load(reader)
    return BeamRecords(counts, totals, unknown, beam_options.counters(result, NAMESPACE))
