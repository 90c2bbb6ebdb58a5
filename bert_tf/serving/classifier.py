"""SavedModels for TF Serving that classify raw text (and, second, token ids).

`export_classifier` writes a version folder as `bert_tf.serving.common` describes
(files, loading, XLA) with two signatures:

  * `serving_default`: `text_a` (and `text_b` for a pair task), tf.string [batch].
    Tokenizes in the graph exactly as Google's `FullTokenizer`
    (`bert_tf.text.graph_tokenization`), reads a long text as the model was trained to
    (`bert_tf.text.long_inputs`: by default its head, truncated as Google's
    `_truncate_seq_pair`; or its tail, both ends, or windows whose logits are pooled,
    one row of outputs per text), packs `[CLS] A [SEP] B [SEP]` and pads (to the
    batch's longest input by default).
  * `serve_ids`: `input_ids`, `input_mask`, `segment_ids`, int32 [batch, seq], as
    Google's `convert_single_example` writes them. Its functions hold only core
    TensorFlow ops, and it refuses ids out of range (see `bert_tf.serving.common`).

Both return `probabilities` float32 [batch, num_labels] and `label` tf.string [batch]
for classification, or `score` float32 [batch] for regression (one output). An empty
batch is answered with empty outputs ([0, num_labels], [0]) without running the model.
"""

from typing import Sequence

import tensorflow as tf

from bert_tf.modeling import INPUT_NAMES, BertClassifier
from bert_tf.serving import common
from bert_tf.serving.common import SERVE_IDS, SERVING_DEFAULT, Signature
from bert_tf.text import long_inputs as long_input_rules
from bert_tf.text import tokenization
from bert_tf.text.graph_tokenization import InGraphTokenizer
from bert_tf.text.long_inputs import LongInputStrategy
from bert_tf.text.packing import check_max_seq_length


class _ClassifierModule(common.ServingModule):
    """What a classifier's SavedModel holds: tokenizer, model variables, labels,
    signatures."""

    def __init__(self, model: BertClassifier, tokenizer: InGraphTokenizer | None,
                 vocab_file: str, cls_id: int, sep_id: int, max_seq_length: int,
                 label_list: list[str] | None, pair: bool, jit_compile: bool,
                 pad_to_max_seq_length: bool, long_inputs: LongInputStrategy):
        def logits(inputs: dict[str, tf.Tensor]) -> tf.Tensor:
            return model(inputs, training=False)["logits"]

        super().__init__("bert_classifier_serving", model, vocab_file, logits,
                         common.ids_specs(), jit_compile)
        if tokenizer is not None:
            self.tokenizer = tokenizer
        self._cls_id, self._sep_id = cls_id, sep_id
        self._max_seq_length = max_seq_length
        self._pad_to_max = pad_to_max_seq_length
        self._long_inputs = long_inputs
        self._labels = label_list
        self._num_labels = model.num_labels
        self._vocab_sizes = (model.config.vocab_size, model.config.type_vocab_size)
        self.serve_ids = tf.function(self._serve_ids, input_signature=list(
            common.ids_specs().values()))
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
        inputs = common.checked_ids({"input_ids": input_ids, "input_mask": input_mask,
                                     "segment_ids": segment_ids}, *self._vocab_sizes)
        return self._outputs(self._logits(inputs))

    def _serve_text(self, text_a, text_b=None):
        segments = [self.tokenizer.tokenize(text_a)]
        if text_b is not None:
            segments.append(self.tokenizer.tokenize(text_b))
        if self._long_inputs.name == long_input_rules.HEAD:
            special_tokens = len(segments) + 1
            segments = common.truncate_to_budget(segments,
                                                 self._max_seq_length - special_tokens)
            return self._outputs(self._logits(self._pack(segments)))
        segments, example = self._select(segments)
        logits = long_input_rules.graph_pool(self._logits(self._pack(segments)), example,
                                             self._long_inputs.pooling)
        return self._outputs(logits)

    def _select(self, segments: list[tf.RaggedTensor],
                ) -> tuple[list[tf.RaggedTensor], tf.Tensor]:
        """The segments of every model input the long-input strategy makes of the
        texts (one, or a window each), and the text of each, int64 [inputs]: a single
        text within `max_seq_length - 2` pieces, or a pair's `text_a` whole (its first
        `max_seq_length - 4` pieces) and `text_b` in the room left."""
        if len(segments) == 1:
            budget = tf.fill([segments[0].nrows()],
                             tf.constant(self._max_seq_length - 2, tf.int64))
            selected, example = long_input_rules.graph_select(self._long_inputs,
                                                              segments[0], budget)
            return [selected], example
        text_a = segments[0][:, :self._max_seq_length - 4]
        budget = self._max_seq_length - 3 - text_a.row_lengths()
        selected, example = long_input_rules.graph_select(self._long_inputs, segments[1],
                                                          budget)
        return [tf.gather(text_a, example), selected], example

    def _pack(self, segments: list[tf.RaggedTensor]) -> dict[str, tf.Tensor]:
        return common.pack_segments(segments, self._cls_id, self._sep_id,
                                    self._max_seq_length if self._pad_to_max else None)


def export_classifier(model: BertClassifier, export_dir: str, *, vocab_file: str,
                      do_lower_case: bool, max_seq_length: int,
                      label_list: Sequence[str] | None, pair: bool,
                      jit_compile: bool = False, pad_to_max_seq_length: bool = False,
                      text_signature: bool = True,
                      long_inputs: LongInputStrategy = LongInputStrategy()) -> str:
    """Writes a SavedModel of a sequence classifier (or regressor) for TF Serving.

    The SavedModel goes into a new folder `export_dir/<unix_seconds>/` (one second
    later if that version exists; an existing version is never touched), written
    under a temporary name and renamed when complete. See the module docstring for
    its signatures and `bert_tf.serving.common` for its files.

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
      long_inputs: what the raw-text signature reads of a text longer than
        `max_seq_length` (the model's training strategy; see
        `bert_tf.text.long_inputs`). With `windows`, a text's windows are all run and
        their logits pooled, so the work grows with the text's length. `serve_ids`
        takes one model input per row and pools nothing.

    Returns:
      The path of the new version folder.

    Raises:
      ExportError: for labels that do not match the model's outputs, a vocabulary
        that does not fit the model, or an unusable `export_dir`.
      bert_tf.errors.InvalidArgumentError: for a `max_seq_length` that does not fit
        the model, or a `long_inputs` out of range.
      bert_tf.tokenization.VocabError: for a bad vocabulary file.
      TypeError: if `model` is not a `BertClassifier`.
    """
    if not isinstance(model, BertClassifier):
        raise TypeError(f"export_classifier needs a bert_tf BertClassifier, got "
                        f"{type(model).__name__}.")
    labels = common.check_labels(label_list, model.num_labels)
    check_max_seq_length(max_seq_length, model.config.max_position_embeddings,
                         smallest=3 if pair else 2)
    long_inputs.check(max_seq_length, pair)
    vocab = tokenization.load_vocab(vocab_file)
    cls_id, sep_id = common.special_ids(vocab, vocab_file, model.config.vocab_size)

    tokenizer = InGraphTokenizer(vocab_file, do_lower_case) if text_signature else None
    module = _ClassifierModule(model, tokenizer, vocab_file, cls_id, sep_id, max_seq_length,
                               labels, pair, jit_compile, pad_to_max_seq_length,
                               long_inputs)
    outputs = ["score"] if labels is None else ["probabilities", "label"]
    signatures = {SERVE_IDS: Signature(module.serve_ids, INPUT_NAMES, outputs)}
    if text_signature:
        signatures[SERVING_DEFAULT] = Signature(
            module.serve_text, ["text_a", "text_b"] if pair else ["text_a"], outputs)
    info = {
        "task": "regression" if labels is None else "classification",
        "labels": labels,
        "do_lower_case": do_lower_case,
        "max_seq_length": max_seq_length,
        "pair": pair,
        **long_inputs.fields(),
        "jit_compile": jit_compile,
        "text_padding": common.text_padding(pad_to_max_seq_length),
    }
    return common.export_version(export_dir, module, signatures, model, vocab_file, info)
