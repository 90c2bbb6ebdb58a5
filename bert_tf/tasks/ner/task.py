"""Named-entity recognition on CoNLL-format data as a `Task` (`run_ner.py`).

The data folder holds `train.txt`, `dev.txt` (or `valid.txt`, or CoNLL-2003's
`eng.testa`) and `test.txt` (`bert_tf.tasks.ner.conll`), in IOB1, IOB2, IOBES or
BILOU. The labels are the IOB2 tags of the training file, saved with the model. Each
word's tag is learned and predicted at its first WordPiece; a sentence longer than a
window is split into overlapping windows, never truncated (`bert_tf.tasks.ner.features`).
Evaluation scores entities as conlleval does, in the dev file's scheme; prediction
writes `test_predictions.txt` (`word gold predicted`, in the test file's scheme).
"""

import dataclasses
import os
from typing import Callable

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf import io as outputs
from bert_tf import serving
from bert_tf.configs import BertConfig
from bert_tf.errors import InvalidArgumentError, UserInputError
from bert_tf.modeling import BertCrfTokenClassifier, BertTokenClassifier
from bert_tf.tasks.base import DEV, TEST, TRAIN, FineTuningOptions, Task, TaskInfo
from bert_tf.tasks.ner import conll
from bert_tf.tasks.ner import dataset as ner_dataset
from bert_tf.tasks.ner import features as ner_features
from bert_tf.tasks.ner import objectives
from bert_tf.tasks.ner import predictions
from bert_tf.text import windows
from bert_tf.text.tokenization import FullTokenizer
from bert_tf.training import trainer as training

RUN_KIND = "run_ner.py"
PREDICTIONS = "test_predictions.txt"


@dataclasses.dataclass(frozen=True)
class NerOptions:
    """What sets the NER task apart.

    Attributes:
      label_scheme: the data files' tag scheme (`conll.SCHEMES`), or "auto" to
        detect it in each file; predictions are written in the test file's scheme.
      doc_stride: how many WordPieces apart the windows of a long sentence start;
        None: half a window.
      document_context: fill each window with the neighbouring sentences of the
        document (only the sentence's own words are labelled).
      use_crf: a linear-chain CRF on the token logits; None: the saved model's
        setting, else False.
      max_words_per_request: the most words one text sent to the exported model may
        hold.
      files: the splits themselves (`conll.from_sentences`, as the Python API gives
        them) instead of the files of `data_dir`.
    """

    label_scheme: str = "auto"
    doc_stride: int | None = None
    document_context: bool = False
    use_crf: bool | None = None
    max_words_per_request: int = serving.DEFAULT_MAX_WORDS_PER_REQUEST
    files: dict[str, conll.ConllFile] | None = None


@dataclasses.dataclass(frozen=True)
class NerInfo(TaskInfo):
    """What an NER output folder records: the labels (IOB2, in the order of the model's
    outputs), the training file's tag scheme and whether the model has a CRF."""

    RUN_KIND = RUN_KIND
    LEGACY_KEYS = ("task",)  # "task": "ner", which version 1 used to tell NER files.

    labels: tuple[str, ...]
    scheme: str
    use_crf: bool


class NerTask(Task):
    """Token classification of words into entity tags (`run_ner.py`)."""

    run_kind = RUN_KIND
    info_class = NerInfo
    initialize_missing = ("output_", "bert/pooler/", "crf/")
    example_name = "windows"
    primary_metric = "eval_f1"

    def __init__(self, task_options: NerOptions = NerOptions()):
        """Nothing is read until `prepare`."""
        self.task_options = task_options
        self.options: FineTuningOptions | None = None
        self.info: NerInfo | None = None
        #: The CoNLL files read and their windows, by split.
        self.files: dict[str, conll.ConllFile] = {}
        self.features: dict[str, ner_features.NerFeatures] = {}

    def validate(self, options: FineTuningOptions) -> None:
        """See base class: the one `doc_stride` rule (`text.windows`).

        Raises:
          InvalidArgumentError: naming `doc_stride` or `max_words_per_request`.
        """
        windows.resolve_doc_stride(self.task_options.doc_stride, options.max_seq_length)
        if self.task_options.max_words_per_request < 1:
            raise InvalidArgumentError("max_words_per_request",
                                       self.task_options.max_words_per_request,
                                       "must be at least 1.")

    def prepare(self, options: FineTuningOptions, tokenizer: FullTokenizer,
                saved: NerInfo | None) -> NerInfo:
        """See base class. Every file is read (and checked) before any is converted."""
        self.options = options
        wanted = [(TRAIN, options.do_train), (DEV, options.needs_dev_data),
                  (TEST, options.do_predict)]
        for split, needed in wanted:
            if needed:
                self.files[split] = self._read(split)
        self.info = self._info(saved)
        label_map = {label: index for index, label in enumerate(self.info.labels)}
        for split, conll_file in self.files.items():
            self.features[split] = self._convert(conll_file, tokenizer, label_map)
        return self.info

    def _info(self, saved: NerInfo | None) -> NerInfo:
        """The task to run: labels (IOB2, from the training file), the training file's
        tag scheme and whether the model has a CRF (`saved` itself when it is to be
        reused).

        Raises:
          UserInputError: if the output folder holds a model of other labels or head.
        """
        use_crf = self.task_options.use_crf
        train_file = self.files.get(TRAIN)
        if train_file is None:
            if saved is not None:
                if use_crf is not None and use_crf != saved.use_crf:
                    raise InvalidArgumentError(
                        "use_crf", use_crf, f"does not match the model in "
                        f"{self.options.output_dir}, trained with use_crf={saved.use_crf}; "
                        "leave it out to use the saved setting.")
                return saved
            # A model fine-tuned elsewhere: its labels are those of the training file.
            train_file = self._read(TRAIN)
        info = NerInfo(labels=tuple(conll.label_list(train_file.sentences)),
                       scheme=train_file.scheme, use_crf=bool(use_crf))
        if saved is not None and (saved.labels, saved.use_crf) != (info.labels,
                                                                   info.use_crf):
            raise UserInputError(
                f"The output folder {self.options.output_dir} holds a model trained with "
                f"labels {list(saved.labels)} and use_crf={saved.use_crf}, but this run "
                f"has {list(info.labels)} and use_crf={info.use_crf}; use a new output "
                "folder.")
        return info

    @property
    def reads_data_dir(self) -> bool:
        """See base class: unless the sentences are given in memory."""
        return self.task_options.files is None

    def _read(self, split: str) -> conll.ConllFile:
        """The CoNLL file of `split`: given, or read from `data_dir`."""
        if self.task_options.files is None:
            return conll.read_split(self.options.data_dir, split,
                                    self.task_options.label_scheme)
        if split not in self.task_options.files:
            raise UserInputError(f"No {split} sentences were given.")
        return self.task_options.files[split]

    def _convert(self, conll_file: conll.ConllFile, tokenizer: FullTokenizer,
                 label_map: dict[str, int]) -> ner_features.NerFeatures:
        features = ner_features.convert_documents(
            conll_file.documents, tokenizer, label_map, self.options.max_seq_length,
            self.task_options.doc_stride, self.task_options.document_context)
        windows_per_sentence = np.bincount(features.mapping.sentence_index,
                                           minlength=len(conll_file.sentences))
        logging.info("%s (%s): %d sentences, %d words, %d windows (%d sentences longer "
                     "than one window).", conll_file.path, conll_file.scheme,
                     len(conll_file.sentences), int(features.label_weights.sum()),
                     len(features.input_ids), int(np.sum(windows_per_sentence > 1)))
        return features

    @property
    def num_train_examples(self) -> int:
        """See base class: training windows."""
        return len(self.features[TRAIN].input_ids)

    def build_model(self, config: BertConfig) -> keras.Model:
        """See base class."""
        model_class = BertCrfTokenClassifier if self.info.use_crf else BertTokenClassifier
        return model_class(config, len(self.info.labels))

    def _crf(self, model: keras.Model):
        return model.crf if self.info.use_crf else None

    def loss_fn(self, model: keras.Model) -> Callable[[dict, dict], dict[str, tf.Tensor]]:
        """See base class: cross-entropy per word, or the CRF's likelihood."""
        return objectives.token_classification_loss_fn(self._crf(model))

    def dataset(self, split: str,
                input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
        """See base class."""
        options = self.options
        arrays = self.features[split].arrays()
        if split == TRAIN:
            batch_size = (input_context.get_per_replica_batch_size(options.train_batch_size)
                          if input_context else options.train_batch_size)
            return ner_dataset.ner_dataset(arrays, batch_size, is_training=True,
                                           seed=options.seed, input_context=input_context,
                                           trim_padding=options.trim_padding)
        batch_size = options.eval_batch_size if split == DEV else options.predict_batch_size
        return ner_dataset.ner_dataset(arrays, batch_size, is_training=False,
                                       trim_padding=options.trim_padding)

    def window_logits(self, model: keras.Model, strategy: tf.distribute.Strategy,
                      split: str) -> np.ndarray:
        """float32 [N, max_seq_length, num_labels], for every window of `split` in
        order."""
        length = self.options.max_seq_length
        batches = training.predict(strategy, model, self.dataset(split))
        padded = [np.pad(batch, ((0, 0), (0, length - batch.shape[1]), (0, 0)))
                  for batch in batches]
        return np.concatenate(padded)[:len(self.features[split].input_ids)]

    def tags(self, model: keras.Model, strategy: tf.distribute.Strategy,
             split: str) -> tuple[list[list[str]], float]:
        """The predicted IOB2 tags of every word of `split`, and the loss per word."""
        features = self.features[split]
        logits = self.window_logits(model, strategy, split)
        crf = self._crf(model)
        loss = objectives.evaluation_loss(logits, features.label_ids,
                                          features.label_weights, crf)
        return self.sentence_tags(objectives.decode(logits, features.label_weights, crf),
                                  split), loss

    def sentence_tags(self, window_labels: np.ndarray, split: str) -> list[list[str]]:
        """The IOB2 tags of every word of `split` from label ids [N, max_seq_length] of
        its windows (argmax or Viterbi)."""
        return predictions.sentence_tags(window_labels, self.features[split].mapping,
                                         self.files[split].sentences, self.info.labels)

    def score(self, tags: list[list[str]], split: str = DEV) -> dict[str, float]:
        """Entity precision, recall and F1 (overall and per type, as conlleval counts
        them in the file's scheme) and token accuracy of `tags` against `split`'s gold
        tags; logs conlleval's report."""
        conll_file = self.files[split]
        scores, report = predictions.entity_scores(
            conll_file, tags, predictions.file_scheme(conll_file, self.info.scheme))
        logging.info("Dev set %s:\n%s", conll_file.path, report)
        return scores

    def evaluate(self, model: keras.Model, strategy: tf.distribute.Strategy,
                 ) -> dict[str, float]:
        """See base class."""
        tags, loss = self.tags(model, strategy, DEV)
        return {"eval_loss": loss, "loss": loss, **self.score(tags)}

    def write_predictions(self, model: keras.Model,
                          strategy: tf.distribute.Strategy) -> str:
        """See base class: `test_predictions.txt`, as conlleval reads it."""
        tags, _ = self.tags(model, strategy, TEST)
        test_file = self.files[TEST]
        path = outputs.write_atomically(
            os.path.join(self.options.output_dir, PREDICTIONS),
            predictions.conll_lines(test_file, tags,
                                    predictions.file_scheme(test_file, self.info.scheme)))
        logging.info("Wrote predictions for %d sentences to %s", len(tags), path)
        return path

    def export(self, model: keras.Model, vocab_file: str) -> str:
        """See base class: a SavedModel that tags the words of raw text."""
        return serving.export_token_classifier(
            model, **self.options.export_arguments(vocab_file),
            label_list=list(self.info.labels), doc_stride=self.task_options.doc_stride,
            max_words_per_request=self.task_options.max_words_per_request)

    def hugging_face_labels(self) -> list[str] | None:
        """See base class: the IOB2 tags."""
        return list(self.info.labels)
