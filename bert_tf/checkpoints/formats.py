"""The files of each checkpoint format: finding them, reading them into arrays by name,
and writing Google's TF1 format.

  * Google's TF1 checkpoints: a prefix with `.index` and `.data-00000-of-00001` files,
    read with `tf.train.load_checkpoint`; training state beside the weights (the step
    and Adam slots) is left out.
  * Hugging Face's `model.safetensors` (or shards listed by
    `model.safetensors.index.json`) and PyTorch's `pytorch_model.bin`, read as they are
    named in the file (`variable_names` renames them). A model folder's
    `crf_transitions.safetensors` (the CRF of a `BertCrfTokenClassifier`, which
    transformers has no layer for; see `hugging_face_export`) is read with its
    `model.safetensors`.
"""

import json
import os
import pickle

import numpy as np
import tensorflow as tf

from bert_tf.errors import UserInputError
from bert_tf.io import temporary_path

DATA_SUFFIX = ".data-00000-of-00001"
INDEX_SUFFIX = ".index"
# Hugging Face's file of a model's weights, and the CRF's beside it.
SAFETENSORS_FILE = "model.safetensors"
CRF_FILE = "crf_transitions.safetensors"


class CheckpointError(UserInputError):
    """A checkpoint cannot be found, read, or does not fit the model."""


def is_training_state(name: str) -> bool:
    """True for what training writes beside the weights: step counter, Adam slots."""
    return (name == "global_step" or name.endswith(("/adam_m", "/adam_v"))
            or name.startswith("_CHECKPOINTABLE_OBJECT_GRAPH"))


def first_line(error: Exception) -> str:
    """The first line of an error's message, without a trailing period."""
    message = error.message if isinstance(error, tf.errors.OpError) else str(error)
    return (message.strip().splitlines() or [type(error).__name__])[0].rstrip(".")


def read_google(prefix: str) -> dict[str, np.ndarray]:
    """The weights of a TF checkpoint (training state left out).

    Raises:
      CheckpointError: if a file is missing, or truncated or corrupted (TensorFlow then
        raises an `IndexError` or an `OpError` about a checksum or a bad magic number).
    """
    try:
        reader = tf.train.load_checkpoint(prefix)
        names = [name for name in reader.get_variable_to_shape_map()
                 if not is_training_state(name)]
        return {name: reader.get_tensor(name) for name in names}
    except (tf.errors.NotFoundError, ValueError) as error:
        raise CheckpointError(f"Cannot read TensorFlow checkpoint {prefix!r}: "
                              f"{first_line(error)}") from error
    except (tf.errors.OpError, IndexError) as error:
        raise CheckpointError(
            f"TensorFlow checkpoint {prefix!r} is damaged ({first_line(error)}): its "
            ".index or .data files are truncated or corrupted; download or copy them "
            "again.") from error


def read_safetensors(paths: list[str]) -> dict[str, np.ndarray]:
    """The tensors of safetensors files, by the names they hold.

    Raises:
      CheckpointError: naming a file that cannot be read.
    """
    from safetensors.numpy import load_file  # Only needed for this format.
    tensors = {}
    for path in paths:
        try:
            tensors.update(load_file(path))
        except Exception as error:  # safetensors raises its own untyped errors.
            raise CheckpointError(f"Cannot read safetensors file {path!r}: {error}") from error
    return tensors


def read_pytorch(path: str) -> dict[str, np.ndarray]:
    """The tensors of a PyTorch pickle (`pytorch_model.bin`), as float32 or their own
    integer type; loaded with `weights_only`, so no code in the file ever runs.

    Raises:
      CheckpointError: if torch is missing, or the file is damaged or holds objects
        besides weights.
    """
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
            raise CheckpointError(f"PyTorch file {path!r} is damaged ({first_line(error)}); "
                                  "download or copy it again.") from error
        raise CheckpointError(
            f"PyTorch file {path!r} was refused as unsafe: besides weights it holds "
            "objects that would run code when loaded; use the model's model.safetensors "
            "instead, or convert the file only if you trust its source.") from error
    except (RuntimeError, EOFError, KeyError, ValueError) as error:
        raise CheckpointError(f"PyTorch file {path!r} is damaged or not a PyTorch "
                              f"checkpoint ({first_line(error)}); download or copy it "
                              "again.") from error
    return {name: tensor.float().numpy() if tensor.is_floating_point() else tensor.numpy()
            for name, tensor in state.items()}


def shard_names(index: str) -> list[str]:
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


def resolve(path: str) -> tuple[str, list[str]]:
    """The format ("google", "huggingface" or "pytorch") and files of a checkpoint path.

    Args:
      path: a TF checkpoint prefix, a `.safetensors` / `.bin` file, or a directory
        holding one of them (or TensorFlow's `checkpoint` file naming the latest).

    Returns:
      (format, files): a Google checkpoint's prefix; a Hugging Face folder's
      safetensors files (with `crf_transitions.safetensors`, if there is one); or the
      file given.

    Raises:
      CheckpointError: if nothing there is a checkpoint.
    """
    gfile = tf.io.gfile
    if gfile.isdir(path):
        crf = [os.path.join(path, CRF_FILE)]
        crf = crf if gfile.exists(crf[0]) else []
        index = os.path.join(path, SAFETENSORS_FILE + ".index.json")
        if gfile.exists(index):
            return "huggingface", [os.path.join(path, shard)
                                   for shard in shard_names(index)] + crf
        if gfile.exists(os.path.join(path, SAFETENSORS_FILE)):
            return "huggingface", [os.path.join(path, SAFETENSORS_FILE)] + crf
        for name, kind in (("pytorch_model.bin", "pytorch"),
                           ("bert_model.ckpt.index", "google")):
            if gfile.exists(os.path.join(path, name)):
                return kind, [os.path.join(path, name.removesuffix(INDEX_SUFFIX))]
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
    if gfile.exists(path + INDEX_SUFFIX):
        return "google", [path]
    raise CheckpointError(
        f"Checkpoint {path!r} not found. Give a TensorFlow checkpoint prefix (e.g. "
        ".../bert_model.ckpt, without .index), a Hugging Face model directory, or a "
        ".safetensors file.")


def write_google_files(prefix: str, variables: dict[str, tf.Variable]) -> None:
    """Writes `variables` under their names as the files of TF checkpoint `prefix`
    (`prefix.index`, `prefix.data-00000-of-00001`), in Google's TF1 layout: what
    `tf.train.load_checkpoint` and Google's `tf.compat.v1.train.Saver` read. Give a
    temporary prefix and `move_google_files` it to its name."""
    names = sorted(variables)
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[tf.convert_to_tensor(variables[name]) for name in names])


def move_google_files(source: str, target: str) -> None:
    """Renames checkpoint `source`'s files to `target`'s, replacing any there; the
    `.index` last, since it marks a complete checkpoint."""
    for suffix in (DATA_SUFFIX, INDEX_SUFFIX):
        tf.io.gfile.rename(source + suffix, target + suffix, overwrite=True)


def save_google(prefix: str, variables: dict[str, tf.Variable]) -> str:
    """Writes `variables` as TF checkpoint `prefix` under a temporary prefix unique to
    this save, then renames its files: an interrupted save leaves nothing under
    `prefix`, and two writers never share a file. Returns `prefix`."""
    temporary = temporary_path(prefix)
    write_google_files(temporary, variables)
    move_google_files(temporary, prefix)
    return prefix
