"""Training checkpoints in Google's layout, that a killed run resumes from.

`output_dir/model.ckpt-STEP` holds the weights under Google's variable names, the Adam
slots as `NAME/adam_m`, `NAME/adam_v` and `global_step`, as Google's
`run_pretraining.py` writes them, so Google's code and `load_checkpoint` read it. The
`checkpoint` file names the latest, as TensorFlow's own tools expect.

`bert_tf_checkpoints.json`, the folder's record, lists the checkpoints this project
wrote (only those are ever resumed from or deleted), the kind of run that wrote them
(e.g. `run_classifier.py`) and a signature of the model (its variable names and
shapes). A folder holding checkpoint files not in the record, such as Google's
`bert_model.ckpt`, or checkpoints of another kind of run or another model, is refused
rather than resumed from or overwritten. A record written before the kind and
signature were kept is accepted; the checkpoint's own variables are then checked
against the model when it is restored. (The input position needs no file: the input is
seeded, so the trainer skips the batches the restored steps consumed.)

A save writes both files under a temporary name unique to the save, adds the step to
the record, and renames them, the `.index` last: a run killed at any moment leaves
either a complete checkpoint or one without `.index`, which the resumed run skips,
saying so. A checkpoint whose files are damaged (cut short by a full disk, or a crash
outside this protocol) is skipped the same way, and the one before it is used.
"""

import hashlib
import json
import os
import re

import tensorflow as tf
from absl import logging

from bert_tf import checkpoints
from bert_tf.checkpoints import formats
from bert_tf.errors import InvalidArgumentError, UserInputError
from bert_tf.io import read_json, temporary_path, write_atomically
from bert_tf.training import optimization

RECORD = "bert_tf_checkpoints.json"
_FILES = (formats.INDEX_SUFFIX, formats.DATA_SUFFIX)
_SLOT_SUFFIXES = tuple(f"/{name}" for name in optimization.SLOT_NAMES)
_STEP = "global_step"
# What reading damaged checkpoint files raises: an `OpError` (bad checksum, bad magic
# number, missing file), an `IndexError` ("Read less bytes than requested" from a
# truncated `.data` file) or another built-in error the reader maps a status to.
_DAMAGE_ERRORS = (tf.errors.OpError, OSError, ValueError, LookupError, RuntimeError)
# Checkpoint files: `PREFIX.index` and `PREFIX.data-00000-of-00001`.
_CHECKPOINT_FILE = re.compile(r"^(?P<prefix>.+)(\.index|\.data-\d+-of-\d+)$")
_OWN_PREFIX = re.compile(r"^model\.ckpt-(?P<step>\d+)$")
_TEMPORARY_PREFIX = re.compile(r"^model\.ckpt-\d+\.tmp-[0-9a-f]+$")
# Everything an interrupted save can leave: its checkpoint files under the temporary
# prefix (and TensorFlow's own temporary files beside them), its record or index file.
_LEFTOVER = re.compile(rf"^(model\.ckpt-\d+\.tmp-[0-9a-f]+\.|({re.escape(RECORD)}|checkpoint)"
                       r"\.tmp-[0-9a-f]+$)")


def _variable_names(model) -> dict[str, tf.Variable]:
    """`model`'s variables by the name checkpoints give them."""
    try:
        return checkpoints.google_variable_map(model)
    except TypeError:  # A model without a Google name table: its Keras paths.
        return {variable.path: variable for variable in model.weights}


def _optimizer_slots(optimizer, names: dict[str, tf.Variable]) -> dict[str, tf.Variable]:
    """Adam slots under Google's names (`NAME/adam_m`, `NAME/adam_v`), and the step
    counter.

    Raises:
      TypeError: for an optimizer that does not give its slots (`slots_for`), as
        `bert_tf.training.optimization`'s do.
    """
    inner = getattr(optimizer, "inner_optimizer", optimizer)  # fp16's loss scaling.
    if not callable(getattr(inner, "slots_for", None)):
        raise TypeError(f"Training checkpoints need an optimizer that gives its slot "
                        f"variables (slots_for), as bert_tf.training.optimization's do; "
                        f"got {type(inner).__name__}.")
    slots = {_STEP: inner.iterations}
    for name, variable in names.items():
        if not variable.trainable:
            continue
        for slot, slot_variable in inner.slots_for(variable).items():
            slots[f"{name}/{slot}"] = slot_variable
    return slots


def model_signature(model) -> str:
    """A short hash of `model`'s variable names and shapes (as checkpoints name them):
    two models whose checkpoints fit each other have the same signature."""
    text = "".join(f"{name} {list(variable.shape)}\n"
                   for name, variable in sorted(_variable_names(model).items()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def read_record(output_dir: str) -> dict | None:
    """The record of the checkpoints this project wrote in `output_dir`, if any:
    `steps`, and (from records written since they were kept) `run_kind`, `model` and
    `signature`.

    Raises:
      UserInputError: if the record is not such JSON.
    """
    path = os.path.join(output_dir, RECORD)

    def parse(record: dict) -> dict:
        record["steps"] = sorted(int(step) for step in record["steps"])
        return record

    return read_json(path, parse, lambda error: UserInputError(
        f"{path} is not the checkpoint record this project writes ({error}); if the "
        f"folder's checkpoints are yours, remove {RECORD} and pass one of them as "
        "init_checkpoint to a run in another folder."))


def _foreign_checkpoint_files(output_dir: str, record: dict | None) -> list[str]:
    """The checkpoint files in `output_dir` that the record does not list as this
    project's (leftovers of an interrupted save of this project excepted)."""
    if not tf.io.gfile.isdir(output_dir):
        return []
    own = set(record["steps"]) if record else set()
    foreign = []
    for name in sorted(tf.io.gfile.listdir(output_dir)):
        name = name.rstrip("/")
        if name == "checkpoint" and record is None:
            foreign.append(name)
        match = _CHECKPOINT_FILE.match(name)
        if not match:
            continue
        prefix = match.group("prefix")
        step = _OWN_PREFIX.match(prefix)
        if _TEMPORARY_PREFIX.match(prefix) or (step and int(step.group("step")) in own):
            continue
        foreign.append(name)
    return foreign


def check_output_dir(output_dir: str, run_kind: str) -> None:
    """Refuses an `output_dir` that holds checkpoint files this project did not write
    (e.g. Google's `bert_model.ckpt`) or checkpoints of another kind of run; reads only.

    Args:
      output_dir: the folder a run of `run_kind` is about to write in.
      run_kind: what is about to train there, e.g. "run_classifier.py".

    Raises:
      InvalidArgumentError: for `output_dir`, one sentence saying what it holds and
        what to do.
      UserInputError: if its record is damaged (see `read_record`).
    """
    record = read_record(output_dir)
    foreign = _foreign_checkpoint_files(output_dir, record)
    if foreign:
        raise InvalidArgumentError(
            "output_dir", output_dir,
            f"holds checkpoints this project did not write ({', '.join(foreign[:3])}"
            f"{', ...' if len(foreign) > 3 else ''}); to start from them pass them as "
            "init_checkpoint and choose another folder (nothing there is overwritten or "
            "deleted).")
    written_by = (record or {}).get("run_kind")
    if written_by is not None and written_by != run_kind:
        raise InvalidArgumentError(
            "output_dir", output_dir,
            f"holds the checkpoints of a {written_by} run, and this is a {run_kind} run: "
            "choose another folder (to start from those weights, pass one of its "
            "checkpoints as init_checkpoint).")


def _difference(shapes: dict[str, list[int]], variables: dict[str, tf.Variable],
                weights_only: bool) -> str | None:
    """How a checkpoint's variables (name -> shape) differ from `variables`, in words,
    or None when they fit (with `weights_only`, the optimizer slots are not compared)."""
    def is_weight(name: str) -> bool:
        return name != _STEP and not name.endswith(_SLOT_SUFFIXES)

    for name, variable in variables.items():
        if weights_only and not is_weight(name) and name != _STEP:
            continue
        if name not in shapes:
            if is_weight(name):
                return f"it has no variable {name!r}"
            if name == _STEP:
                return f"it has no {_STEP}"
            return (f"it has no optimizer state for {name.rsplit('/', 1)[0]!r} (it was "
                    "trained with other variables frozen)")
        if list(shapes[name]) != list(variable.shape):
            return (f"its {name!r} is {list(shapes[name])}, this model's "
                    f"{list(variable.shape)}")
    for name in sorted(shapes):
        if name not in variables and (is_weight(name) or not weights_only):
            return (f"it holds {name!r}, which this model lacks" if is_weight(name) else
                    f"it holds optimizer state for {name.rsplit('/', 1)[0]!r}, which "
                    "this run does not train (it was trained with other variables frozen)")
    return None


def _another_model(prefix: str, difference: str) -> str:
    """The message for a checkpoint of another model than the run's."""
    return (f"Checkpoint {prefix} belongs to another model ({difference}), e.g. of "
            "another bert_config.json or label count, or with or without a CRF: choose "
            "another output_dir for this model, or run with the settings that wrote it.")


class TrainingCheckpoints:
    """Saves and restores model, optimizer and step in `output_dir`.

    Args:
      output_dir: the folder (created at the first save).
      model: the model; its variables are saved under Google's names.
      optimizer: a built optimizer of `bert_tf.training.optimization`, whose Adam
        slots (`slots_for`) are saved with the weights, or fp16's loss-scale wrapper of
        one.
      keep: how many of the newest checkpoints to keep.
      run_kind: what trains (e.g. "run_pretraining.py"), recorded and checked.
    """

    def __init__(self, output_dir: str, model, optimizer, keep: int = 5,
                 run_kind: str = "training"):
        """Checks `output_dir`; creates nothing.

        Raises:
          InvalidArgumentError: if `output_dir` holds checkpoints this project did not
            write, or of another kind of run or another model (see `check_output_dir`).
          UserInputError: if the newest readable checkpoint belongs to another model.
        """
        self.output_dir = output_dir
        self.model = model
        self.optimizer = optimizer
        self.keep = keep
        self.run_kind = run_kind
        self.signature = model_signature(model)
        check_output_dir(output_dir, run_kind)
        record = read_record(output_dir) or {"steps": []}
        self._own = record["steps"]
        recorded = record.get("signature")
        if self._own and recorded != self.signature:
            # Another model, or a record of an earlier version without a signature:
            # compare the newest readable checkpoint's variables with the model's.
            prefix, difference = self._newest_difference()
            if difference is not None:
                raise UserInputError(_another_model(prefix, difference))
            if prefix is None and recorded is not None:  # None readable: the record says.
                raise InvalidArgumentError(
                    "output_dir", output_dir,
                    f"holds the checkpoints of another model (a "
                    f"{record.get('model', 'model')} of other variable names or shapes, "
                    f"says its {RECORD}): choose another folder.")

    def _newest_difference(self) -> tuple[str | None, str | None]:
        """The newest checkpoint whose index can be read, and how its weights differ
        from the model's (None when they fit); (None, None) if none can be read."""
        variables = self._variables(weights_only=True)
        for step in reversed(self._own):
            prefix = self._path(f"model.ckpt-{step}")
            try:
                shapes = tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
            except _DAMAGE_ERRORS:
                continue  # Said when restoring.
            return prefix, _difference(shapes, variables, weights_only=True)
        return None, None

    def _path(self, name: str) -> str:
        return os.path.join(self.output_dir, name)

    def _write_record(self, steps: list[int]) -> None:
        write_atomically(self._path(RECORD), [json.dumps(
            {"steps": steps, "run_kind": self.run_kind, "model": type(self.model).__name__,
             "signature": self.signature}) + "\n"])

    def _variables(self, weights_only: bool = False) -> dict[str, tf.Variable]:
        names = _variable_names(self.model)
        if weights_only:
            return {**names, _STEP: self.optimizer.iterations}
        return {**names, **_optimizer_slots(self.optimizer, names)}

    def save(self, step: int) -> str:
        """Writes the checkpoint of `step`; keeps the newest `keep` of this project's."""
        tf.io.gfile.makedirs(self.output_dir)
        prefix = self._path(f"model.ckpt-{step}")
        # Unique to this save, on any machine: two processes never share a name.
        temporary = temporary_path(prefix)
        formats.write_google_files(temporary, self._variables())
        # Recorded before its files get their names, so that no file named
        # model.ckpt-STEP is ever there without its step in the record.
        self._own = sorted(set(self._own) | {step})
        self._write_record(self._own)
        formats.move_google_files(temporary, prefix)  # The index last.
        for old in self._own[:-self.keep]:
            for suffix in _FILES:
                if tf.io.gfile.exists(self._path(f"model.ckpt-{old}{suffix}")):
                    tf.io.gfile.remove(self._path(f"model.ckpt-{old}{suffix}"))
        self._own = self._own[-self.keep:]
        self._write_record(self._own)
        write_atomically(self._path("checkpoint"),
                         [f'model_checkpoint_path: "model.ckpt-{self._own[-1]}"\n']
                         + [f'all_model_checkpoint_paths: "model.ckpt-{s}"\n'
                            for s in self._own])
        self._remove_leftovers()
        logging.info("Saved %s", prefix)
        return prefix

    def _remove_leftovers(self) -> None:
        """Removes the temporary files of earlier saves that were interrupted."""
        for name in tf.io.gfile.listdir(self.output_dir):
            if _LEFTOVER.match(name):
                tf.io.gfile.remove(self._path(name))

    def restore_latest(self, weights_only: bool = False) -> str | None:
        """Restores the newest readable checkpoint of this project, if any.

        A checkpoint that cannot be read (cut short by a crash or a full disk, or
        without `.index` because its save was interrupted) is skipped with a warning
        that names it and says why, and the one before it is tried.

        Args:
          weights_only: restore the weights and the step but not the optimizer slots
            (for evaluating or predicting, where what was frozen does not matter).

        Returns:
          the restored prefix, or None when there was nothing to resume.

        Raises:
          UserInputError: if a checkpoint belongs to another model (its variable names
            or shapes differ from the model's); nothing is restored then.
        """
        variables = self._variables(weights_only)
        for step in reversed(self._own):
            prefix = self._path(f"model.ckpt-{step}")
            if not tf.io.gfile.exists(prefix + ".index"):
                logging.warning("Skipping checkpoint %s: it has no .index file (its save "
                                "was interrupted); trying the one before it.", prefix)
                continue
            try:
                reader = tf.train.load_checkpoint(prefix)
                shapes = reader.get_variable_to_shape_map()
            except _DAMAGE_ERRORS as error:
                self._warn_damaged(prefix, error)
                continue
            difference = _difference(shapes, variables, weights_only)
            if difference is not None:
                raise UserInputError(_another_model(prefix, difference))
            try:
                values = {name: reader.get_tensor(name) for name in variables}
            except _DAMAGE_ERRORS as error:
                self._warn_damaged(prefix, error)
                continue
            for name, variable in variables.items():
                variable.assign(tf.cast(values[name], variable.dtype))
            return prefix
        if self._own:
            logging.warning("No checkpoint in %s could be read; starting from the initial "
                            "weights.", self.output_dir)
        return None

    @staticmethod
    def _warn_damaged(prefix: str, error: Exception) -> None:
        logging.warning("Skipping checkpoint %s: its files are damaged (%s: %s), e.g. cut "
                        "short by a full disk or a crash; trying the one before it.",
                        prefix, type(error).__name__, formats.first_line(error))
