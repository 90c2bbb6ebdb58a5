"""Variable names: the model's own table of Google names, and Hugging Face's names
derived from Google's.

A model names its weights itself (`google_variable_map()`, and
`hugging_face_head_names()` for the head weights Hugging Face names by their role; see
`bert_tf.modeling`); this module only asks it, so a new task model needs no change
here. Every other Hugging Face name follows from the Google name by one rule
(`hugging_face_names`).
"""

import re
from typing import Iterable, Mapping, Protocol

import numpy as np
import tensorflow as tf

# Hugging Face tensors that are not weights of their own: buffers, and the masked-LM
# decoder, which is tied to the word embeddings and to `cls.predictions.bias`.
_HF_BUFFERS = re.compile(r"(^|\.)(position_ids|token_type_ids)$|^cls\.predictions\.decoder\.")


class NamedModel(Protocol):
    """What checkpoints need of a model: Google's name of each of its weights."""

    def google_variable_map(self) -> dict[str, tf.Variable]:
        """Google's TF1 variable name of every weight."""


def google_variable_map(model: NamedModel) -> dict[str, tf.Variable]:
    """Google's TF1 variable name of every weight of `model`, as the model declares
    them (`model.google_variable_map()`).

    Raises:
      TypeError: for a model that does not name its variables (not a bert_tf model).
    """
    names = getattr(model, "google_variable_map", None)
    if not callable(names):
        raise TypeError(f"Expected a bert_tf model that names its variables (BertModel, "
                        f"BertPretrainer, BertClassifier, BertTokenClassifier, ...), got "
                        f"{type(model).__name__}.")
    return names()


def hugging_face_head_names(model: NamedModel) -> dict[str, str]:
    """The Hugging Face names `model` gives its head weights, by Google name (none for
    a model that gives none)."""
    names = getattr(model, "hugging_face_head_names", None)
    return names() if callable(names) else {}


def hugging_face_names(google_name: str) -> tuple[list[str], bool]:
    """The Hugging Face names a Google variable may have by the general rule, and
    whether it is transposed.

    For example `bert/encoder/layer_3/attention/self/query/kernel` is
    `encoder.layer.3.attention.self.query.weight`, transposed. Older PyTorch files
    call LayerNorm weights `gamma`/`beta`; both spellings are returned. Head weights
    Hugging Face names by their role (`classifier.weight`) are named by their model
    instead (`hugging_face_head_names`).
    """
    name = re.sub(r"^bert/", "", google_name)
    name = re.sub(r"layer_(\d+)", r"layer.\1", name).replace("/", ".")
    transpose = name.endswith(".kernel")
    candidates = []
    if re.search(r"_embeddings$", name):
        candidates.append(name + ".weight")
    elif name.endswith((".kernel", ".gamma")):
        candidates.append(name.rsplit(".", 1)[0] + ".weight")
        if name.endswith(".gamma"):
            candidates.append(name)
    elif name.endswith(".beta"):
        candidates += [name.rsplit(".", 1)[0] + ".bias", name]
    else:
        candidates.append(name)
    return candidates, transpose


def hugging_face_to_google(tensors: dict[str, np.ndarray], expected: Iterable[str],
                           head_names: Mapping[str, str] | None = None,
                           ) -> tuple[dict[str, np.ndarray], list[str]]:
    """Renames Hugging Face tensors to Google names.

    Args:
      tensors: the file's tensors by Hugging Face name (with or without the `bert.`
        prefix of Hugging Face's task models).
      expected: the Google names the model needs.
      head_names: Hugging Face names of head weights, by Google name (stored in the
        same layout in both); other names follow `hugging_face_names`.

    Returns:
      ({google_name: array} for every expected name found, the file's names not used
      (buffers and the tied decoder left out)).
    """
    head_names = head_names or {}
    has_prefix = any(name.startswith("bert.") for name in tensors)
    renamed, used = {}, set()
    for google_name in expected:
        if google_name in head_names:
            candidates, transpose = [head_names[google_name]], False
        else:
            candidates, transpose = hugging_face_names(google_name)
        if has_prefix and google_name.startswith("bert/"):
            candidates = ["bert." + name for name in candidates]
        for candidate in candidates:
            if candidate in tensors:
                value = tensors[candidate]
                renamed[google_name] = value.T if transpose else value
                used.add(candidate)
                break
    unused = sorted(name for name in tensors
                    if name not in used and not _HF_BUFFERS.search(name))
    return renamed, unused
