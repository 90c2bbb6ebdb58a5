"""Loading Google, Hugging Face and own BERT checkpoints; writing Google-format ones.

Every format is read into one namespace, Google's TF1 variable names
(`bert/encoder/layer_0/attention/self/query/kernel`, ...), and matched against the
model through one table (`google_variable_map`). Hugging Face names are derived from
Google's by `hugging_face_names`: dots for slashes, `layer.N` for `layer_N`,
`weight` for `kernel`/`gamma` (kernels transposed: PyTorch stores `[out, in]`) and
`bias` for `beta`.
"""

import dataclasses
import json
import os
import pickle
import re
from typing import Iterable

import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf import file_checks
from bert_tf.configs import BertConfig
from bert_tf.errors import UserInputError
from bert_tf.modeling import (BertClassifier, BertCrfTokenClassifier, BertModel,
                              BertPretrainer, BertTokenClassifier)

# Hugging Face tensors that are not weights of their own: buffers, and the masked-LM
# decoder, which is tied to the word embeddings and to `cls.predictions.bias`.
_HF_BUFFERS = re.compile(r"(^|\.)(position_ids|token_type_ids)$|^cls\.predictions\.decoder\.")


class CheckpointError(UserInputError):
    """A checkpoint cannot be found, read, or does not fit the model."""


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


def google_variable_map(model: BertModel | BertPretrainer | BertClassifier
                        | BertTokenClassifier) -> dict[str, tf.Variable]:
    """Google's TF1 variable name of every weight of `model`.

    The classifiers' heads are `output_weights` and `output_bias` at the top level, as
    in Google's `run_classifier.py`; a CRF token classifier adds `crf/transitions`,
    `crf/start_transitions` and `crf/end_transitions`.

    Raises:
      TypeError: for a model of another class.
    """
    if isinstance(model, (BertClassifier, BertTokenClassifier)):
        names = {**google_variable_map(model.bert),
                 "output_weights": model.classifier.output_weights,
                 "output_bias": model.classifier.output_bias}
        if isinstance(model, BertCrfTokenClassifier):
            names.update({"crf/transitions": model.crf.transitions,
                          "crf/start_transitions": model.crf.start_transitions,
                          "crf/end_transitions": model.crf.end_transitions})
        return names
    if isinstance(model, BertPretrainer):
        masked_lm = model.masked_lm
        return {
            **google_variable_map(model.bert),
            **_dense("cls/predictions/transform/dense", masked_lm.dense),
            **_layer_norm("cls/predictions/transform/LayerNorm", masked_lm.layer_norm),
            "cls/predictions/output_bias": masked_lm.output_bias,
            "cls/seq_relationship/output_weights": model.next_sentence.output_weights,
            "cls/seq_relationship/output_bias": model.next_sentence.output_bias,
        }
    if not isinstance(model, BertModel):
        raise TypeError(f"Expected a bert_tf BertModel, BertPretrainer, BertClassifier or "
                        f"BertTokenClassifier, got "
                        f"{type(model).__name__}.")
    embeddings = model.embeddings
    names = {
        "bert/embeddings/word_embeddings": embeddings.word_embeddings,
        "bert/embeddings/position_embeddings": embeddings.position_embeddings,
        "bert/embeddings/token_type_embeddings": embeddings.token_type_embeddings,
        **_layer_norm("bert/embeddings/LayerNorm", embeddings.layer_norm),
        **_dense("bert/pooler/dense", model.pooler.dense),
    }
    for index, block in enumerate(model.encoder.blocks):
        prefix = f"bert/encoder/layer_{index}"
        attention = block.attention
        names.update({
            **_dense(f"{prefix}/attention/self/query", attention.query),
            **_dense(f"{prefix}/attention/self/key", attention.key),
            **_dense(f"{prefix}/attention/self/value", attention.value),
            **_dense(f"{prefix}/attention/output/dense", attention.output_dense),
            **_layer_norm(f"{prefix}/attention/output/LayerNorm", block.attention_layer_norm),
            **_dense(f"{prefix}/intermediate/dense", block.intermediate),
            **_dense(f"{prefix}/output/dense", block.output_dense),
            **_layer_norm(f"{prefix}/output/LayerNorm", block.output_layer_norm),
        })
    return names


def _dense(prefix: str, layer) -> dict[str, tf.Variable]:
    return {f"{prefix}/kernel": layer.kernel, f"{prefix}/bias": layer.bias}


def _layer_norm(prefix: str, layer) -> dict[str, tf.Variable]:
    return {f"{prefix}/gamma": layer.gamma, f"{prefix}/beta": layer.beta}


# Head variables Hugging Face names differently; output weights are [out, H] in both.
_HEAD_NAMES = {
    "output_weights": "classifier.weight",
    "output_bias": "classifier.bias",
    "cls/predictions/output_bias": "cls.predictions.bias",
    "cls/seq_relationship/output_weights": "cls.seq_relationship.weight",
    "cls/seq_relationship/output_bias": "cls.seq_relationship.bias",
}


def hugging_face_names(google_name: str) -> tuple[list[str], bool]:
    """The Hugging Face names a Google variable may have, and whether it is transposed.

    For example `bert/encoder/layer_3/attention/self/query/kernel` is
    `encoder.layer.3.attention.self.query.weight`, transposed. Older PyTorch files
    call LayerNorm weights `gamma`/`beta`; both spellings are returned.
    """
    if google_name in _HEAD_NAMES:
        return [_HEAD_NAMES[google_name]], False
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


def _is_training_state(name: str) -> bool:
    """True for what training writes beside the weights: step counter, Adam slots."""
    return (name == "global_step" or name.endswith(("/adam_m", "/adam_v"))
            or name.startswith("_CHECKPOINTABLE_OBJECT_GRAPH"))


def _read_google(prefix: str) -> dict[str, np.ndarray]:
    """The weights of a TF checkpoint (training state left out).

    Raises:
      CheckpointError: if a file is missing, or truncated or corrupted (TensorFlow then
        raises an `IndexError` or an `OpError` about a checksum or a bad magic number).
    """
    try:
        reader = tf.train.load_checkpoint(prefix)
        names = [name for name in reader.get_variable_to_shape_map()
                 if not _is_training_state(name)]
        return {name: reader.get_tensor(name) for name in names}
    except (tf.errors.NotFoundError, ValueError) as error:
        raise CheckpointError(f"Cannot read TensorFlow checkpoint {prefix!r}: "
                              f"{_first_line(error)}") from error
    except (tf.errors.OpError, IndexError) as error:
        raise CheckpointError(
            f"TensorFlow checkpoint {prefix!r} is damaged ({_first_line(error)}): its "
            ".index or .data files are truncated or corrupted; download or copy them "
            "again.") from error


def _first_line(error: Exception) -> str:
    """The first line of an error's message, without a trailing period."""
    message = error.message if isinstance(error, tf.errors.OpError) else str(error)
    return (message.strip().splitlines() or [type(error).__name__])[0].rstrip(".")


def _read_safetensors(paths: list[str]) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file  # Only needed for this format.
    tensors = {}
    for path in paths:
        try:
            tensors.update(load_file(path))
        except Exception as error:  # safetensors raises its own untyped errors.
            raise CheckpointError(f"Cannot read safetensors file {path!r}: {error}") from error
    return tensors


def _read_pytorch(path: str) -> dict[str, np.ndarray]:
    try:
        import torch
    except ImportError as error:
        raise CheckpointError(
            f"{path!r} is a PyTorch pickle; reading it needs torch (pip install torch). "
            "Or convert it to model.safetensors, which needs no torch.") from error
    try:
        # weights_only: tensors and plain containers only; never runs code from the file.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "Weights only load failed" not in str(error):
            raise CheckpointError(f"PyTorch file {path!r} is damaged ({_first_line(error)}); "
                                  "download or copy it again.") from error
        raise CheckpointError(
            f"PyTorch file {path!r} was refused as unsafe: besides weights it holds "
            "objects that would run code when loaded; use the model's model.safetensors "
            "instead, or convert the file only if you trust its source.") from error
    except (RuntimeError, EOFError, KeyError, ValueError) as error:
        raise CheckpointError(f"PyTorch file {path!r} is damaged or not a PyTorch "
                              f"checkpoint ({_first_line(error)}); download or copy it "
                              "again.") from error
    return {name: tensor.float().numpy() if tensor.is_floating_point() else tensor.numpy()
            for name, tensor in state.items()}


def _hugging_face_to_google(tensors: dict[str, np.ndarray], expected: Iterable[str],
                            ) -> tuple[dict[str, np.ndarray], list[str]]:
    """Renames Hugging Face tensors to Google names; returns them and the unused names."""
    has_prefix = any(name.startswith("bert.") for name in tensors)
    renamed, used = {}, set()
    for google_name in expected:
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


def _shard_names(index: str) -> list[str]:
    """The shard files a `model.safetensors.index.json` lists, each checked to be a
    plain file name: a name with `/`, `\\` or `..` could point outside the model folder.

    Raises:
      CheckpointError: if the index is not such JSON, or names a path.
    """
    try:
        with tf.io.gfile.GFile(index, "rb") as reader:
            shards = set(json.loads(reader.read())["weight_map"].values())
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise CheckpointError(f"{index!r} is not a Hugging Face index (JSON with a "
                              f"\"weight_map\" object: {error}); download it again.") from error
    for shard in shards:
        if (not isinstance(shard, str) or not shard or "/" in shard or "\\" in shard
                or ".." in shard):
            raise CheckpointError(
                f"{index!r} lists the shard {shard!r}, which is not a file name inside "
                "the model folder (no '/', '\\' or '..' allowed); the index is damaged "
                "or malicious: download the model again from a source you trust.")
    return sorted(shards)


def _resolve(path: str) -> tuple[str, list[str]]:
    """Finds the checkpoint format and files for a path the user gave."""
    gfile = tf.io.gfile
    if gfile.isdir(path):
        index = os.path.join(path, "model.safetensors.index.json")
        if gfile.exists(index):
            return "huggingface", [os.path.join(path, shard) for shard in _shard_names(index)]
        for name, kind in (("model.safetensors", "huggingface"),
                           ("pytorch_model.bin", "pytorch"),
                           ("bert_model.ckpt.index", "google")):
            if gfile.exists(os.path.join(path, name)):
                return kind, [os.path.join(path, name.removesuffix(".index"))]
        latest = tf.train.latest_checkpoint(path)
        if latest:
            return "google", [latest]
        raise CheckpointError(
            f"No checkpoint found in directory {path!r}: expected model.safetensors, "
            "pytorch_model.bin, bert_model.ckpt.* or a TensorFlow 'checkpoint' file.")
    if path.endswith(".safetensors") and gfile.exists(path):
        return "huggingface", [path]
    if path.endswith(".bin") and gfile.exists(path):
        return "pytorch", [path]
    if gfile.exists(path + ".index"):
        return "google", [path]
    raise CheckpointError(
        f"Checkpoint {path!r} not found. Give a TensorFlow checkpoint prefix (e.g. "
        ".../bert_model.ckpt, without .index), a Hugging Face model directory, or a "
        ".safetensors file.")


def read_checkpoint(path: str, expected: Iterable[str]) -> tuple[str, dict[str, np.ndarray],
                                                                  list[str]]:
    """Reads any supported checkpoint into Google-named arrays.

    Args:
      path: a TF checkpoint prefix, a `.safetensors` / `pytorch_model.bin` file, or a
        directory holding one of them.
      expected: the Google names the model needs (used to rename Hugging Face names).

    Returns:
      (format, {google_name: array}, names in the file that were not used).
    """
    kind, files = _resolve(path)
    expected = list(expected)
    if kind == "google":
        tensors = _read_google(files[0])
        unused = sorted(set(tensors) - set(expected))
        return kind, tensors, unused
    tensors = _read_safetensors(files) if kind == "huggingface" else _read_pytorch(files[0])
    renamed, unused = _hugging_face_to_google(tensors, expected)
    return "huggingface", renamed, unused


def companion_file(checkpoint: str, names: Iterable[str]) -> str | None:
    """The first of `names` found beside a checkpoint (in it, if it is a directory).

    Used to find `bert_config.json` / `config.json` and `vocab.txt` when the user gives
    only --init_checkpoint.
    """
    directory = checkpoint if tf.io.gfile.isdir(checkpoint) else os.path.dirname(checkpoint)
    for name in names:
        candidate = os.path.join(directory, name)
        if tf.io.gfile.exists(candidate):
            return candidate
    return None


def resolve_model_files(init_checkpoint: str, bert_config_file: str | None,
                        vocab_file: str | None) -> tuple[str, str]:
    """The config and vocab paths to use: the flags' values, or the files found beside
    `init_checkpoint` (`bert_config.json` or Hugging Face's `config.json`; `vocab.txt`).

    Raises:
      CheckpointError: if the checkpoint does not exist, or a file was not given and
        is not beside the checkpoint.
      UserInputError: if a file given is a directory, or the config is not UTF-8 text.
    """
    _resolve(init_checkpoint)
    config = bert_config_file or companion_file(init_checkpoint,
                                                ("bert_config.json", "config.json"))
    vocab = vocab_file or companion_file(init_checkpoint, ("vocab.txt",))
    for value, flag, names in ((config, "--bert_config_file", "bert_config.json or config.json"),
                               (vocab, "--vocab_file", "vocab.txt")):
        if value is None:
            raise CheckpointError(
                f"{flag} was not given and no {names} is beside --init_checkpoint "
                f"{init_checkpoint!r}. Pass {flag}.")
        if tf.io.gfile.isdir(value):
            raise UserInputError(f"{flag} {value!r} is a directory; give the {names} file.")
    if tf.io.gfile.exists(config):
        file_checks.check_utf8_head(config, "--bert_config_file")
    return config, vocab


def check_vocab_fits_config(vocab_size: int, vocab_file: str, config: BertConfig,
                            config_file: str) -> None:
    """Refuses a vocabulary with more tokens than the model has embedding rows (the ids
    past the table would fail at the first batch that holds one).

    Raises:
      UserInputError: naming both files.
    """
    if vocab_size > config.vocab_size:
        raise UserInputError(
            f"--vocab_file {vocab_file} has {vocab_size} tokens but the model "
            f"({config_file}) has only vocab_size={config.vocab_size} embedding rows: the "
            "vocabulary does not belong to this model.")


def load_checkpoint(model: BertModel, path: str,
                    initialize_missing: Iterable[str] = ()) -> LoadReport:
    """Loads weights into `model` from a Google, Hugging Face or own checkpoint.

    Args:
      model: the model to fill.
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
    kind, tensors, unused = read_checkpoint(path, variables)
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
            + "\nCheck that --bert_config_file describes this checkpoint.")
    for name, variable in variables.items():
        if name in tensors:
            variable.assign(tensors[name].astype(variable.dtype))
    report = LoadReport(path=path, format=kind,
                        loaded=[name for name in variables if name in tensors],
                        initialized=initialized, unused=unused)
    logging.info(report.summary())
    return report


def save_google_checkpoint(model: BertModel, path: str, overwrite: bool = False) -> str:
    """Writes `model`'s weights as a TF1 checkpoint with Google's variable names.

    The files (`path.index`, `path.data-00000-of-00001`) are written under a temporary
    prefix and renamed, so an interrupted save leaves nothing under `path`. The result
    loads with `load_checkpoint`, `tf.train.load_checkpoint` and Google's
    `modeling.get_assignment_map_from_checkpoint`.

    Args:
      model: the model to save.
      path: checkpoint prefix, e.g. `out/bert_model.ckpt`.
      overwrite: replace an existing checkpoint at `path`; off by default, so that a
        checkpoint this call did not write is never lost.

    Returns:
      `path`.
    """
    gfile = tf.io.gfile
    if gfile.exists(path + ".index") and not overwrite:
        raise CheckpointError(f"A checkpoint already exists at {path!r}; choose another "
                              "path or pass overwrite=True.")
    directory = os.path.dirname(path)
    if directory:
        gfile.makedirs(directory)
    variables = google_variable_map(model)
    temporary = f"{path}.tmp-{os.getpid()}"
    names = sorted(variables)
    tf.raw_ops.SaveV2(prefix=temporary, tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[tf.convert_to_tensor(variables[name]) for name in names])
    for suffix in (".data-00000-of-00001", ".index"):  # The index last: it marks completion.
        gfile.rename(temporary + suffix, path + suffix, overwrite=True)
    return path
