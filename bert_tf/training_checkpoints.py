"""Training checkpoints in Google's layout, that a killed run resumes from.

`output_dir/model.ckpt-STEP` holds the weights under Google's variable names, the Adam
slots as `NAME/adam_m`, `NAME/adam_v` and `global_step`, as Google's
`run_pretraining.py` writes them, so Google's code and `load_checkpoint` read it. The
`checkpoint` file names the latest, as TensorFlow's own tools expect.
`bert_tf_checkpoints.json` lists the checkpoints this project wrote: only those are
ever resumed from or deleted. (The input position needs no file: the input is
seeded, so the trainer skips the batches the restored steps consumed.)

Files are written under temporary names and renamed, the model's `.index` last, so a
run killed while saving leaves the previous checkpoint intact.
"""

import json
import os

import tensorflow as tf
from absl import logging

from bert_tf import checkpoints
from bert_tf.errors import UserInputError

_OWN_LIST = "bert_tf_checkpoints.json"
_FILES = (".index", ".data-00000-of-00001")


def _variable_names(model) -> dict[str, tf.Variable]:
    try:
        return checkpoints.google_variable_map(model)
    except TypeError:  # A model without a Google name table: its Keras paths.
        return {variable.path: variable for variable in model.weights}


def _optimizer_slots(optimizer, names: dict[str, tf.Variable]) -> dict[str, tf.Variable]:
    """Adam slots under Google's names, and the step counter."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    slots = {"global_step": inner.iterations}
    for name, variable in names.items():
        if not variable.trainable:
            continue
        index = inner._get_variable_index(variable)
        slots[f"{name}/adam_m"] = inner._momentums[index]
        slots[f"{name}/adam_v"] = inner._velocities[index]
    return slots


class TrainingCheckpoints:
    """Saves and restores model, optimizer and input position in `output_dir`."""

    def __init__(self, output_dir: str, model, optimizer, keep: int = 5):
        """Prepares `output_dir`; raises if it holds checkpoints of another tool."""
        self.output_dir = output_dir
        self.model = model
        self.optimizer = optimizer
        self.keep = keep
        tf.io.gfile.makedirs(output_dir)
        self._own = self._read_own_list()
        if not self._own and tf.train.latest_checkpoint(output_dir):
            raise UserInputError(
                f"--output_dir {output_dir!r} holds checkpoints this project did not write; "
                "to start from them pass them as --init_checkpoint and choose a new "
                "--output_dir (nothing there is overwritten or deleted).")

    def _path(self, name: str) -> str:
        return os.path.join(self.output_dir, name)

    def _read_own_list(self) -> list[int]:
        path = self._path(_OWN_LIST)
        if not tf.io.gfile.exists(path):
            return []
        with tf.io.gfile.GFile(path) as reader:
            return sorted(json.load(reader)["steps"])

    def _write_text(self, name: str, text: str) -> None:
        temporary = self._path(name + ".tmp")
        with tf.io.gfile.GFile(temporary, "w") as writer:
            writer.write(text)
        tf.io.gfile.rename(temporary, self._path(name), overwrite=True)

    def _variables(self) -> dict[str, tf.Variable]:
        names = _variable_names(self.model)
        return {**names, **_optimizer_slots(self.optimizer, names)}

    def save(self, step: int) -> str:
        """Writes the checkpoint of `step`; keeps the newest `keep` of this project's."""
        prefix = self._path(f"model.ckpt-{step}")
        temporary = f"{prefix}.tmp-{os.getpid()}"
        variables = self._variables()
        names = sorted(variables)
        tf.raw_ops.SaveV2(prefix=temporary, tensor_names=names,
                          shape_and_slices=[""] * len(names),
                          tensors=[tf.convert_to_tensor(variables[name]) for name in names])
        for suffix in reversed(_FILES):  # The index last: it marks a complete file.
            tf.io.gfile.rename(temporary + suffix, prefix + suffix, overwrite=True)
        self._own = sorted(set(self._own) | {step})
        for old in self._own[:-self.keep]:
            for suffix in _FILES:
                if tf.io.gfile.exists(self._path(f"model.ckpt-{old}{suffix}")):
                    tf.io.gfile.remove(self._path(f"model.ckpt-{old}{suffix}"))
        self._own = self._own[-self.keep:]
        self._write_text(_OWN_LIST, json.dumps({"steps": self._own}) + "\n")
        self._write_text("checkpoint", "".join(
            [f'model_checkpoint_path: "model.ckpt-{self._own[-1]}"\n']
            + [f'all_model_checkpoint_paths: "model.ckpt-{s}"\n' for s in self._own]))
        logging.info("Saved %s", prefix)
        return prefix

    def restore_latest(self) -> str | None:
        """Restores the newest readable checkpoint of this project, if any.

        A checkpoint that cannot be read (e.g. cut short by a crash outside the save
        protocol) is skipped with a warning, and the one before it is used.

        Returns:
          the restored prefix, or None when there was nothing to resume.
        """
        for step in reversed(self._own):
            prefix = self._path(f"model.ckpt-{step}")
            try:
                reader = tf.train.load_checkpoint(prefix)
                values = {name: reader.get_tensor(name) for name in self._variables()}
            except (tf.errors.OpError, ValueError) as error:
                logging.warning("Checkpoint %s is unreadable (%s); trying the previous one.",
                                prefix, error)
                continue
            for name, variable in self._variables().items():
                variable.assign(tf.cast(values[name], variable.dtype))
            return prefix
        return None
