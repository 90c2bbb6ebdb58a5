"""Word-level tags to WordPiece model inputs and back, with windows for long sentences.

Each word is WordPiece-tokenized on its own; its tag goes on its first piece, and the
other pieces get label weight 0 (ignored by the loss and the metrics):

    words:          Johanson    lives  in  Jacksonville   .
    pieces:  [CLS]  johan ##son lives  in  jack ##son ##ville .  [SEP]
    labels:    -    B-PER  -    O      O   B-LOC  -     -     O    -
    weights:   0    1      0    1      1   1      0     0     1    0

A word that tokenizes to nothing (e.g. a control character) becomes `[UNK]`, so that it
still gets a prediction.

Windows. A window holds `max_seq_length - 2` pieces between `[CLS]` and `[SEP]`. A
sentence with more pieces is never truncated: windows of that size start every
`doc_stride` pieces until the sentence is covered (the last one ends at the sentence's
end), so neighbouring windows overlap. A word can therefore sit in several windows; its
prediction is taken from the one where it has the most context, by the rule of BERT's
SQuAD code (`_check_is_max_context`): for a word whose first piece is at position p of a
window [start, end),

    score = min(p - start, end - 1 - p) + 0.01 * (end - start)

and the highest score wins (the earliest window on a tie). Only that window gives the
word label weight 1 and a place in the mapping back to words, so every word is counted
once in the loss and the metrics and gets exactly one prediction. Windows in which no
word wins are left out.

Document context (`document_context=True`, the BERT paper's CoNLL-2003 setting). The
pieces of the neighbouring sentences of the same document fill the rest of a window as
context, balanced on both sides of the sentence (more on one side where the document
ends on the other). Only the sentence's own words get label weight; a sentence is
still one example (or several windows, if it is longer than a window).
"""

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np

from bert_tf.tasks.ner.conll import Document, Sentence
from bert_tf.text.packing import CLS_TOKEN, SEP_TOKEN, check_max_seq_length
from bert_tf.errors import UserInputError
from bert_tf.text.tokenization import UNK_TOKEN
from bert_tf.text.windows import best_window, resolve_doc_stride, window_spans


class Tokenizer(Protocol):
    """What is needed of a tokenizer (`bert_tf.text.tokenization.FullTokenizer` has it)."""

    def tokenize(self, text: str) -> list[str]:
        """WordPiece tokens of `text`."""

    def convert_tokens_to_ids(self, tokens: list[str]) -> list[int]:
        """Vocabulary ids of `tokens`."""


@dataclasses.dataclass(frozen=True)
class WindowMapping:
    """Where each window's predictions go.

    Attributes:
      sentence_index: int32 [N], the sentence (in the order given) each window is for.
      word_index: int32 [N, max_seq_length], at the position that predicts a word, the
        word's index in that sentence; -1 elsewhere. Every word of every sentence
        appears exactly once in the whole array.
    """

    sentence_index: np.ndarray
    word_index: np.ndarray


@dataclasses.dataclass(frozen=True)
class NerFeatures:
    """Model inputs and labels of N windows, and the way back to words.

    Attributes:
      input_ids, input_mask, segment_ids: int32 [N, max_seq_length], BERT's inputs
        (`[CLS] pieces [SEP]`, zero padding, segment 0 throughout).
      label_ids: int32 [N, max_seq_length], the label of the word at each first piece
        (context words too), 0 elsewhere.
      label_weights: float32 [N, max_seq_length], 1 where the word's prediction is
        taken from this window (see the module docstring), 0 elsewhere.
      mapping: the positions of the weighted pieces as (sentence, word).
    """

    input_ids: np.ndarray
    input_mask: np.ndarray
    segment_ids: np.ndarray
    label_ids: np.ndarray
    label_weights: np.ndarray
    mapping: WindowMapping

    def arrays(self) -> dict[str, np.ndarray]:
        """The five arrays by name, e.g. for `tf.data.Dataset.from_tensor_slices`."""
        return {"input_ids": self.input_ids, "input_mask": self.input_mask,
                "segment_ids": self.segment_ids, "label_ids": self.label_ids,
                "label_weights": self.label_weights}


def word_pieces(word: str, tokenizer: Tokenizer) -> list[str]:
    """The WordPiece tokens of one word; `[UNK]` if it has none (e.g. a control
    character, which the tokenizer drops)."""
    return tokenizer.tokenize(word) or [UNK_TOKEN]


def convert_documents(documents: Sequence[Document], tokenizer: Tokenizer,
                      label_map: Mapping[str, int], max_seq_length: int,
                      doc_stride: int | None = None,
                      document_context: bool = False) -> NerFeatures:
    """Turns sentences into windows of model inputs (see the module docstring).

    Sentences are numbered in the order given, document after document; that number
    is `mapping.sentence_index`.

    Args:
      documents: lists of sentences with IOB2 tags (`bert_tf.tasks.ner.conll`).
      tokenizer: WordPiece tokenizer (`FullTokenizer`).
      label_map: tag -> label id (e.g. from `conll.label_list`); every tag of the
        sentences must be in it.
      max_seq_length: the padded length of a window, `[CLS]` and `[SEP]` included.
      doc_stride: how many pieces apart the windows of a long sentence start, in
        [1, max_seq_length - 2]; None means half a window.
      document_context: fill windows with neighbouring sentences of the document.

    Raises:
      UserInputError: if a tag is not in `label_map` (naming the file and line).
      InvalidArgumentError: if `max_seq_length` or `doc_stride` is out of range.
    """
    check_max_seq_length(max_seq_length)
    size = max_seq_length - 2
    doc_stride = resolve_doc_stride(doc_stride, max_seq_length)
    cls_id, sep_id = tokenizer.convert_tokens_to_ids([CLS_TOKEN, SEP_TOKEN])
    rows: dict[str, list[np.ndarray]] = {"input_ids": [], "label_ids": [],
                                         "word_index": []}
    sentence_indices: list[int] = []
    sentence_offset = 0
    for document in documents:
        stream = _DocumentStream(document, tokenizer, label_map)
        for local_index, sentence in enumerate(document):
            _check_labels(sentence, label_map)
            first, last = stream.sentence_bounds[local_index]
            if document_context:
                spans = window_spans(first, last, len(stream.ids), size, doc_stride)
            else:
                spans = [(start + first, end + first) for start, end in
                         window_spans(0, last - first, last - first, size, doc_stride)]
            winners = [best_window(spans, position)
                       for position in stream.word_starts[local_index]]
            for window, (start, end) in enumerate(spans):
                words = [word for word, winner in enumerate(winners) if winner == window]
                if not words:
                    continue
                word_index = np.full(max_seq_length, -1, np.int32)
                for word in words:
                    # +1: the window's pieces come after [CLS].
                    word_index[stream.word_starts[local_index][word] - start + 1] = word
                rows["input_ids"].append(stream.ids[start:end])
                rows["label_ids"].append(stream.label_ids[start:end])
                rows["word_index"].append(word_index)
                sentence_indices.append(sentence_offset + local_index)
        sentence_offset += len(document)
    num_windows = len(sentence_indices)
    input_ids = np.zeros((num_windows, max_seq_length), np.int32)
    label_ids = np.zeros((num_windows, max_seq_length), np.int32)
    input_mask = np.zeros((num_windows, max_seq_length), np.int32)
    for row, (ids, labels) in enumerate(zip(rows["input_ids"], rows["label_ids"])):
        input_ids[row, :len(ids) + 2] = [cls_id, *ids, sep_id]
        label_ids[row, 1:len(labels) + 1] = labels
        input_mask[row, :len(ids) + 2] = 1
    word_index = (np.stack(rows["word_index"]) if num_windows
                  else np.zeros((0, max_seq_length), np.int32))
    return NerFeatures(
        input_ids=input_ids, input_mask=input_mask,
        segment_ids=np.zeros_like(input_ids), label_ids=label_ids,
        label_weights=(word_index >= 0).astype(np.float32),
        mapping=WindowMapping(sentence_index=np.array(sentence_indices, np.int32),
                              word_index=word_index))


def word_predictions(window_predictions: np.ndarray, mapping: WindowMapping,
                     sentences: Sequence[Sentence | Sequence[str]]) -> list[list[int]]:
    """Puts window predictions back on words: one label id per word.

    Args:
      window_predictions: int label ids [N, max_seq_length] (e.g. CRF tags), or float
        scores [N, max_seq_length, num_labels] (logits, probabilities), of which the
        highest is taken.
      mapping: the `NerFeatures.mapping` of those windows.
      sentences: the sentences converted (`Sentence`s or lists of words), in order.

    Returns:
      For each sentence, the label id of each of its words.

    Raises:
      ValueError: if the mapping does not give every word exactly one prediction (the
        predictions, mapping and sentences do not belong together).
    """
    predictions = np.asarray(window_predictions)
    if predictions.ndim == 3:
        predictions = predictions.argmax(axis=-1)
    if predictions.shape != mapping.word_index.shape:
        raise ValueError(f"predictions of shape {predictions.shape} do not match the "
                         f"mapping's {mapping.word_index.shape}")
    lengths = [len(sentence.words if isinstance(sentence, Sentence) else sentence)
               for sentence in sentences]
    output = [[-1] * length for length in lengths]
    rows, positions = np.nonzero(mapping.word_index >= 0)
    for row, position in zip(rows, positions):
        sentence = int(mapping.sentence_index[row])
        word = int(mapping.word_index[row, position])
        if sentence >= len(output) or word >= len(output[sentence]):
            raise ValueError(f"the mapping names word {word} of sentence {sentence}, "
                             "which is not among the sentences given")
        if output[sentence][word] != -1:
            raise ValueError(f"word {word} of sentence {sentence} is predicted twice")
        output[sentence][word] = int(predictions[row, position])
    for sentence, labels in enumerate(output):
        if -1 in labels:
            raise ValueError(f"word {labels.index(-1)} of sentence {sentence} has no "
                             "prediction")
    return output


class _DocumentStream:
    """A document's pieces one after another, with ids, labels and word boundaries."""

    def __init__(self, document: Document, tokenizer: Tokenizer,
                 label_map: Mapping[str, int]):
        pieces: list[str] = []
        labels: list[int] = []
        self.sentence_bounds: list[tuple[int, int]] = []
        self.word_starts: list[list[int]] = []
        for sentence in document:
            first = len(pieces)
            starts = []
            for word, tag in zip(sentence.words, sentence.tags):
                starts.append(len(pieces))
                word_tokens = word_pieces(word, tokenizer)
                pieces.extend(word_tokens)
                labels.extend([label_map.get(tag, 0)] + [0] * (len(word_tokens) - 1))
            self.sentence_bounds.append((first, len(pieces)))
            self.word_starts.append(starts)
        self.ids = np.array(tokenizer.convert_tokens_to_ids(pieces), np.int32)
        self.label_ids = np.array(labels, np.int32)


def _check_labels(sentence: Sentence, label_map: Mapping[str, int]) -> None:
    for index, tag in enumerate(sentence.tags):
        if tag not in label_map:
            where = (f"{sentence.path!r}, line {sentence.line + index}" if sentence.path
                     else f"word {index} of sentence {sentence.words!r}")
            raise UserInputError(
                f"Tag {tag!r} ({where}) is not among the labels the model knows "
                f"({', '.join(label_map)}). Train with data that has this entity type, "
                "or change the tag.")
