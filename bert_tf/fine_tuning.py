"""What fine-tuning adds to the shared training loop: freezing parts of the encoder,
and keeping the best checkpoint on the development set with early stopping."""

import json
import os

import keras
import tensorflow as tf
from absl import logging

from bert_tf import checkpoints, outputs
from bert_tf.errors import UserInputError

BEST_DIRECTORY = "best"
TASK_INFO = "task_info.json"
_BEST_STATE = "best_metric.json"


def read_task_info(output_dir: str) -> dict | None:
    """What a training run saved about its task in `output_dir` (labels, shape), if any."""
    path = os.path.join(output_dir, TASK_INFO)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as reader:
        return json.load(reader)


def write_task_info(output_dir: str, task: dict) -> None:
    """Saves `task` in `output_dir/task_info.json` (atomically)."""
    outputs.write_atomically(os.path.join(output_dir, TASK_INFO),
                             [json.dumps(task, indent=1) + "\n"])


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
      UserInputError: if `trainable_top_layers` is negative or exceeds the layer count.
    """
    blocks = model.bert.encoder.blocks
    frozen = []
    if trainable_top_layers is not None:
        if not 0 <= trainable_top_layers <= len(blocks):
            raise UserInputError(f"--trainable_top_layers={trainable_top_layers} must be "
                                 f"between 0 and the model's {len(blocks)} layers.")
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

    The state (best value and step, evaluations without improvement) is a JSON file
    beside the weights, so a resumed run goes on counting where the killed one was.
    The weights are a checkpoint in Google's naming (`best/model.ckpt`).
    """

    def __init__(self, output_dir: str, metric: str, patience: int,
                 higher_is_better: bool = True):
        """Reads the state a previous run of the same output directory left, if any."""
        self.directory = os.path.join(output_dir, BEST_DIRECTORY)
        self.metric = metric
        self.patience = patience
        self.higher_is_better = higher_is_better
        self.state = {"metric": metric, "value": None, "step": None, "stale": 0}
        path = os.path.join(self.directory, _BEST_STATE)
        if tf.io.gfile.exists(path):
            with tf.io.gfile.GFile(path) as reader:
                self.state = json.load(reader)

    @property
    def checkpoint(self) -> str | None:
        """The best weights' checkpoint prefix, once there is one."""
        return (os.path.join(self.directory, "model.ckpt")
                if self.state["value"] is not None else None)

    def _improves(self, value: float) -> bool:
        best = self.state["value"]
        if best is None:
            return True
        return value > best if self.higher_is_better else value < best

    def update(self, model: keras.Model, step: int, metrics: dict) -> bool:
        """Records the score of `model` at `step`; saves it if it is the best so far.

        Returns:
          True when training should stop: `patience` evaluations without improvement.
        """
        value = float(metrics[self.metric])
        if self._improves(value):
            tf.io.gfile.makedirs(self.directory)
            checkpoints.save_google_checkpoint(model, self.checkpoint or
                                               os.path.join(self.directory, "model.ckpt"),
                                               overwrite=True)
            self.state.update(value=value, step=step, stale=0)
            logging.info("New best %s %.4f at step %d.", self.metric, value, step)
        else:
            self.state["stale"] += 1
            logging.info("%s %.4f at step %d; best %.4f at step %d (%d of %d evaluations "
                         "without improvement).", self.metric, value, step,
                         self.state["value"], self.state["step"], self.state["stale"],
                         self.patience)
        outputs.write_atomically(os.path.join(self.directory, _BEST_STATE),
                                 [json.dumps(self.state) + "\n"])
        return self.state["stale"] >= self.patience
