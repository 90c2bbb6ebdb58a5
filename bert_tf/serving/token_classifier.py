"""SavedModels for TF Serving that tag the words of raw text (NER).

`export_token_classifier` writes a version folder as `bert_tf.serving.common`
describes (files, loading, XLA) for a `BertTokenClassifier` (or
`BertCrfTokenClassifier`), with tags per *word*: each word is WordPiece-tokenized on
its own and predicted on its first piece, as in training
(`bert_tf.tasks.ner.features`). Its signatures:

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
those tags make (conlleval's chunking, `bert_tf.serving.entities`):

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
as `run_ner.py` predicts a long sentence (`bert_tf.text.windows`). Each row is a
sentence of its own: there is no document context.

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

from typing import Sequence

import tensorflow as tf

from bert_tf.errors import InvalidArgumentError
from bert_tf.modeling import INPUT_NAMES, BertCrfTokenClassifier, BertTokenClassifier
from bert_tf.serving import common
from bert_tf.serving.common import (SERVE_IDS, SERVE_WORDS, SERVING_DEFAULT, ExportError,
                                    Signature)
from bert_tf.serving.entities import BEGIN_PREFIXES, CONTINUE_PREFIXES, TagScheme
from bert_tf.text.tag_schemes import OUTSIDE, split_tag
from bert_tf.text import tokenization, windows
from bert_tf.text.graph_tokenization import BasicGraphTokenizer, InGraphTokenizer
from bert_tf.text.packing import check_max_seq_length

# The most words a row of the word signatures may hold (see the module docstring).
DEFAULT_MAX_WORDS_PER_REQUEST = 2048
WORD_OUTPUTS = ("words", "tags", "num_words", "entity_starts", "entity_ends",
                "entity_types", "num_entities")


class _TokenClassifierModule(common.ServingModule):
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

        specs = common.ids_specs([("label_weights", tf.float32)] if crf else [])
        super().__init__("bert_token_classifier_serving", model, vocab_file, forward,
                         specs, jit_compile)
        self._crf = crf
        self._cls_id, self._sep_id, self._unk_id = special_ids
        self._max_seq_length = max_seq_length
        self._doc_stride = doc_stride
        self._pad_to_max = pad_to_max_seq_length
        self._labels = label_list
        self._scheme = TagScheme(label_list)
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
        inputs = common.checked_ids(inputs, *self._vocab_sizes)
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

        check = common.fail_unless(counts[row] <= limit, message)
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
        best = windows.best_windows(
            position, tf.gather(starts.to_tensor(0), example),
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
        return starts, common.pack_segments(
            [window_ids], self._cls_id, self._sep_id,
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
        tags, a vocabulary that does not fit the model, or an unusable `export_dir`.
      bert_tf.errors.InvalidArgumentError: for a `max_seq_length` or `doc_stride`
        out of range, or a `max_words_per_request` below 1.
      bert_tf.tokenization.VocabError: for a bad vocabulary file.
      TypeError: if `model` is not a `BertTokenClassifier`.
    """
    if not isinstance(model, BertTokenClassifier):
        raise TypeError(f"export_token_classifier needs a bert_tf BertTokenClassifier, "
                        f"got {type(model).__name__}.")
    if label_list is None:
        raise ExportError("label_list is None; pass the tag of each of the model's "
                          "outputs, in training order (e.g. run_ner.py's task_info.json).")
    labels = _check_tags(common.check_labels(label_list, model.num_labels))
    check_max_seq_length(max_seq_length, model.config.max_position_embeddings)
    doc_stride = windows.resolve_doc_stride(doc_stride, max_seq_length)
    _check_max_words(max_words_per_request)
    vocab = tokenization.load_vocab(vocab_file)
    cls_id, sep_id = common.special_ids(vocab, vocab_file, model.config.vocab_size)
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
    signatures = {SERVE_IDS: Signature(module.serve_ids, ids_inputs, ["logits", "tag_ids"])}
    if text_signature:
        signatures[SERVING_DEFAULT] = Signature(module.serve_text, ["text"], WORD_OUTPUTS)
        signatures[SERVE_WORDS] = Signature(module.serve_words, ["words"], WORD_OUTPUTS)
    info = {
        "task": "token_classification",
        "labels": labels,
        "crf": crf,
        "do_lower_case": do_lower_case,
        "max_seq_length": max_seq_length,
        "doc_stride": doc_stride,
        "max_words_per_request": max_words_per_request if text_signature else None,
        "jit_compile": jit_compile,
        "text_padding": common.text_padding(pad_to_max_seq_length),
    }
    return common.export_version(export_dir, module, signatures, model, vocab_file, info)


def _check_tags(labels: list[str]) -> list[str]:
    """`labels`, each `O` or a tag of a scheme `bert_tf.tasks.ner.conll` reads.

    Raises:
      ExportError: naming the first label that is not such a tag.
    """
    prefixes = (*BEGIN_PREFIXES, *CONTINUE_PREFIXES)
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
    """Raises InvalidArgumentError unless `max_words_per_request` is an int >= 1."""
    if (not isinstance(max_words_per_request, int) or isinstance(max_words_per_request, bool)
            or max_words_per_request < 1):
        raise InvalidArgumentError("max_words_per_request", max_words_per_request,
                                   "must be a positive number of words.")
