"""What fine-tuning adds to the shared training loop: the task file of an output
folder, freezing parts of the encoder, and keeping the best checkpoint on the
development set with early stopping."""

import json
import os
from typing import Callable

import keras
import tensorflow as tf
from absl import logging

from bert_tf import checkpoints
from bert_tf import io as outputs
from bert_tf.errors import InvalidArgumentError, UserInputError

BEST_DIRECTORY = "best"
TASK_INFO = "task_info.json"
# 1: the first files, without a version (a classifier's: task_name, labels,
# is_regression, pair; NER's: task ("ner"), labels, scheme, use_crf; `run_kind` added
# later). 2: `version` and `run_kind` always, no `task` key.
TASK_INFO_VERSION = 2
_BEST_STATE = "best_metric.json"


def _written_by(fields: dict) -> str:
    """The script that wrote a `task_info.json` (files written before the kind was kept
    are told apart by their keys: only `run_ner.py`'s has `"task": "ner"`)."""
    if "run_kind" in fields:
        return fields["run_kind"]
    return "run_ner.py" if fields.get("task") == "ner" else "run_classifier.py"


def read_task_info(output_dir: str, run_kind: str) -> dict | None:
    """The fields a training run saved about its task in `output_dir`, if any, with
    `version` (1 for a file without one) and `run_kind` filled in. The fields of each
    task are checked by its `bert_tf.tasks.base.TaskInfo`.

    Args:
      output_dir: the run's folder.
      run_kind: the script about to use the folder, e.g. "run_classifier.py".

    Raises:
      UserInputError: naming the folder or file, if the task was saved by another kind
        of run, the file is not a JSON object, or a later version of this project
        wrote it.
    """
    path = os.path.join(output_dir, TASK_INFO)
    read = outputs.read_json(
        path, lambda fields: (fields, _written_by(fields)), lambda error: UserInputError(
            f"{path} is not the task file this project writes ({error}); choose a new "
            "output folder."))
    if read is None:
        return None
    fields, written_by = read
    if written_by != run_kind:
        raise UserInputError(
            f"{output_dir!r} holds the task of a {written_by} run ({TASK_INFO}), and this "
            f"is a {run_kind} run: choose a new output folder.")
    version = fields.get("version", 1)
    if type(version) is not int or not 1 <= version <= TASK_INFO_VERSION:
        raise UserInputError(
            f"{path} has version {version!r}; this version of bert_tf reads versions 1 "
            f"to {TASK_INFO_VERSION}: use the bert_tf that wrote it, or a new output "
            "folder.")
    return {**fields, "version": version, "run_kind": written_by}


def write_task_info(output_dir: str, fields: dict, run_kind: str) -> str:
    """Saves a task's `fields`, after `version` and `run_kind`, in
    `output_dir/task_info.json` (atomically), creating `output_dir` if needed.

    Returns:
      the file's path.
    """
    tf.io.gfile.makedirs(output_dir)
    return outputs.write_json_atomically(
        os.path.join(output_dir, TASK_INFO),
        {"version": TASK_INFO_VERSION, "run_kind": run_kind, **fields})


def freeze_layers(model: keras.Model, freeze_embeddings: bool = False,
                  trainable_top_layers: int | None = None) -> list[str]:
    """Makes parts of a classifier's encoder untrainable (before the optimizer is built).

    Args:
      model: a `BertClassifier` or `BertTokenClassifier` (anything with `.bert`).
      freeze_embeddings: freeze the embedding layer (word, position, segment, LayerNorm).
      trainable_top_layers: if given, train only this many of the top encoder layers
        (and the pooler and the head); the embeddings and lower layers are frozen.

    Returns:
      the names of the frozen layers, for the log.

    Raises:
      InvalidArgumentError: if `trainable_top_layers` is negative or exceeds the layer
        count.
    """
    blocks = model.bert.encoder.blocks
    frozen = []
    if trainable_top_layers is not None:
        if not 0 <= trainable_top_layers <= len(blocks):
            raise InvalidArgumentError("trainable_top_layers", trainable_top_layers,
                                       f"must be between 0 and the model's {len(blocks)} "
                                       "layers.")
        freeze_embeddings = True
        for block in blocks[:len(blocks) - trainable_top_layers]:
            block.trainable = False
            frozen.append(block.name)
    if freeze_embeddings:
        model.bert.embeddings.trainable = False
        frozen.insert(0, model.bert.embeddings.name)
    return frozen


class BestCheckpointKeeper:
    """Keeps the weights with the best development score in `output_dir/best/` and says
    when the score has not improved for `patience` evaluations in a row.

    The state (best value, step and checkpoint, the last step evaluated, evaluations
    without improvement) is a JSON file beside the weights, so a resumed run goes on
    counting where the killed one was. The weights are a checkpoint in Google's naming,
    `best/model.ckpt-STEP`: a new best is written beside the old one, the state is
    switched to it, and only then is the old one removed, so a run killed at any point
    keeps a complete best checkpoint.
    """

    def __init__(self, output_dir: str, metric: str, patience: int):
        """Reads the state a previous run of the same output directory left, if any.

        Args:
          output_dir: the run's folder; the best weights go in its `best/`.
          metric: the key of the evaluation results to follow; higher is better.
          patience: evaluations without improvement after which to stop.
        """
        self.directory = os.path.join(output_dir, BEST_DIRECTORY)
        self.metric = metric
        self.patience = patience
        self.state = {"metric": metric, "value": None, "step": None, "stale": 0,
                      "evaluated": None, "checkpoint": None}
        path = os.path.join(self.directory, _BEST_STATE)
        if tf.io.gfile.exists(path):
            with tf.io.gfile.GFile(path) as reader:
                # An earlier version kept neither the checkpoint's name nor the last
                # step evaluated: its weights are `best/model.ckpt`.
                self.state = {"evaluated": None, "checkpoint": "model.ckpt",
                              **json.load(reader)}

    @property
    def checkpoint(self) -> str | None:
        """The best weights' checkpoint prefix, once there is one."""
        if self.state["value"] is None:
            return None
        return os.path.join(self.directory, self.state["checkpoint"])

    def _improves(self, value: float) -> bool:
        return self.state["value"] is None or value > self.state["value"]

    def after_checkpoint(self, model: keras.Model, step: int,
                         evaluate: Callable[[keras.Model], dict]) -> bool:
        """`update` with `evaluate(model)`, unless `step` was evaluated already (as when
        a run killed after evaluating its last checkpoint resumes from it).

        Returns:
          True when training should stop: `patience` evaluations without improvement.
        """
        evaluated = self.state["evaluated"]
        if evaluated is not None and step <= evaluated:
            return self.state["stale"] >= self.patience
        return self.update(model, step, evaluate(model))

    def update(self, model: keras.Model, step: int, metrics: dict) -> bool:
        """Records the score of `model` at `step`; saves it if it is the best so far.

        Returns:
          True when training should stop: `patience` evaluations without improvement.
        """
        value = float(metrics[self.metric])
        if self._improves(value):
            name = f"model.ckpt-{step}"
            # Beside the previous best (overwriting only what a killed run left unused).
            checkpoints.save_google_checkpoint(model, os.path.join(self.directory, name),
                                               overwrite=True)
            self.state.update(value=value, step=step, stale=0, checkpoint=name)
            logging.info("New best %s %.4f at step %d.", self.metric, value, step)
        else:
            self.state["stale"] += 1
            logging.info("%s %.4f at step %d; best %.4f at step %d (%d of %d evaluations "
                         "without improvement).", self.metric, value, step,
                         self.state["value"], self.state["step"], self.state["stale"],
                         self.patience)
        self.state["evaluated"] = step
        tf.io.gfile.makedirs(self.directory)
        outputs.write_json_atomically(os.path.join(self.directory, _BEST_STATE),
                                      self.state, indent=None)
        self._remove_others()
        return self.state["stale"] >= self.patience

    def _remove_others(self) -> None:
        """Removes checkpoint files in `best/` other than the best's (an earlier best,
        or what a killed save left)."""
        keep = self.state["checkpoint"]
        for name in tf.io.gfile.listdir(self.directory):
            if name.startswith("model.ckpt") and name not in (keep + ".index",
                                                               keep + ".data-00000-of-00001"):
                tf.io.gfile.remove(os.path.join(self.directory, name))
