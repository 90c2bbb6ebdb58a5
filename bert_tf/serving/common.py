"""What every exported SavedModel shares: the version folder and its files, the
signature names, the checks of `serve_ids`, the in-graph packing helpers, and the one
procedure that writes a version (`export_version`).

A SavedModel goes into a new version folder `export_dir/<unix_seconds>/`, TF Serving's
layout (`export_dir` is the server's `--model_base_path`):

    export_dir/1764000000/
      saved_model.pb  variables/  assets/vocab.txt  fingerprint.pb
      bert_config.json  vocab.txt  export_info.json

It is written under a temporary name beside it (`1764000000.tmp-<random hex>`, which
TF Serving does not read as a version: not a number) and renamed when complete. A
version that exists, or that another export is still writing, is never touched: the
next second is taken instead.

`export_info.json` says how the model was exported (task, labels, casing, lengths,
padding, XLA, each signature's inputs and outputs, the TensorFlow version).

The vocabulary is compiled into the tokenizer's graph and also kept as the asset
`assets/vocab.txt`, so a version folder is self-contained and can be moved.

Ids. Every `serve_ids` signature refuses, with an InvalidArgumentError naming the
input, the valid range and the first offending id and its place, any `input_ids`
outside [0, vocab_size) and any `segment_ids` outside [0, type_vocab_size). Unchecked,
an id past the end fails deep in the embedding lookup on CPU (and reads zeros on GPU),
and a negative one is silently read from the end of the table, as NumPy indexes. Its
functions hold only core TensorFlow ops. Every signature answers an empty batch with
empty outputs without running the model.

Loading. The functions capture the model's variables, not the Keras model: loading
needs TensorFlow and tensorflow_text (imported first, to register its ops), no
`bert_tf`. A loader imports *every* function of a SavedModel, so a server without
tensorflow_text's ops (or with a version lacking them) refuses the whole model, not
just `serving_default`; `text_signature=False` writes a model with `serve_ids` alone
for such servers. `saved_model_cli` has no flag to load custom ops; run its `main`
in a Python that imported tensorflow_text:

    python -c "import sys, tensorflow_text
    from tensorflow.python.tools.saved_model_cli import main; sys.exit(main())" run
      --dir export_dir/1764000000 --tag_set serve --signature_def serving_default
      --input_exprs 'text_a=["some text"]'

With `jit_compile=True` the forward pass is marked for XLA: a CPU TF Serving then
needs `--xla_cpu_compilation_enabled=true`, and a GPU one a build with XLA:GPU.

The packing helpers (`truncate_to_budget`, `pack_segments`) work on ragged id tensors
of any task.
"""

import dataclasses
import json
import os
import time
from typing import Any, Callable, Sequence

import tensorflow as tf

from bert_tf import io
from bert_tf.errors import UserInputError
from bert_tf.modeling import INPUT_NAMES
from bert_tf.text.packing import CLS_TOKEN, SEP_TOKEN

SERVING_DEFAULT = "serving_default"
SERVE_IDS = "serve_ids"
SERVE_WORDS = "serve_words"
EXPORT_INFO_FILE = "export_info.json"


class ExportError(UserInputError):
    """The export cannot be written as asked (paths, labels, vocabulary)."""


# ----------------------------------------------------------------- in-graph packing


def truncate_to_budget(segments: Sequence[tf.RaggedTensor], budget: int,
                       ) -> list[tf.RaggedTensor]:
    """Truncates one or two ragged id sequences per example to at most `budget` ids.

    One segment keeps its first `budget` ids. Two segments are shortened as Google's
    `_truncate_seq_pair` does, one id at a time from the end of the longer one (the
    second on a tie) until their lengths sum to at most `budget`; in closed form the
    shorter keeps all its ids if it fits in half the budget, and otherwise the first
    gets ceil(budget / 2) ids and the second floor(budget / 2).

    Args:
      segments: one or two int RaggedTensors [batch, (ids)].
      budget: the number of ids left for the segments (max_seq_length minus the
        special tokens).

    Returns:
      The truncated segments, in order.
    """
    if len(segments) == 1:
        return [segments[0][:, :budget]]
    if len(segments) != 2:
        raise ValueError(f"Expected one or two segments, got {len(segments)}.")
    a, b = segments
    length_a = a.row_lengths()
    length_b = b.row_lengths()
    half = budget // 2
    keep_a = tf.minimum(length_a, tf.maximum(budget - length_b, budget - half))
    keep_b = tf.minimum(length_b, tf.maximum(budget - length_a, half))
    return [_keep_first(a, keep_a), _keep_first(b, keep_b)]


def _keep_first(ragged: tf.RaggedTensor, keep: tf.Tensor) -> tf.RaggedTensor:
    """The first `keep[i]` values of each row `i`."""
    positions = tf.ragged.range(ragged.row_lengths(), dtype=keep.dtype)
    return tf.ragged.boolean_mask(ragged, positions < tf.expand_dims(keep, 1))


def pack_segments(segments: Sequence[tf.RaggedTensor], cls_id: int, sep_id: int,
                  padded_length: int | None = None) -> dict[str, tf.Tensor]:
    """Packs (already truncated) segments into BERT's input layout, as
    `bert_tf.text.packing.pack`:

        input_ids:   [CLS] A ... [SEP] B ... [SEP] 0 0
        input_mask:    1   1 ...   1   1 ...   1   0 0
        segment_ids:   0   0 ...   0   1 ...   1   0 0

    Args:
      segments: one or two int32 RaggedTensors [batch, (ids)].
      cls_id: id of `[CLS]`.
      sep_id: id of `[SEP]`.
      padded_length: length to pad to; None pads to the batch's longest row.

    Returns:
      int32 `input_ids`, `input_mask`, `segment_ids`, each [batch, padded_length].
    """
    batch = segments[0].nrows()
    cls = tf.fill(tf.stack([batch, 1]), tf.constant(cls_id, tf.int32))
    sep = tf.fill(tf.stack([batch, 1]), tf.constant(sep_id, tf.int32))
    ids_parts, type_parts = [cls], [tf.zeros_like(cls)]
    for index, segment in enumerate(segments):
        segment = tf.cast(segment, tf.int32)
        ids_parts += [segment, sep]
        type_parts += [tf.ones_like(segment) * index, tf.ones_like(sep) * index]
    input_ids = tf.concat(ids_parts, axis=1)
    segment_ids = tf.concat(type_parts, axis=1)
    shape = None if padded_length is None else [None, padded_length]
    return {
        "input_ids": input_ids.to_tensor(0, shape=shape),
        "input_mask": tf.ones_like(input_ids).to_tensor(0, shape=shape),
        "segment_ids": segment_ids.to_tensor(0, shape=shape),
    }


# ---------------------------------------------------------------- checks in the graph


def fail_unless(ok: tf.Tensor, message: Callable[[], tf.Tensor]) -> tf.Operation:
    """An op that fails the call with InvalidArgumentError "assertion failed:
    [<message()>]" unless the scalar bool `ok` holds; `message` is run only then, so it
    may read what exists only in a failing input."""
    text = tf.cond(ok, lambda: tf.constant(""), message)
    return tf.debugging.Assert(ok, [text])


def _check_id_range(name: str, ids: tf.Tensor, size: int, meaning: str) -> tf.Operation:
    """Fails unless every id of int [batch, seq] `ids` is in [0, size); the message
    names the input `name`, the range (`meaning` says what it indexes) and the first id
    outside it with its row and position."""
    outside = (ids < 0) | (ids >= size)

    def message() -> tf.Tensor:
        first = tf.where(outside)[0]  # [row, position]
        return tf.strings.format(
            f"{name} must be in [0, {size}) ({meaning}); got {{}} at row {{}}, "
            "position {}.", [tf.gather_nd(ids, first), first[0], first[1]])

    return fail_unless(~tf.reduce_any(outside), message)


def checked_ids(inputs: dict[str, tf.Tensor], vocab_size: int, type_vocab_size: int,
                ) -> dict[str, tf.Tensor]:
    """`inputs`, usable only once their `input_ids` are known to be in [0, vocab_size)
    and their `segment_ids` in [0, type_vocab_size): the embedding lookup would read a
    negative id from the end of its table, as NumPy indexes, and answer silently."""
    checks = [_check_id_range("input_ids", inputs["input_ids"], vocab_size,
                              "vocabulary ids"),
              _check_id_range("segment_ids", inputs["segment_ids"], type_vocab_size,
                              "token type ids")]
    with tf.control_dependencies(checks):
        return {name: tf.identity(value) for name, value in inputs.items()}


# ------------------------------------------------------------------- the module saved


class ServingModule(tf.Module):
    """What every exported SavedModel holds: the vocabulary asset, the model's
    variables and its forward pass as a `tf.function` over int [batch, seq] inputs
    (`self._forward`). Subclasses add the signatures' functions."""

    def __init__(self, name: str, model, vocab_file: str,
                 forward: Callable[[dict[str, tf.Tensor]], Any],
                 input_specs: dict[str, tf.TensorSpec], jit_compile: bool):
        """Keeps the vocabulary asset and the model's variables, and traces `forward`
        over `input_specs` (compiled with XLA when `jit_compile`)."""
        super().__init__(name=name)
        self.vocab_file = tf.saved_model.Asset(vocab_file)
        # The variables, not the Keras model: loading must not need Keras classes. And
        # the tf.Variables inside Keras' wrappers: only those get restore ops that
        # TF1-style loaders (TF Serving, saved_model_cli) run.
        self.model_variables = [variable.value for variable in model.variables]
        # Only the numeric part is compiled: string ops have no XLA kernels.
        self._forward = tf.function(forward, input_signature=[input_specs],
                                    jit_compile=jit_compile, autograph=False)


def ids_specs(extra: Sequence[tuple[str, tf.DType]] = ()) -> dict[str, tf.TensorSpec]:
    """[batch, seq] specs of the int32 model inputs (and the `extra` ones), by name."""
    return {name: tf.TensorSpec([None, None], dtype, name=name)
            for name, dtype in [*((name, tf.int32) for name in INPUT_NAMES), *extra]}


# ------------------------------------------------------------------ argument checks


def check_labels(label_list: Sequence[str] | None, num_labels: int) -> list[str] | None:
    """The labels as strings, one per output of the model; None (regression) only
    for a model with one output.

    Raises:
      ExportError: for a count that does not match the model's, or a repeated label.
    """
    if label_list is None:
        if num_labels != 1:
            raise ExportError(
                f"label_list is None (regression), but the model has {num_labels} outputs. "
                "Pass the label names in the order of the model's outputs.")
        return None
    labels = [str(label) for label in label_list]
    if len(labels) != num_labels:
        raise ExportError(
            f"label_list has {len(labels)} labels ({labels}), but the model has "
            f"{num_labels} outputs. Pass one label per output, in training order.")
    if len(set(labels)) != len(labels):
        raise ExportError(f"label_list holds the same label twice: {labels}.")
    return labels


def special_ids(vocab: dict[str, int], vocab_file: str, model_vocab_size: int,
                ) -> tuple[int, int]:
    """The ids of `[CLS]` and `[SEP]` in `vocab`.

    Raises:
      ExportError: if either is missing, or the vocabulary has ids the model's
        embedding table does not.
    """
    missing = [token for token in (CLS_TOKEN, SEP_TOKEN) if token not in vocab]
    if missing:
        raise ExportError(f"Vocabulary file {vocab_file!r} has no {' or '.join(missing)} "
                          "token; pass the vocab.txt the model was trained with.")
    largest = max(vocab.values())
    if largest >= model_vocab_size:
        raise ExportError(
            f"Vocabulary file {vocab_file!r} has ids up to {largest}, but the model's "
            f"vocab_size is {model_vocab_size}; pass the vocab.txt the model was trained "
            "with.")
    return vocab[CLS_TOKEN], vocab[SEP_TOKEN]


def text_padding(pad_to_max_seq_length: bool) -> str:
    """How raw text is padded, as `export_info.json` says it."""
    return "max_seq_length" if pad_to_max_seq_length else "longest_in_batch"


# ------------------------------------------------------------- writing a version


@dataclasses.dataclass(frozen=True)
class Signature:
    """One signature of the SavedModel: its traced function (with an input
    signature) and the names of its inputs and outputs, as `export_info.json` lists
    them."""

    function: Any  # A tf.function with an input_signature.
    inputs: Sequence[str]
    outputs: Sequence[str]


def export_version(export_dir: str, module: tf.Module, signatures: dict[str, Signature],
                   model, vocab_file: str, info: dict) -> str:
    """Saves `module` with `signatures` into a new version folder of `export_dir`, with
    `bert_config.json`, `vocab.txt` and `export_info.json` beside it; returns its path.

    The folder is written under a temporary name and renamed into
    `export_dir/<unix seconds>/` when complete; a version that exists or is being
    written by another export is skipped, never overwritten. On failure nothing is
    left behind.

    Args:
      export_dir: the model's base directory, as TF Serving's `--model_base_path`.
      module: the `tf.Module` to save.
      signatures: the signatures, by name (`SERVING_DEFAULT`, `SERVE_IDS`, ...).
      model: the exported Keras model (its `config` is written).
      vocab_file: the WordPiece vocabulary, copied beside the SavedModel.
      info: the task's entries of `export_info.json`; the signatures' inputs and
        outputs and the TensorFlow version are added after them.

    Raises:
      ExportError: if `export_dir` is a file.
    """
    gfile = tf.io.gfile
    if gfile.exists(export_dir) and not gfile.isdir(export_dir):
        raise ExportError(f"Export directory {export_dir!r} is a file; pass a directory "
                          "(TF Serving's model base path).")
    info = {**info,
            "signatures": {name: {"inputs": list(signature.inputs),
                                  "outputs": list(signature.outputs)}
                           for name, signature in signatures.items()},
            "tensorflow_version": tf.__version__}
    gfile.makedirs(export_dir)
    version = _free_version(export_dir, int(time.time()))
    temporary = io.temporary_path(os.path.join(export_dir, str(version)))
    try:
        tf.saved_model.save(module, temporary, signatures={
            name: signature.function.get_concrete_function()
            for name, signature in signatures.items()})
        model.config.to_json_file(os.path.join(temporary, "bert_config.json"))
        gfile.copy(vocab_file, os.path.join(temporary, "vocab.txt"))
        with gfile.GFile(os.path.join(temporary, EXPORT_INFO_FILE), "w") as writer:
            writer.write(json.dumps(info, indent=2, ensure_ascii=False) + "\n")
        while True:
            final = os.path.join(export_dir, str(version))
            try:
                gfile.rename(temporary, final, overwrite=False)
                return final
            except tf.errors.AlreadyExistsError:  # Another export took it meanwhile.
                version = _free_version(export_dir, version + 1)
    except BaseException:
        if gfile.exists(temporary):
            gfile.rmtree(temporary)
        raise


def _free_version(export_dir: str, earliest: int) -> int:
    """The first version from `earliest` on that neither exists in `export_dir` nor
    is being written there (a temporary `<version>.tmp-...` folder)."""
    taken = {name.rstrip("/").split(".tmp-")[0] for name in tf.io.gfile.listdir(export_dir)}
    version = earliest
    while str(version) in taken:
        version += 1
    return version
