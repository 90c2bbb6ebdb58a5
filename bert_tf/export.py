"""SavedModels for TF Serving that classify raw text (and, second, token ids).

`export_classifier` writes a `tf.Module` with explicit `@tf.function` signatures into a
new version folder `export_dir/<unix_seconds>/`, TF Serving's layout:

    export_dir/1764000000/
      saved_model.pb  variables/  assets/vocab.txt  fingerprint.pb
      bert_config.json  vocab.txt  export_info.json

Signatures (`SERVING_DEFAULT` and `SERVE_IDS`):

  * `serving_default`: `text_a` (and `text_b` for a pair task), tf.string [batch].
    Tokenizes in the graph exactly as Google's `FullTokenizer`
    (`bert_tf.graph_tokenization`), truncates as Google's `_truncate_seq_pair`, packs
    `[CLS] A [SEP] B [SEP]` and pads (to the batch's longest input by default).
  * `serve_ids`: `input_ids`, `input_mask`, `segment_ids`, int32 [batch, seq], as
    Google's `convert_single_example` writes them. Its functions hold only core
    TensorFlow ops.

Both return `probabilities` float32 [batch, num_labels] and `label` tf.string [batch]
for classification, or `score` float32 [batch] for regression (one output).

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

The vocabulary is compiled into the tokenizer's graph and also kept as the asset
`assets/vocab.txt`, so a version folder is self-contained and can be moved.

The packing helpers (`truncate_to_budget`, `pack_segments`) work on ragged id
tensors of any task; a token-classification export can reuse them.
"""

import json
import os
import time
from typing import Sequence

import tensorflow as tf

from bert_tf import tokenization
from bert_tf.data.encoding import CLS_TOKEN, SEP_TOKEN
from bert_tf.errors import UserInputError
from bert_tf.graph_tokenization import InGraphTokenizer
from bert_tf.modeling import INPUT_NAMES, BertClassifier

SERVING_DEFAULT = "serving_default"
SERVE_IDS = "serve_ids"
EXPORT_INFO_FILE = "export_info.json"
_TEMPORARY_PREFIX = "temp-"


class ExportError(UserInputError):
    """The export cannot be written as asked (paths, labels, lengths)."""


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
    `bert_tf.data.encoding.pack`:

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


class _ClassifierModule(tf.Module):
    """What the SavedModel holds: tokenizer, model variables, labels, signatures."""

    def __init__(self, model: BertClassifier, tokenizer: InGraphTokenizer | None,
                 vocab_file: str, cls_id: int, sep_id: int, max_seq_length: int,
                 label_list: list[str] | None, pair: bool, jit_compile: bool,
                 pad_to_max_seq_length: bool):
        super().__init__(name="bert_classifier_serving")
        if tokenizer is not None:
            self.tokenizer = tokenizer
        self.vocab_file = tf.saved_model.Asset(vocab_file)
        # The variables, not the Keras model: loading must not need Keras classes. And
        # the tf.Variables inside Keras' wrappers: only those get restore ops that
        # TF1-style loaders (TF Serving, saved_model_cli) run.
        self.model_variables = [variable.value for variable in model.variables]
        self._cls_id, self._sep_id = cls_id, sep_id
        self._max_seq_length = max_seq_length
        self._pad_to_max = pad_to_max_seq_length
        self._labels = label_list
        self._num_labels = model.num_labels

        def logits(inputs: dict[str, tf.Tensor]) -> tf.Tensor:
            return model(inputs, training=False)["logits"]

        ids_spec = {name: tf.TensorSpec([None, None], tf.int32, name=name)
                    for name in INPUT_NAMES}
        # Only the numeric part is compiled: string ops have no XLA kernels.
        self._logits = tf.function(logits, input_signature=[ids_spec],
                                   jit_compile=jit_compile, autograph=False)
        self.serve_ids = tf.function(self._serve_ids, input_signature=[
            tf.TensorSpec([None, None], tf.int32, name=name) for name in INPUT_NAMES])
        if tokenizer is not None:
            text_specs = [tf.TensorSpec([None], tf.string, name="text_a")]
            if pair:
                text_specs.append(tf.TensorSpec([None], tf.string, name="text_b"))
            self.serve_text = tf.function(self._serve_text, input_signature=text_specs)

    def _outputs(self, logits: tf.Tensor) -> dict[str, tf.Tensor]:
        # The compiled call's output has no static shape; the signature should.
        logits = tf.ensure_shape(logits, [None, self._num_labels])
        if self._labels is None:
            return {"score": logits[:, 0]}
        probabilities = tf.nn.softmax(logits, axis=-1)
        labels = tf.constant(self._labels, tf.string)
        return {"probabilities": probabilities,
                "label": tf.gather(labels, tf.argmax(probabilities, axis=-1))}

    def _serve_ids(self, input_ids, input_mask, segment_ids):
        return self._outputs(self._logits({"input_ids": input_ids, "input_mask": input_mask,
                                           "segment_ids": segment_ids}))

    def _serve_text(self, text_a, text_b=None):
        segments = [self.tokenizer.tokenize(text_a)]
        if text_b is not None:
            segments.append(self.tokenizer.tokenize(text_b))
        special_tokens = len(segments) + 1
        segments = truncate_to_budget(segments, self._max_seq_length - special_tokens)
        inputs = pack_segments(segments, self._cls_id, self._sep_id,
                               self._max_seq_length if self._pad_to_max else None)
        return self._outputs(self._logits(inputs))


def export_classifier(model: BertClassifier, export_dir: str, *, vocab_file: str,
                      do_lower_case: bool, max_seq_length: int,
                      label_list: Sequence[str] | None, pair: bool,
                      jit_compile: bool = False, pad_to_max_seq_length: bool = False,
                      text_signature: bool = True) -> str:
    """Writes a SavedModel of a sequence classifier (or regressor) for TF Serving.

    The SavedModel goes into a new folder `export_dir/<unix_seconds>/` (one second
    later if that version exists; an existing version is never touched), written
    under a temporary name and renamed when complete. See the module docstring for
    its signatures and files.

    Args:
      model: the fine-tuned `BertClassifier`.
      export_dir: the model's base directory, as TF Serving's `--model_base_path`.
      vocab_file: the WordPiece `vocab.txt` the model was trained with.
      do_lower_case: the casing the model was trained with (baked into the graph).
      max_seq_length: the longest packed input, special tokens included; longer
        texts are truncated as in training.
      label_list: one name per output of the model, in order; None for a regression
        model (one output), which then returns `score` instead of
        `probabilities`/`label`.
      pair: whether the raw-text signature takes `text_b` as well as `text_a`.
      jit_compile: compile the model's forward pass (not the tokenization) with XLA.
        Off by default: on CPU it was no faster (docs/benchmarks.md), and TF Serving
        runs such a model only with `--xla_cpu_compilation_enabled=true` on CPU, and
        with an XLA:GPU build on GPU.
      pad_to_max_seq_length: pad raw text to `max_seq_length`, as in training; by
        default it is padded to the batch's longest input, which gives the same
        outputs faster for short texts.
      text_signature: include the raw-text `serving_default`. A server loads every
        function of a SavedModel, so one without tensorflow_text's ops refuses the
        whole model if any signature uses them; pass False for such a server to get a
        model holding `serve_ids` alone.

    Returns:
      The path of the new version folder.

    Raises:
      ExportError: for labels that do not match the model's outputs, a
        `max_seq_length` that does not fit the model, or an unusable `export_dir`.
      bert_tf.tokenization.VocabError: for a bad vocabulary file.
      TypeError: if `model` is not a `BertClassifier`.
    """
    if not isinstance(model, BertClassifier):
        raise TypeError(f"export_classifier needs a bert_tf BertClassifier, got "
                        f"{type(model).__name__}.")
    labels = _check_labels(label_list, model.num_labels)
    _check_max_seq_length(max_seq_length, pair, model.config.max_position_embeddings)
    vocab = tokenization.load_vocab(vocab_file)
    cls_id, sep_id = _special_ids(vocab, vocab_file, model.config.vocab_size)

    tokenizer = InGraphTokenizer(vocab_file, do_lower_case) if text_signature else None
    module = _ClassifierModule(model, tokenizer, vocab_file, cls_id, sep_id, max_seq_length,
                               labels, pair, jit_compile, pad_to_max_seq_length)
    outputs = ["score"] if labels is None else ["probabilities", "label"]
    signatures = {SERVE_IDS: module.serve_ids.get_concrete_function()}
    signature_info = {SERVE_IDS: {"inputs": list(INPUT_NAMES), "outputs": outputs}}
    if text_signature:
        signatures[SERVING_DEFAULT] = module.serve_text.get_concrete_function()
        signature_info[SERVING_DEFAULT] = {
            "inputs": ["text_a", "text_b"] if pair else ["text_a"], "outputs": outputs}
    info = {
        "task": "regression" if labels is None else "classification",
        "labels": labels,
        "do_lower_case": do_lower_case,
        "max_seq_length": max_seq_length,
        "pair": pair,
        "jit_compile": jit_compile,
        "text_padding": "max_seq_length" if pad_to_max_seq_length else "longest_in_batch",
        "signatures": signature_info,
        "tensorflow_version": tf.__version__,
    }

    def write_extras(directory: str) -> None:
        model.config.to_json_file(os.path.join(directory, "bert_config.json"))
        tf.io.gfile.copy(vocab_file, os.path.join(directory, "vocab.txt"))
        with tf.io.gfile.GFile(os.path.join(directory, EXPORT_INFO_FILE), "w") as writer:
            writer.write(json.dumps(info, indent=2, ensure_ascii=False) + "\n")

    return _write_version(export_dir, module, signatures, write_extras)


def _check_labels(label_list: Sequence[str] | None, num_labels: int) -> list[str] | None:
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


def _check_max_seq_length(max_seq_length: int, pair: bool, max_positions: int) -> None:
    smallest = 3 if pair else 2
    if not smallest <= max_seq_length <= max_positions:
        raise ExportError(
            f"max_seq_length must be between {smallest} (room for the special tokens) and "
            f"the model's max_position_embeddings ({max_positions}); got {max_seq_length}.")


def _special_ids(vocab: dict[str, int], vocab_file: str, model_vocab_size: int,
                 ) -> tuple[int, int]:
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


def _write_version(export_dir: str, module: tf.Module,
                   signatures: dict[str, tf.types.experimental.ConcreteFunction],
                   write_extras) -> str:
    """Saves `module` into a new version folder of `export_dir`; returns its path."""
    gfile = tf.io.gfile
    if gfile.exists(export_dir) and not gfile.isdir(export_dir):
        raise ExportError(f"Export directory {export_dir!r} is a file; pass a directory "
                          "(TF Serving's model base path).")
    gfile.makedirs(export_dir)
    version = int(time.time())
    while (gfile.exists(os.path.join(export_dir, str(version)))
           or gfile.exists(os.path.join(export_dir, f"{_TEMPORARY_PREFIX}{version}"))):
        version += 1
    final = os.path.join(export_dir, str(version))
    # TF Serving ignores folders whose names are not numbers while this one is written.
    temporary = os.path.join(export_dir, f"{_TEMPORARY_PREFIX}{version}")
    try:
        tf.saved_model.save(module, temporary, signatures=signatures)
        write_extras(temporary)
        gfile.rename(temporary, final, overwrite=False)
    except BaseException:
        if gfile.exists(temporary):
            gfile.rmtree(temporary)
        raise
    return final
