"""Sequence classification (and regression) as a `Task`: Google's `run_classifier.py`.

GLUE's tasks, Google's XNLI and the user's own `tsv`/`csv` files (see
`bert_tf.tasks.classification.data`) fine-tune a `BertClassifier` on the `[CLS]`
output; evaluation writes the task's GLUE metrics, prediction writes
`test_results.tsv` (class probabilities, or the score of a regression task, one line
per test example in file order), export a SavedModel taking raw text.
"""

import dataclasses
from typing import Callable

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf import io as outputs
from bert_tf import serving
from bert_tf.configs import BertConfig
from bert_tf.errors import InvalidArgumentError, UserInputError
from bert_tf.modeling import BertClassifier
from bert_tf.tasks.base import DEV, TEST, TRAIN, FineTuningOptions, Task, TaskInfo
from bert_tf.tasks.classification import data as classification_data
from bert_tf.tasks.classification import dataset as classification_dataset
from bert_tf.tasks.classification import metrics
from bert_tf.tasks.classification import objectives
from bert_tf.text.tokenization import FullTokenizer
from bert_tf.training import trainer as training

RUN_KIND = "run_classifier.py"


@dataclasses.dataclass(frozen=True)
class ClassificationOptions:
    """What sets a classification task apart (the flags of Google's script that only it
    has, and this project's).

    Attributes:
      task_name: a task of `classification_data.PROCESSORS` (any case).
      text_a_column, text_b_column, label_column: `tsv`/`csv` tasks: the columns
        (header name or 0-based index) of the text, of the second text of a pair
        (None for single texts) and of the label.
      class_weights: a loss weight per label in the label list's order ("w0,w1,..."
        or a tuple), or "balanced" (inversely proportional to the training label
        frequencies); None weighs every example alike.
    """

    task_name: str
    text_a_column: str | None = None
    text_b_column: str | None = None
    label_column: str | None = None
    class_weights: str | tuple[float, ...] | None = None


@dataclasses.dataclass(frozen=True)
class ClassificationInfo(TaskInfo):
    """What a classifier's output folder records: the task, its labels in the order of
    the model's outputs (None for regression), and whether its inputs are pairs (the
    SavedModel then takes two texts)."""

    RUN_KIND = RUN_KIND

    task_name: str
    labels: tuple[str, ...] | None
    is_regression: bool
    pair: bool

    @property
    def num_labels(self) -> int:
        """The model's outputs: 1 for regression, else one per label."""
        return 1 if self.is_regression else len(self.labels)


def class_weights(weights: str | tuple[float, ...] | None, label_ids: np.ndarray,
                  num_labels: int) -> list[float] | None:
    """The loss weight of each label.

    Args:
      weights: as `ClassificationOptions.class_weights`.
      label_ids: the training examples' label ids (for "balanced").
      num_labels: the number of labels.

    Raises:
      InvalidArgumentError: naming `class_weights`, if it is neither numbers nor
        "balanced", or not one non-negative weight per label.
    """
    if not weights:
        return None
    if weights == "balanced":
        counts = np.bincount(label_ids.astype(np.int64), minlength=num_labels).astype(float)
        return [len(label_ids) / (num_labels * max(count, 1.0)) for count in counts]
    try:
        values = ([float(part) for part in weights.split(",")] if isinstance(weights, str)
                  else [float(weight) for weight in weights])
    except ValueError as error:
        raise InvalidArgumentError("class_weights", weights, "must be numbers separated by "
                                   "commas, or 'balanced'.") from error
    if len(values) != num_labels or min(values) < 0:
        raise InvalidArgumentError("class_weights", weights, f"must be {num_labels} "
                                   "non-negative weights, one per label in the label "
                                   "list's order.")
    return values


class ClassificationTask(Task):
    """Sequence classification or regression (Google's `run_classifier.py`)."""

    run_kind = RUN_KIND
    info_class = ClassificationInfo
    initialize_missing = ("output_", "bert/pooler/")

    def __init__(self, task_options: ClassificationOptions):
        """Nothing is read until `prepare`."""
        self.task_options = task_options
        self.options: FineTuningOptions | None = None
        self.info: ClassificationInfo | None = None
        #: Feature arrays of each split read (`classification_data`'s), by split.
        self.features: dict[str, dict[str, np.ndarray]] = {}
        self.weights: list[float] | None = None

    def prepare(self, options: FineTuningOptions, tokenizer: FullTokenizer,
                saved: ClassificationInfo | None) -> ClassificationInfo:
        """See base class. Without `do_train`, the saved task is reused (a `tsv`/`csv`
        task's labels are then the saved ones)."""
        self.options = options
        name = self.task_options.task_name
        generic = name.lower() in classification_data.GENERIC_TASKS
        processor = classification_data.get_processor(
            name, data_dir=options.data_dir, text_a_column=self.task_options.text_a_column,
            text_b_column=self.task_options.text_b_column,
            label_column=self.task_options.label_column,
            # Without training data, a user task's labels are the ones it was trained with.
            labels=saved.labels if generic and saved and not options.do_train else None)
        train_examples = (processor.get_train_examples(options.data_dir)
                          if options.do_train else None)
        if saved is not None and not options.do_train:
            info = saved
        else:
            labels = processor.get_labels()
            info = ClassificationInfo(
                task_name=name.lower(), labels=None if labels is None else tuple(labels),
                is_regression=processor.is_regression,
                pair=any(example.text_b is not None for example in train_examples or []))
            if saved is not None and saved.labels != info.labels:
                raise UserInputError(
                    f"The output folder {options.output_dir} holds a model trained with "
                    f"labels {_listed(saved.labels)}, but the data has "
                    f"{_listed(info.labels)}; use a new output folder.")
        self.info = info
        if options.needs_dev_data:
            self._convert(DEV, processor.get_dev_examples(options.data_dir), tokenizer)
        if train_examples is not None:
            self._convert(TRAIN, train_examples, tokenizer)
        if options.do_predict:
            self._convert(TEST, processor.get_test_examples(options.data_dir), tokenizer)
        if TRAIN in self.features and not info.is_regression:
            self.weights = class_weights(self.task_options.class_weights,
                                         self.features[TRAIN]["label_ids"], info.num_labels)
        return info

    def _convert(self, split: str, examples: list, tokenizer: FullTokenizer) -> None:
        max_seq_length = self.options.max_seq_length
        features, truncated = classification_data.convert_examples_to_features(
            examples, self.info.labels, max_seq_length, tokenizer,
            is_regression=self.info.is_regression)
        logging.info("%s: %d examples, %d truncated to max_seq_length=%d.", split,
                     len(examples), truncated, max_seq_length)
        self.features[split] = features

    @property
    def num_train_examples(self) -> int:
        """See base class."""
        return len(self.features[TRAIN]["label_ids"])

    @property
    def primary_metric(self) -> str:
        """See base class: GLUE's headline metric of the task."""
        return metrics.primary_metric(self.info.task_name)

    def build_model(self, config: BertConfig) -> keras.Model:
        """See base class."""
        return BertClassifier(config, self.info.num_labels)

    def loss_fn(self, model: keras.Model) -> Callable[[dict, dict], dict[str, tf.Tensor]]:
        """See base class: cross-entropy (class-weighted if asked), or squared error."""
        return objectives.classification_loss_fn(self.info.num_labels, self.weights)

    def dataset(self, split: str,
                input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
        """See base class."""
        options = self.options
        if split == TRAIN:
            batch_size = (input_context.get_per_replica_batch_size(options.train_batch_size)
                          if input_context else options.train_batch_size)
            return classification_dataset.classification_dataset(
                self.features[TRAIN], batch_size, is_training=True, seed=options.seed,
                input_context=input_context, trim_padding=options.trim_padding)
        batch_size = options.eval_batch_size if split == DEV else options.predict_batch_size
        return classification_dataset.classification_dataset(
            self.features[split], batch_size, is_training=False,
            trim_padding=options.trim_padding)

    def logits(self, model: keras.Model, strategy: tf.distribute.Strategy,
               split: str) -> np.ndarray:
        """`model`'s logits [N, num_labels] for every example of `split`, in order."""
        batches = training.predict(strategy, model, self.dataset(split))
        return np.concatenate(batches)[:len(self.features[split]["label_ids"])]

    def score(self, logits: np.ndarray, split: str = DEV) -> dict[str, float]:
        """`eval_loss`, `loss` and the GLUE metrics of `logits` [N, num_labels] against
        the labels of `split` (logs the per-class report of a classification)."""
        labels = self.features[split]["label_ids"]
        loss = objectives.evaluation_loss(logits, labels)
        predictions = logits[:, 0] if self.info.is_regression else logits.argmax(-1)
        results = {"eval_loss": loss, "loss": loss,
                   **metrics.task_metrics(self.info.task_name, predictions, labels)}
        if not self.info.is_regression:
            logging.info("Dev set:\n%s", metrics.classification_report(
                predictions, labels, self.info.labels))
        return results

    def evaluate(self, model: keras.Model, strategy: tf.distribute.Strategy,
                 ) -> dict[str, float]:
        """See base class."""
        return self.score(self.logits(model, strategy, DEV))

    def write_predictions(self, model: keras.Model,
                          strategy: tf.distribute.Strategy) -> str:
        """See base class: `test_results.tsv`, class probabilities (or the score)."""
        logits = self.logits(model, strategy, TEST)
        rows = logits if self.info.is_regression else objectives.softmax(logits)
        path = outputs.write_test_results(self.options.output_dir, rows)
        logging.info("Wrote %d predictions to %s", len(rows), path)
        return path

    def export(self, model: keras.Model, vocab_file: str) -> str:
        """See base class: a SavedModel that takes raw text (two texts for a pair)."""
        return serving.export_classifier(
            model, **self.options.export_arguments(vocab_file),
            label_list=None if self.info.is_regression else list(self.info.labels),
            pair=self.info.pair)

    def hugging_face_labels(self) -> list[str] | None:
        """See base class: the labels, none for a regression."""
        return None if self.info.is_regression else list(self.info.labels)


def _listed(labels: tuple[str, ...] | None) -> list[str] | None:
    return None if labels is None else list(labels)
