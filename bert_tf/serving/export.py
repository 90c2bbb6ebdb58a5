"""SavedModels for TF Serving that classify raw text (and, second, token ids).

`export_classifier` writes a `tf.Module` with explicit `@tf.function` signatures into a
new version folder `export_dir/<unix_seconds>/`, TF Serving's layout:

    export_dir/1764000000/
      saved_model.pb  variables/  assets/vocab.txt  fingerprint.pb
      bert_config.json  vocab.txt  export_info.json

Signatures (`SERVING_DEFAULT` and `SERVE_IDS`):

  * `serving_default`: `text_a` (and `text_b` for a pair task), tf.string [batch].
    Tokenizes in the graph exactly as Google's `FullTokenizer`
    (`bert_tf.text.graph_tokenization`), truncates as Google's `_truncate_seq_pair`, packs
    `[CLS] A [SEP] B [SEP]` and pads (to the batch's longest input by default).
  * `serve_ids`: `input_ids`, `input_mask`, `segment_ids`, int32 [batch, seq], as
    Google's `convert_single_example` writes them. Its functions hold only core
    TensorFlow ops.

Both return `probabilities` float32 [batch, num_labels] and `label` tf.string [batch]
for classification, or `score` float32 [batch] for regression (one output). An empty
batch is answered with empty outputs ([0, num_labels], [0]) without running the model.

`serve_ids` refuses, with an InvalidArgumentError naming the input, the valid range and
the first offending id and its place, any `input_ids` outside [0, vocab_size) and any
`segment_ids` outside [0, type_vocab_size) (the same for the NER export). Unchecked, an
id past the end fails deep in the embedding lookup on CPU (and reads zeros on GPU), and
a negative one is silently read from the end of the table, as NumPy indexes.

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
tensors of any task.

Token classification (NER). `export_token_classifier` writes the same folder layout
for a `BertTokenClassifier` (or `BertCrfTokenClassifier`), with tags per *word*: each
word is WordPiece-tokenized on its own and predicted on its first piece, as in
training (`bert_tf.tasks.ner.features`). Its signatures:

  * `serving_default`: `text`, tf.string [batch] of raw text, split into words as
    Google's `BasicTokenizer` splits it (spaces, punctuation, CJK ideographs), the
    words keeping the text's case and accents even for an uncased model (cleaned
    as Google cleans text: control characters dropped).
  * `serve_words`: `words`, tf.string [batch, max_words], words already split (e.g.
    CoNLL tokens), padded with "" after each row's last word; one tag per word given.
    A word with no WordPiece (e.g. "" before the row's last word) is read as `[UNK]`,
    as in training.
  * `serve_ids`: `input_ids`, `input_mask`, `segment_ids` (and, with a CRF,
    `label_weights`, float32 [batch, seq], 1 at the first piece of each word, the
    positions the CRF chains) -> `logits` float32 [batch, seq, num_labels] and
    `tag_ids` int32 [batch, seq] (argmax, or Viterbi at the word positions and 0
    elsewhere). Core TensorFlow ops only. Ids are checked as for the classifier; an
    input without positions ([0, seq], [batch, 0]) gets empty outputs of its shape.

The two word signatures return, per row, its words and their tags and the entities
those tags make (conlleval's chunking, `bert_tf.tasks.ner.entity_metrics.get_chunks`):

    words           tf.string [batch, max_words]     "" after the row's last word
    tags            tf.string [batch, max_words]     "" after the row's last word
    num_words       int32 [batch]
    entity_starts   int32 [batch, max_entities]      first word of each entity; -1 pads
    entity_ends     int32 [batch, max_entities]      one past its last word; -1 pads
    entity_types    tf.string [batch, max_entities]  e.g. "PER"; "" pads
    num_entities    int32 [batch]

(`max_words` is the batch's longest row for `serving_default` and the input's width
for `serve_words`.) Long inputs are never cut: a row with more pieces than fit between
`[CLS]` and `[SEP]` is split into overlapping windows `doc_stride` pieces apart, and
each word takes its prediction from the window where it has the most context, exactly
as `run_ner.py` predicts a long sentence. Each row is a sentence of its own: there is
no document context.

So the work grows with the words: a row of n words takes about 1.3 n / doc_stride
windows of English text, each a forward pass over `max_seq_length` positions. The word
signatures therefore refuse a row of more than `max_words_per_request` words (default
`DEFAULT_MAX_WORDS_PER_REQUEST`, 2048, about 45 windows at max_seq_length 128) with an
InvalidArgumentError that gives the row, its word count and the limit, checked right
after the words are split and before any WordPiece or model work. The cap counts the
words of each row, not of the whole batch: TF Serving's batching may merge several
requests into one batch, and a row's count does not depend on its neighbours; the
batch size is bounded by the server (its batching `max_batch_size`, its largest
message).
"""

import json
import os
import time
from typing import Any, Callable, Sequence

import tensorflow as tf

from bert_tf.text import tokenization
from bert_tf.tasks.ner.conll import OUTSIDE, split_tag
from bert_tf.text import windows
from bert_tf.text.packing import CLS_TOKEN, SEP_TOKEN, check_max_seq_length
from bert_tf.errors import UserInputError
from bert_tf.text.graph_tokenization import BasicGraphTokenizer, InGraphTokenizer
from bert_tf.modeling import (INPUT_NAMES, BertClassifier, BertCrfTokenClassifier,
                              BertTokenClassifier)

SERVING_DEFAULT = "serving_default"
SERVE_IDS = "serve_ids"
SERVE_WORDS = "serve_words"
EXPORT_INFO_FILE = "export_info.json"
# The most words a row of the NER word signatures may hold (see the module docstring).
DEFAULT_MAX_WORDS_PER_REQUEST = 2048
WORD_OUTPUTS = ("words", "tags", "num_words", "entity_starts", "entity_ends",
                "entity_types", "num_entities")
_TEMPORARY_PREFIX = "temp-"
# Tag prefixes of every scheme `bert_tf.tasks.ner.conll` reads (BILOU's L and U are IOBES'
# E and S): those that start an entity, and those that continue one.
_BEGIN_PREFIXES = ("B", "S", "U")
_CONTINUE_PREFIXES = ("I", "E", "L")
_OPEN_PREFIXES = ("B", "I")  # An entity is still open after these.


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


def _fail_unless(ok: tf.Tensor, message: Callable[[], tf.Tensor]) -> tf.Operation:
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

    return _fail_unless(~tf.reduce_any(outside), message)


def _checked_ids(inputs: dict[str, tf.Tensor], vocab_size: int, type_vocab_size: int,
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


class _ServingModule(tf.Module):
    """What every exported SavedModel holds: the vocabulary asset, the model's
    variables and its forward pass as a `tf.function` over int32 [batch, seq] inputs."""

    def __init__(self, name: str, model, vocab_file: str,
                 forward: Callable[[dict[str, tf.Tensor]], Any],
                 input_specs: dict[str, tf.TensorSpec], jit_compile: bool):
        super().__init__(name=name)
        self.vocab_file = tf.saved_model.Asset(vocab_file)
        # The variables, not the Keras model: loading must not need Keras classes. And
        # the tf.Variables inside Keras' wrappers: only those get restore ops that
        # TF1-style loaders (TF Serving, saved_model_cli) run.
        self.model_variables = [variable.value for variable in model.variables]
        # Only the numeric part is compiled: string ops have no XLA kernels.
        self._forward = tf.function(forward, input_signature=[input_specs],
                                    jit_compile=jit_compile, autograph=False)


def _ids_specs(extra: Sequence[tuple[str, tf.DType]] = ()) -> dict[str, tf.TensorSpec]:
    """[batch, seq] specs of the model inputs (and `extra` ones), by name."""
    return {name: tf.TensorSpec([None, None], dtype, name=name)
            for name, dtype in [*((name, tf.int32) for name in INPUT_NAMES), *extra]}


class _ClassifierModule(_ServingModule):
    """What a classifier's SavedModel holds: tokenizer, model variables, labels,
    signatures."""

    def __init__(self, model: BertClassifier, tokenizer: InGraphTokenizer | None,
                 vocab_file: str, cls_id: int, sep_id: int, max_seq_length: int,
                 label_list: list[str] | None, pair: bool, jit_compile: bool,
                 pad_to_max_seq_length: bool):
        def logits(inputs: dict[str, tf.Tensor]) -> tf.Tensor:
            return model(inputs, training=False)["logits"]

        super().__init__("bert_classifier_serving", model, vocab_file, logits,
                         _ids_specs(), jit_compile)
        if tokenizer is not None:
            self.tokenizer = tokenizer
        self._cls_id, self._sep_id = cls_id, sep_id
        self._max_seq_length = max_seq_length
        self._pad_to_max = pad_to_max_seq_length
        self._labels = label_list
        self._num_labels = model.num_labels
        self._vocab_sizes = (model.config.vocab_size, model.config.type_vocab_size)
        self.serve_ids = tf.function(self._serve_ids, input_signature=list(
            _ids_specs().values()))
        if tokenizer is not None:
            text_specs = [tf.TensorSpec([None], tf.string, name="text_a")]
            if pair:
                text_specs.append(tf.TensorSpec([None], tf.string, name="text_b"))
            self.serve_text = tf.function(self._serve_text, input_signature=text_specs)

    def _logits(self, inputs: dict[str, tf.Tensor]) -> tf.Tensor:
        """float32 [batch, num_labels]: the model's logits, or [0, num_labels] for an
        empty batch, which the model cannot take (no texts pack to [0, 0] inputs, with
        no `[CLS]` for the pooler to read)."""
        return tf.cond(tf.shape(inputs["input_ids"])[0] > 0,
                       lambda: self._forward(inputs),
                       lambda: tf.zeros([0, self._num_labels], tf.float32))

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
        inputs = _checked_ids({"input_ids": input_ids, "input_mask": input_mask,
                               "segment_ids": segment_ids}, *self._vocab_sizes)
        return self._outputs(self._logits(inputs))

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
    check_max_seq_length(max_seq_length, model.config.max_position_embeddings,
                         smallest=3 if pair else 2)
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
    return _write_version(export_dir, module, signatures,
                          _extras_writer(model, vocab_file, info))


class _TagScheme:
    """How each label id chains into entities, as `bert_tf.tasks.ner.entity_metrics.get_chunks`
    reads tags: a `B-`/`S-` tag starts an entity; an `I-`/`E-` tag continues one right
    after a `B-` or `I-` tag of its type and starts one anywhere else."""

    def __init__(self, labels: Sequence[str]):
        prefixes, types = zip(*(split_tag(label) for label in labels))
        self.type_names = sorted({name for name in types if name})
        self.type_ids = [self.type_names.index(name) if name else -1 for name in types]
        self.can_continue = [prefix in _CONTINUE_PREFIXES for prefix in prefixes]
        self.keeps_open = [prefix in _OPEN_PREFIXES for prefix in prefixes]

    def entities(self, tag_ids: tf.RaggedTensor) -> dict[str, tf.Tensor]:
        """The entities of each row of label ids [batch, (words)], as the padded
        `entity_*` outputs and `num_entities` (see the module docstring)."""
        tags = tag_ids.flat_values
        position = tf.ragged.range(tag_ids.row_lengths()).flat_values
        previous = tf.concat([[0], tags], axis=0)[:-1]  # Read only where position > 0.
        type_ids = tf.constant(self.type_ids, tf.int64)
        type_id = tf.gather(type_ids, tags)
        continues = ((position > 0) & tf.gather(tf.constant(self.can_continue), tags)
                     & tf.gather(tf.constant(self.keeps_open), previous)
                     & tf.equal(tf.gather(type_ids, previous), type_id))
        begins = (type_id >= 0) & ~continues
        # Every word of an entity carries the running count of entity starts.
        entity = tf.cumsum(tf.cast(begins, tf.int64)) - 1
        count = tf.reduce_sum(tf.cast(begins, tf.int64))
        inside = type_id >= 0
        ends = tf.math.unsorted_segment_max(
            tf.boolean_mask(position + 1, inside), tf.boolean_mask(entity, inside), count)
        rows = tf.boolean_mask(tag_ids.value_rowids(), begins)
        nrows = tag_ids.nrows()

        def by_row(values: tf.Tensor) -> tf.RaggedTensor:
            return tf.RaggedTensor.from_value_rowids(values, rows, nrows)

        type_names = tf.constant(self.type_names or [""], tf.string)
        starts = by_row(tf.cast(tf.boolean_mask(position, begins), tf.int32))
        return {
            "entity_starts": starts.to_tensor(-1),
            "entity_ends": by_row(tf.cast(ends, tf.int32)).to_tensor(-1),
            "entity_types": by_row(tf.gather(
                type_names, tf.boolean_mask(type_id, begins))).to_tensor(""),
            "num_entities": tf.cast(starts.row_lengths(), tf.int32),
        }


class _TokenClassifierModule(_ServingModule):
    """What a token classifier's SavedModel holds: tokenizers, model variables, tags,
    signatures."""

    def __init__(self, model: BertTokenClassifier, tokenizer: InGraphTokenizer | None,
                 vocab_file: str, special_ids: tuple[int, int, int], max_seq_length: int,
                 doc_stride: int, label_list: list[str], jit_compile: bool,
                 pad_to_max_seq_length: bool, max_words_per_request: int):
        crf = isinstance(model, BertCrfTokenClassifier)

        def forward(inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
            outputs = model(inputs, training=False)
            tag_ids = (outputs["tags"] if crf
                       else tf.argmax(outputs["logits"], axis=-1, output_type=tf.int32))
            return {"logits": outputs["logits"], "tag_ids": tf.cast(tag_ids, tf.int32)}

        specs = _ids_specs([("label_weights", tf.float32)] if crf else [])
        super().__init__("bert_token_classifier_serving", model, vocab_file, forward,
                         specs, jit_compile)
        self._crf = crf
        self._cls_id, self._sep_id, self._unk_id = special_ids
        self._max_seq_length = max_seq_length
        self._doc_stride = doc_stride
        self._pad_to_max = pad_to_max_seq_length
        self._labels = label_list
        self._scheme = _TagScheme(label_list)
        self._max_words = max_words_per_request
        self._vocab_sizes = (model.config.vocab_size, model.config.type_vocab_size)
        self.serve_ids = tf.function(self._serve_ids, input_signature=list(specs.values()))
        if tokenizer is not None:
            self.tokenizer = tokenizer
            # The words keep the text's case: only their pieces are lower-cased.
            self.word_splitter = (tokenizer.basic if not tokenizer.do_lower_case
                                  else BasicGraphTokenizer(do_lower_case=False))
            self.serve_text = tf.function(self._serve_text, input_signature=[
                tf.TensorSpec([None], tf.string, name="text")])
            self.serve_words = tf.function(self._serve_words, input_signature=[
                tf.TensorSpec([None, None], tf.string, name="words")])

    def _serve_ids(self, input_ids, input_mask, segment_ids, label_weights=None):
        inputs = {"input_ids": input_ids, "input_mask": input_mask,
                  "segment_ids": segment_ids}
        if label_weights is not None:
            inputs["label_weights"] = label_weights
        inputs = _checked_ids(inputs, *self._vocab_sizes)
        shape = tf.shape(inputs["input_ids"])

        def empty() -> dict[str, tf.Tensor]:
            return {"logits": tf.zeros(tf.concat([shape, [len(self._labels)]], 0)),
                    "tag_ids": tf.zeros(shape, tf.int32)}

        # Without positions the model need not run (and the CRF cannot scan [0, 0]).
        outputs = tf.cond(tf.size(inputs["input_ids"]) > 0,
                          lambda: self._forward(inputs), empty)
        return {"logits": tf.ensure_shape(outputs["logits"], [None, None, len(self._labels)]),
                "tag_ids": outputs["tag_ids"]}

    def _serve_text(self, text):
        return self._tag_words(self.word_splitter.split_words(text), width=None)

    def _serve_words(self, words):
        # A row's words run up to its last non-empty string.
        ordinal = tf.range(1, tf.shape(words, out_type=tf.int64)[1] + 1)
        counts = tf.maximum(
            tf.reduce_max(tf.where(words != "", ordinal[tf.newaxis], 0), axis=1), 0)
        return self._tag_words(tf.RaggedTensor.from_tensor(words, lengths=counts),
                               width=tf.shape(words)[1])

    def _tag_words(self, words: tf.RaggedTensor, width: tf.Tensor | None,
                   ) -> dict[str, tf.Tensor]:
        """Tags and entities of words [batch, (words)]; dense outputs `width` wide
        (None: the longest row). Fails for a row over the word cap."""
        words = self._within_word_cap(words)
        # Without words (an empty batch, or only empty texts) the model need not run,
        # and the windowing would give it a [0, 0] batch, which the CRF cannot scan.
        tag_ids = words.with_flat_values(tf.cond(
            tf.size(words.flat_values) > 0, lambda: self._word_tag_ids(words),
            lambda: tf.zeros([0], tf.int32)))
        shape = None if width is None else tf.stack([words.nrows(), tf.cast(width, tf.int64)])
        labels = tf.constant(self._labels, tf.string)
        return {
            "words": words.to_tensor("", shape=shape),
            "tags": tf.ragged.map_flat_values(tf.gather, labels, tag_ids).to_tensor(
                "", shape=shape),
            "num_words": tf.cast(words.row_lengths(), tf.int32),
            **self._scheme.entities(tag_ids),
        }

    def _within_word_cap(self, words: tf.RaggedTensor) -> tf.RaggedTensor:
        """`words` [batch, (words)], usable only once no row holds more than
        `max_words_per_request` words: the tokenization and the model, whose work grows
        with the words, wait for the check, so an oversized request fails quickly."""
        counts = tf.concat([words.row_lengths(), [0]], axis=0)  # 0: an empty batch passes.
        row = tf.argmax(counts)
        limit = self._max_words

        def message() -> tf.Tensor:
            return tf.strings.format(
                f"Row {{}} of the batch has {{}} words, more than the {limit} words per "
                "row this model takes (max_words_per_request); split long texts into "
                "shorter ones.", [row, counts[row]])

        check = _fail_unless(counts[row] <= limit, message)
        with tf.control_dependencies([check]):
            return words.with_flat_values(tf.identity(words.flat_values))

    def _word_tag_ids(self, words: tf.RaggedTensor) -> tf.Tensor:
        """The label id of every word (flat, [words]), predicted on its first piece in
        its best window."""
        pieces = _unknown_if_empty(self.tokenizer.tokenize(words.flat_values), self._unk_id)
        stream = words.with_flat_values(pieces).merge_dims(1, 2)  # [batch, (pieces)]
        example = words.value_rowids()
        # The first piece of each word, counted from its example's first piece.
        position = pieces.row_starts() - tf.gather(stream.row_starts(), example)
        starts, inputs = self._windows(stream)
        length = tf.minimum(stream.row_lengths(), self._max_seq_length - 2)
        best = windows.best_windows(position, tf.gather(starts.to_tensor(0), example),
                            tf.gather(tf.sequence_mask(starts.row_lengths()), example),
                            tf.gather(length, example))
        window = tf.gather(starts.row_starts(), example) + best
        # [window, position in it] of each word's first piece; +1 for [CLS].
        target = tf.stack([window, position - tf.gather(starts.flat_values, window) + 1],
                          axis=1)
        if self._crf:
            # The CRF chains the positions that predict a word, as `label_weights`
            # marks them in training.
            inputs["label_weights"] = tf.scatter_nd(
                target, tf.ones_like(position, tf.float32),
                tf.shape(inputs["input_ids"], out_type=tf.int64))
        return tf.gather_nd(self._forward(inputs)["tag_ids"], target)

    def _windows(self, stream: tf.RaggedTensor) -> tuple[tf.RaggedTensor,
                                                          dict[str, tf.Tensor]]:
        """The windows over each example's pieces [batch, (pieces)]: their starts
        [batch, (windows)], and the packed model inputs of all of them, example after
        example."""
        size = self._max_seq_length - 2
        starts = windows.window_starts(stream.row_lengths(), size, self._doc_stride)
        example = starts.value_rowids()
        first = starts.flat_values + tf.gather(stream.row_starts(), example)
        length = tf.gather(tf.minimum(stream.row_lengths(), size), example)
        window_ids = tf.gather(stream.flat_values, tf.ragged.range(first, first + length))
        return starts, pack_segments([window_ids], self._cls_id, self._sep_id,
                                     self._max_seq_length if self._pad_to_max else None)


def _unknown_if_empty(pieces: tf.RaggedTensor, unk_id: int) -> tf.RaggedTensor:
    """`[UNK]` for each word without pieces (e.g. a control character), as
    `bert_tf.tasks.ner.features.word_pieces` does in training."""
    empty = tf.equal(pieces.row_lengths(), 0)[:, tf.newaxis]
    unknown = tf.fill(tf.stack([pieces.nrows(), 1]), tf.constant(unk_id, pieces.dtype))
    return tf.concat([pieces, tf.ragged.boolean_mask(unknown, empty)], axis=1)


def export_token_classifier(model: BertTokenClassifier, export_dir: str, *,
                            vocab_file: str, do_lower_case: bool, max_seq_length: int,
                            label_list: Sequence[str], doc_stride: int | None = None,
                            jit_compile: bool = False, pad_to_max_seq_length: bool = False,
                            text_signature: bool = True,
                            max_words_per_request: int = DEFAULT_MAX_WORDS_PER_REQUEST,
                            ) -> str:
    """Writes a SavedModel of a token classifier (NER) that tags words, for TF Serving.

    Version folders, files, loading and `text_signature` are as for
    `export_classifier`; the signatures and outputs are in the module docstring. A
    `BertCrfTokenClassifier` decodes with its CRF (Viterbi over the words of each
    window) in the graph; a `BertTokenClassifier` takes the argmax.

    Args:
      model: the fine-tuned `BertTokenClassifier` or `BertCrfTokenClassifier`.
      export_dir: the model's base directory, as TF Serving's `--model_base_path`.
      vocab_file: the WordPiece `vocab.txt` the model was trained with.
      do_lower_case: the casing the model was trained with (baked into the graph).
      max_seq_length: the padded length of a window, `[CLS]` and `[SEP]` included.
      label_list: the tag of each output of the model, in order (`O` or `X-TYPE`
        with X one of B, I, E, S, L, U, e.g. IOB2's `B-PER`, `I-PER`).
      doc_stride: how many pieces apart the windows of a long input start, in
        [1, max_seq_length - 2]; None means half a window (`run_ner.py`'s default).
      jit_compile: compile the model's forward pass (and the CRF's decoding) with
        XLA; see `export_classifier`.
      pad_to_max_seq_length: pad windows to `max_seq_length`; by default to the
        batch's longest window, which gives the same tags.
      text_signature: include `serving_default` and `serve_words` (they need
        tensorflow_text's ops); False writes `serve_ids` alone.
      max_words_per_request: the most words a row (one text, or one row of `words`)
        of the word signatures may hold; a row with more fails the request with an
        InvalidArgumentError that says so before any tokenization or model work. It
        bounds the work a row can ask for (about 1.3 * words / doc_stride windows of
        English text); a server's batch size bounds the rows. Kept in
        `export_info.json` (None there without the word signatures).

    Returns:
      The path of the new version folder.

    Raises:
      ExportError: for labels that do not match the model's outputs or are not
        tags, a `max_seq_length` or `doc_stride` out of range, a
        `max_words_per_request` below 1, a vocabulary that does not fit the model,
        or an unusable `export_dir`.
      bert_tf.tokenization.VocabError: for a bad vocabulary file.
      TypeError: if `model` is not a `BertTokenClassifier`.
    """
    if not isinstance(model, BertTokenClassifier):
        raise TypeError(f"export_token_classifier needs a bert_tf BertTokenClassifier, "
                        f"got {type(model).__name__}.")
    if label_list is None:
        raise ExportError("label_list is None; pass the tag of each of the model's "
                          "outputs, in training order (e.g. run_ner.py's task_info.json).")
    labels = _check_tags(_check_labels(label_list, model.num_labels))
    check_max_seq_length(max_seq_length, model.config.max_position_embeddings)
    doc_stride = windows.resolve_doc_stride(doc_stride, max_seq_length)
    _check_max_words(max_words_per_request)
    vocab = tokenization.load_vocab(vocab_file)
    cls_id, sep_id = _special_ids(vocab, vocab_file, model.config.vocab_size)
    if tokenization.UNK_TOKEN not in vocab:
        raise ExportError(f"Vocabulary file {vocab_file!r} has no {tokenization.UNK_TOKEN} "
                          "token; pass the vocab.txt the model was trained with.")

    tokenizer = InGraphTokenizer(vocab_file, do_lower_case) if text_signature else None
    module = _TokenClassifierModule(
        model, tokenizer, vocab_file, (cls_id, sep_id, vocab[tokenization.UNK_TOKEN]),
        max_seq_length, doc_stride, labels, jit_compile, pad_to_max_seq_length,
        max_words_per_request)
    crf = isinstance(model, BertCrfTokenClassifier)
    ids_inputs = [*INPUT_NAMES, *(["label_weights"] if crf else [])]
    signatures = {SERVE_IDS: module.serve_ids.get_concrete_function()}
    signature_info = {SERVE_IDS: {"inputs": ids_inputs, "outputs": ["logits", "tag_ids"]}}
    if text_signature:
        signatures[SERVING_DEFAULT] = module.serve_text.get_concrete_function()
        signatures[SERVE_WORDS] = module.serve_words.get_concrete_function()
        signature_info[SERVING_DEFAULT] = {"inputs": ["text"], "outputs": list(WORD_OUTPUTS)}
        signature_info[SERVE_WORDS] = {"inputs": ["words"], "outputs": list(WORD_OUTPUTS)}
    info = {
        "task": "token_classification",
        "labels": labels,
        "crf": crf,
        "do_lower_case": do_lower_case,
        "max_seq_length": max_seq_length,
        "doc_stride": doc_stride,
        "max_words_per_request": max_words_per_request if text_signature else None,
        "jit_compile": jit_compile,
        "text_padding": "max_seq_length" if pad_to_max_seq_length else "longest_in_batch",
        "signatures": signature_info,
        "tensorflow_version": tf.__version__,
    }
    return _write_version(export_dir, module, signatures,
                          _extras_writer(model, vocab_file, info))


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


def _check_tags(labels: list[str]) -> list[str]:
    prefixes = (*_BEGIN_PREFIXES, *_CONTINUE_PREFIXES)
    for label in labels:
        try:
            prefix, _ = split_tag(label)
        except ValueError:
            prefix = ""
        if prefix != OUTSIDE and prefix not in prefixes:
            raise ExportError(
                f"label_list holds {label!r}, which is not a tag: pass tags such as 'O', "
                f"'B-PER', 'I-PER' ('O' or X-TYPE with X one of {', '.join(prefixes)}).")
    return labels


def _check_max_words(max_words_per_request: int) -> None:
    if (not isinstance(max_words_per_request, int) or isinstance(max_words_per_request, bool)
            or max_words_per_request < 1):
        raise ExportError("max_words_per_request must be a positive number of words; got "
                          f"{max_words_per_request!r}.")


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


def _extras_writer(model, vocab_file: str, info: dict) -> Callable[[str], None]:
    """Writes the files kept beside the SavedModel: `bert_config.json`, `vocab.txt`
    and `export_info.json` (`info`)."""

    def write_extras(directory: str) -> None:
        model.config.to_json_file(os.path.join(directory, "bert_config.json"))
        tf.io.gfile.copy(vocab_file, os.path.join(directory, "vocab.txt"))
        with tf.io.gfile.GFile(os.path.join(directory, EXPORT_INFO_FILE), "w") as writer:
            writer.write(json.dumps(info, indent=2, ensure_ascii=False) + "\n")

    return write_extras


def _write_version(export_dir: str, module: tf.Module,
                   signatures: dict[str, tf.types.experimental.ConcreteFunction],
                   write_extras: Callable[[str], None]) -> str:
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
