"""Sequence classification (and regression) as a `Task`: Google's `run_classifier.py`.

GLUE's tasks, Google's XNLI and the user's own `tsv`/`csv` files (see
`bert_tf.tasks.classification.data`) fine-tune a `BertClassifier` on the `[CLS]`
output; evaluation writes the task's GLUE metrics, prediction writes
`test_results.tsv` (class probabilities, or the score of a regression task, one line
per test example in file order), export a SavedModel taking raw text. A text longer
than one model input is read as the long-input strategy says
(`bert_tf.text.long_inputs`): its head (Google's truncation), its tail, both, or
windows whose logits are pooled, in training, evaluation, prediction and the export
alike.
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
from bert_tf.text import long_inputs
from bert_tf.text.long_inputs import LongInputStrategy
from bert_tf.text.tokenization import FullTokenizer
from bert_tf.training import trainer as training

RUN_KIND = "run_classifier.py"
ALL_WINDOWS, SAMPLE_WINDOW = "all", "sample"
TRAIN_WINDOWS = (ALL_WINDOWS, SAMPLE_WINDOW)


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
      long_input_strategy, head_tokens, doc_stride, window_pooling: what a text
        longer than `max_seq_length` keeps (`LongInputStrategy`'s name, head_tokens,
        doc_stride, pooling); None: what the model in the output folder was trained
        with, else head, 128, half a window, mean. The last three apply only to
        `head_tail` (head_tokens) and `windows` (the others).
      train_windows: `windows` training: every window of a text is a training
        example with the text's label ("all"), or one window per text, drawn anew
        each epoch ("sample").
      processor: the examples themselves (e.g. `in_memory.InMemoryProcessor`, as the
        Python API gives them) instead of the files `task_name` reads from
        `data_dir`; `task_name` then only picks the metrics.
    """

    task_name: str
    text_a_column: str | None = None
    text_b_column: str | None = None
    label_column: str | None = None
    class_weights: str | tuple[float, ...] | None = None
    long_input_strategy: str | None = None
    head_tokens: int | None = None
    doc_stride: int | None = None
    window_pooling: str | None = None
    train_windows: str = ALL_WINDOWS
    processor: classification_data.DataProcessor | None = None


@dataclasses.dataclass(frozen=True)
class ClassificationInfo(TaskInfo):
    """What a classifier's output folder records: the task, its labels in the order of
    the model's outputs (None for regression), and whether its inputs are pairs (the
    SavedModel then takes two texts), and how it reads long texts."""

    RUN_KIND = RUN_KIND

    task_name: str
    labels: tuple[str, ...] | None
    is_regression: bool
    pair: bool
    long_input_strategy: str = long_inputs.HEAD
    head_tokens: int = long_inputs.DEFAULT_HEAD_TOKENS
    doc_stride: int | None = None
    window_pooling: str = long_inputs.MEAN

    @property
    def long_inputs(self) -> LongInputStrategy:
        """The long-input strategy the model was trained with."""
        return LongInputStrategy(self.long_input_strategy, self.head_tokens,
                                 self.doc_stride, self.window_pooling)

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
        #: What this run reads of long texts (`prepare` resolves it).
        self.long_inputs = LongInputStrategy()

    @property
    def reads_data_dir(self) -> bool:
        """See base class: unless the examples are given in memory."""
        return self.task_options.processor is None

    def validate(self, options: FineTuningOptions) -> None:
        """See base class: the long-input options that were given are in range."""
        if self.task_options.train_windows not in TRAIN_WINDOWS:
            raise InvalidArgumentError("train_windows", self.task_options.train_windows,
                                       f"must be one of {', '.join(TRAIN_WINDOWS)}.")
        self._given_long_inputs(LongInputStrategy()).check(options.max_seq_length)

    def _given_long_inputs(self, base: LongInputStrategy) -> LongInputStrategy:
        """`base` with the long-input options that were given."""
        given = self.task_options
        return LongInputStrategy(
            name=base.name if given.long_input_strategy is None else given.long_input_strategy,
            head_tokens=base.head_tokens if given.head_tokens is None else given.head_tokens,
            doc_stride=base.doc_stride if given.doc_stride is None else given.doc_stride,
            pooling=base.pooling if given.window_pooling is None else given.window_pooling)

    def _resolve_long_inputs(self, saved: ClassificationInfo | None,
                             do_train: bool) -> LongInputStrategy:
        """The options given over the saved model's (a run without training), over
        the defaults; refuses options the strategy does not use.

        Raises:
          InvalidArgumentError: naming an option given for another strategy.
        """
        given = self.task_options
        base = saved.long_inputs if saved is not None and not do_train else LongInputStrategy()
        strategy = self._given_long_inputs(base)
        unused = [(name, value, needed) for name, value, needed in (
            ("head_tokens", given.head_tokens, long_inputs.HEAD_TAIL),
            ("doc_stride", given.doc_stride, long_inputs.WINDOWS),
            ("window_pooling", given.window_pooling, long_inputs.WINDOWS),
            ("train_windows", None if given.train_windows == ALL_WINDOWS or not do_train
             else given.train_windows, long_inputs.WINDOWS))
            if value is not None and strategy.name != needed]
        if unused:
            name, value, needed = unused[0]
            raise InvalidArgumentError(name, value, f"applies only to long_input_strategy="
                                       f"{needed}; this run uses {strategy.name}.")
        if saved is not None and not do_train and strategy != base:
            logging.warning("The model was trained with %s; this run reads long texts "
                            "with %s, as asked.", base.fields(), strategy.fields())
        return strategy

    def prepare(self, options: FineTuningOptions, tokenizer: FullTokenizer,
                saved: ClassificationInfo | None) -> ClassificationInfo:
        """See base class. Without `do_train`, the saved task is reused (a `tsv`/`csv`
        task's labels are then the saved ones)."""
        self.options = options
        name = self.task_options.task_name
        generic = name.lower() in classification_data.GENERIC_TASKS
        processor = self.task_options.processor or classification_data.get_processor(
            name, data_dir=options.data_dir, text_a_column=self.task_options.text_a_column,
            text_b_column=self.task_options.text_b_column,
            label_column=self.task_options.label_column,
            # Without training data, a user task's labels are the ones it was trained with.
            labels=saved.labels if generic and saved and not options.do_train else None)
        train_examples = (processor.get_train_examples(options.data_dir)
                          if options.do_train else None)
        self.long_inputs = self._resolve_long_inputs(saved, options.do_train)
        if self.long_inputs.uses_windows and self.task_options.train_windows == ALL_WINDOWS:
            self.example_name = "windows"
        if saved is not None and not options.do_train:
            info = saved
        else:
            labels = processor.get_labels()
            info = ClassificationInfo(
                task_name=name.lower(), labels=None if labels is None else tuple(labels),
                is_regression=processor.is_regression,
                pair=any(example.text_b is not None for example in train_examples or []),
                **self.long_inputs.fields())
            if saved is not None and saved.labels != info.labels:
                raise UserInputError(
                    f"The output folder {options.output_dir} holds a model trained with "
                    f"labels {_listed(saved.labels)}, but the data has "
                    f"{_listed(info.labels)}; use a new output folder.")
        self.info = info
        self.long_inputs.check(options.max_seq_length, info.pair)
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
        features, num_long = classification_data.convert_examples_to_features(
            examples, self.info.labels, max_seq_length, tokenizer,
            is_regression=self.info.is_regression, long_inputs=self.long_inputs)
        rows = len(features["label_ids"])
        if self.long_inputs.uses_windows:
            read = (f"which became {rows - len(examples) + num_long} windows "
                    f"({rows} inputs in all)")
        else:
            read = f"read by their {self.long_inputs.name}"
        logging.info("%s: %d examples, %d longer than one input of max_seq_length=%d, %s.",
                     split, len(examples), num_long, max_seq_length, read)
        self.features[split] = features

    @property
    def samples_windows(self) -> bool:
        """Whether training takes one window of each text per epoch."""
        return (self.long_inputs.uses_windows
                and self.task_options.train_windows == SAMPLE_WINDOW)

    @property
    def num_train_examples(self) -> int:
        """See base class: the texts, or with `windows` every window of them unless
        one is sampled per text."""
        train = self.features[TRAIN]
        return (len(long_inputs.first_rows(train["example_index"])) if self.samples_windows
                else len(train["label_ids"]))

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
                input_context=input_context, trim_padding=options.trim_padding,
                sample_windows=self.samples_windows)
        batch_size = options.eval_batch_size if split == DEV else options.predict_batch_size
        return classification_dataset.classification_dataset(
            self.features[split], batch_size, is_training=False,
            trim_padding=options.trim_padding)

    def input_logits(self, model: keras.Model, strategy: tf.distribute.Strategy,
                     split: str) -> np.ndarray:
        """`model`'s logits [inputs, num_labels] for every model input of `split` (a
        window each, with `windows`), in order."""
        batches = training.predict(strategy, model, self.dataset(split))
        return np.concatenate(batches)[:len(self.features[split]["label_ids"])]

    def pool(self, input_logits: np.ndarray, split: str,
             pooling: str | None = None) -> np.ndarray:
        """The logits [N, num_labels] of the N examples of `split` from those of their
        inputs, pooled by `pooling` (default: the run's)."""
        return long_inputs.pool_logits(input_logits, self.features[split]["example_index"],
                                       pooling or self.long_inputs.pooling)

    def logits(self, model: keras.Model, strategy: tf.distribute.Strategy,
               split: str) -> np.ndarray:
        """`model`'s logits [N, num_labels] for every example of `split`, in order (a
        long example's windows pooled)."""
        return self.pool(self.input_logits(model, strategy, split), split)

    def score(self, logits: np.ndarray, split: str = DEV) -> dict[str, float]:
        """`eval_loss`, `loss` and the GLUE metrics of `logits` [N, num_labels] against
        the labels of the N examples of `split` (logs the per-class report of a
        classification)."""
        features = self.features[split]
        labels = features["label_ids"][long_inputs.first_rows(features["example_index"])]
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
            pair=self.info.pair, long_inputs=self.long_inputs)

    def hugging_face_labels(self) -> list[str] | None:
        """See base class: the labels, none for a regression."""
        return None if self.info.is_regression else list(self.info.labels)


def _listed(labels: tuple[str, ...] | None) -> list[str] | None:
    return None if labels is None else list(labels)
