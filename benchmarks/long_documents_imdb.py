"""Long documents: dev accuracy and speed of each long-input strategy of
run_classifier.py on IMDb reviews, beside Hugging Face's head-truncating fine-tuning.

Every bert_tf run is the task object and runner `run_classifier.py` runs, with
`--long_input_strategy` (and `--train_windows`) as the run's name says:

    head            Google's truncation (the default)
    tail            the last max_seq_length - 2 pieces
    head_tail       the first --head_tokens pieces (128) and the rest from the end
    windows         every window (--doc_stride: half a window) a training example
                    with its review's label; dev logits pooled by mean and by max
    windows_sample  one window per review per epoch, drawn anew; pooled as above

The two poolings of a windows run score the same trained model on the same dev
predictions (pooling plays no part in training). Hugging Face runs
`BertForSequenceClassification` in PyTorch on the `head` features with the same
weights and hyper-parameters (see `common.py`). Speeds: training texts/s (reviews
per second of the training phase: windows count as parts of their review) and the
model inputs/s behind them; prediction texts/s over the dev set (bert_tf: the first
predict call, graph tracing included; PyTorch: the inference loop).

    python benchmarks/long_documents_imdb.py --imdb_dir=../shared/data/imdb \
      --max_seq_length=256 --num_train_epochs=1 --seeds=1
"""

import os
import tempfile
import time

import numpy as np
import torch
from absl import app, flags

import common  # benchmarks/common.py: what the fine-tuning benchmarks share.
from bert_tf.tasks import runner
from bert_tf.tasks.base import DEV, TRAIN, FineTuningOptions
from bert_tf.tasks.classification.task import (SAMPLE_WINDOW, ClassificationOptions,
                                               ClassificationTask)
from bert_tf.text import long_inputs

FLAGS = flags.FLAGS
RUNS = {
    "head": {"long_input_strategy": long_inputs.HEAD},
    "tail": {"long_input_strategy": long_inputs.TAIL},
    "head_tail": {"long_input_strategy": long_inputs.HEAD_TAIL},
    "windows": {"long_input_strategy": long_inputs.WINDOWS},
    "windows_sample": {"long_input_strategy": long_inputs.WINDOWS,
                       "train_windows": SAMPLE_WINDOW},
}
flags.DEFINE_string("imdb_dir", "../shared/data/imdb", "Folder holding train.tsv and "
                    "dev.tsv (header sentence<TAB>label).")
HUGGING_FACE = "hugging_face_head"
flags.DEFINE_list("runs", ["head", HUGGING_FACE, "windows", "tail", "head_tail",
                           "windows_sample"],
                  "Runs, in this order: " + ", ".join([*RUNS, HUGGING_FACE]) + ".")
common.define_flags(max_seq_length_help="Maximum sequence length (the issue's 256).")
flags.adopt_module_key_flags(common)


class _TimedTask(ClassificationTask):
    """`run_classifier.py`'s task whose evaluation times the dev predictions and, for
    windows, scores them with both poolings."""

    def evaluate(self, model, strategy) -> dict[str, float]:
        started = time.time()
        input_logits = self.input_logits(model, strategy, DEV)
        seconds = time.time() - started
        texts = len(long_inputs.first_rows(self.features[DEV]["example_index"]))
        results = {"predict_examples_per_second": texts / seconds}
        poolings = long_inputs.POOLINGS if self.long_inputs.uses_windows else (None,)
        for pooling in poolings:
            scores = self.score(self.pool(input_logits, DEV, pooling))
            results.update({key + (f"_{pooling}" if pooling else ""): value
                            for key, value in scores.items()})
        return results


def _options(output_dir: str, seed: int) -> FineTuningOptions:
    return common.options(output_dir, FLAGS.imdb_dir, seed, eval_batch_size=64)


def run_ours(name: str, seed: int) -> dict:
    """One bert_tf run as run_classifier.py makes it; dev scores and speeds."""
    task = _TimedTask(ClassificationOptions("sst-2", **RUNS[name]))
    with tempfile.TemporaryDirectory() as output_dir:
        result = runner.run(task, _options(output_dir, seed))
    texts = len(long_inputs.first_rows(task.features[TRAIN]["example_index"]))
    inputs = result.global_step * FLAGS.train_batch_size
    return {"run": name,
            "examples_per_second": inputs / task.num_train_examples * texts
            / result.training_seconds,
            "inputs_per_second": inputs / result.training_seconds,
            "train_inputs": len(task.features[TRAIN]["label_ids"]), "train_texts": texts,
            "predict_examples_per_second": result.eval_results["predict_examples_per_second"],
            **{key: float(value) for key, value in result.eval_results.items()
               if key.startswith("eval_accuracy")}}


def _row(name: str, results: list[dict]) -> str:
    accuracy = [key for key in results[0] if key.startswith("eval_accuracy")]
    return (f"| {name} | " + ", ".join(
        f"{key.removeprefix('eval_accuracy').lstrip('_') or 'accuracy'} "
        f"{common.summary([r[key] for r in results])}" for key in accuracy)
        + f" | {common.summary([r['examples_per_second'] for r in results])}"
        + f" | {common.summary([r['predict_examples_per_second'] for r in results])} |")


def main(argv: list[str]) -> None:
    """Runs every run of every seed in the order given; prints a table."""
    del argv
    torch.set_num_threads(os.cpu_count() or 1)
    names = [name for name in FLAGS.runs
             if not (name == HUGGING_FACE and FLAGS.skip_hugging_face)]
    unknown = sorted(set(names) - {*RUNS, HUGGING_FACE})
    if unknown:
        raise app.UsageError(f"--runs: unknown {unknown}; choose from {list(RUNS)} and "
                             f"{HUGGING_FACE}.")
    runs = {name: [] for name in names}
    prepared = None
    if HUGGING_FACE in names:
        prepared = common.prepare(ClassificationTask(ClassificationOptions("sst-2")),
                                  _options)
    for seed in map(int, FLAGS.seeds):
        for name in names:
            result = (common.hugging_face_classification(prepared, seed)
                      if name == HUGGING_FACE else run_ours(name, seed))
            result = {"seed": seed, **result, "run": name}
            common.record(result)
            runs[name].append(result)
    table = ["| run | dev accuracy | training texts/s | prediction texts/s |",
             "| --- | --- | --- | --- |"]
    table += [_row(name, results) for name, results in runs.items() if results]
    if runs.get("head") and runs.get(HUGGING_FACE):
        ratio = (np.mean([r["examples_per_second"] for r in runs["head"]])
                 / np.mean([r["examples_per_second"] for r in runs[HUGGING_FACE]]))
        table.append(f"| training speed head / Hugging Face head | {ratio:.2f}× | | |")
    print("\n".join(table))


if __name__ == "__main__":
    app.run(main)
