"""A model's weights from any supported checkpoint, and to Google's format.

`load_checkpoint` fills a model from a Google, Hugging Face or own checkpoint, checking
every name and shape first; `save_google_checkpoint` writes a model as Google's code
would. Both match variables through the model's own names (`variable_names`).
"""

import dataclasses
import os
from typing import Iterable, Mapping

import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf.checkpoints import formats
from bert_tf.checkpoints.formats import CheckpointError
from bert_tf.checkpoints.variable_names import (NamedModel, google_variable_map,
                                                hugging_face_head_names,
                                                hugging_face_to_google)


@dataclasses.dataclass
class LoadReport:
    """What `load_checkpoint` did, by Google variable name."""

    path: str
    format: str
    loaded: list[str]
    initialized: list[str]
    unused: list[str]

    def summary(self) -> str:
        """One line for the log."""
        text = (f"Loaded {len(self.loaded)} variables from {self.format} checkpoint "
                f"{self.path}")
        if self.initialized:
            text += f"; left at initialization: {', '.join(self.initialized)}"
        if self.unused:
            text += f"; unused in the checkpoint: {', '.join(self.unused)}"
        return text + "."


def read_checkpoint(path: str, expected: Iterable[str],
                    head_names: Mapping[str, str] | None = None,
                    ) -> tuple[str, dict[str, np.ndarray], list[str]]:
    """Reads any supported checkpoint into Google-named arrays.

    Args:
      path: a TF checkpoint prefix, a `.safetensors` / `pytorch_model.bin` file, or a
        directory holding one of them.
      expected: the Google names the model needs (used to rename Hugging Face names).
      head_names: the Hugging Face names of head weights, by Google name, as the model
        gives them (`model.hugging_face_head_names()`).

    Returns:
      (format, {google_name: array}, names in the file that were not used).

    Raises:
      CheckpointError: if there is no checkpoint at `path` or it cannot be read.
    """
    kind, files = formats.resolve(path)
    expected = list(expected)
    if kind == "google":
        tensors = formats.read_google(files[0])
        unused = sorted(set(tensors) - set(expected))
        return kind, tensors, unused
    tensors = (formats.read_safetensors(files) if kind == "huggingface"
               else formats.read_pytorch(files[0]))
    renamed, unused = hugging_face_to_google(tensors, expected, head_names)
    return "huggingface", renamed, unused


def load_checkpoint(model: NamedModel, path: str,
                    initialize_missing: Iterable[str] = ()) -> LoadReport:
    """Loads weights into `model` from a Google, Hugging Face or own checkpoint.

    Args:
      model: the model to fill (a bert_tf model: it names its variables).
      path: see `read_checkpoint`.
      initialize_missing: name prefixes (Google names, e.g. `"bert/pooler/"`) that may
        be absent from the checkpoint and then keep their fresh initialization.

    Returns:
      A `LoadReport`; its summary is also logged.

    Raises:
      CheckpointError: if the checkpoint cannot be read, or if any variable is missing
        (outside `initialize_missing`) or has another shape. One error lists every
        offending name with both shapes, and nothing is assigned.
    """
    variables = google_variable_map(model)
    kind, tensors, unused = read_checkpoint(path, variables, hugging_face_head_names(model))
    allowed = tuple(initialize_missing)
    problems, initialized = [], []
    for name, variable in variables.items():
        model_shape = tuple(variable.shape)
        if name not in tensors:
            if allowed and name.startswith(allowed):
                initialized.append(name)
            else:
                problems.append(f"{name}: missing from the checkpoint (model {list(model_shape)})")
        elif tuple(tensors[name].shape) != model_shape:
            problems.append(f"{name}: checkpoint {list(tensors[name].shape)} vs model "
                            f"{list(model_shape)}")
    if problems:
        raise CheckpointError(
            f"Checkpoint {path!r} does not fit the model ({len(problems)} variables):\n  "
            + "\n  ".join(problems)
            + "\nCheck that the model's config (bert_config.json) describes this "
              "checkpoint.")
    for name, variable in variables.items():
        if name in tensors:
            variable.assign(tensors[name].astype(variable.dtype))
    report = LoadReport(path=path, format=kind,
                        loaded=[name for name in variables if name in tensors],
                        initialized=initialized, unused=unused)
    logging.info(report.summary())
    return report


def save_google_checkpoint(model: NamedModel, path: str, overwrite: bool = False) -> str:
    """Writes `model`'s weights as a TF1 checkpoint with Google's variable names.

    The files (`path.index`, `path.data-00000-of-00001`) are written under a temporary
    prefix unique to this save and renamed, so an interrupted save leaves nothing under
    `path`. The result loads with `load_checkpoint`, `tf.train.load_checkpoint` and
    Google's `modeling.get_assignment_map_from_checkpoint`.

    Args:
      model: the model to save.
      path: checkpoint prefix, e.g. `out/bert_model.ckpt`.
      overwrite: replace an existing checkpoint at `path`; off by default, so that a
        checkpoint this call did not write is never lost.

    Returns:
      `path`.

    Raises:
      CheckpointError: if a checkpoint exists at `path` and `overwrite` is off.
    """
    if tf.io.gfile.exists(path + formats.INDEX_SUFFIX) and not overwrite:
        raise CheckpointError(f"A checkpoint already exists at {path!r}; choose another "
                              "path or pass overwrite=True.")
    directory = os.path.dirname(path)
    if directory:
        tf.io.gfile.makedirs(directory)
    return formats.save_google(path, google_variable_map(model))
