"""Extractive question answering on SQuAD-format JSON as a `Task` (`run_squad.py`).

As Google's `run_squad.py`: `train_file` trains a `BertSpanExtractor` on windows of
`[CLS] question [SEP] passage-part [SEP]` (`bert_tf.tasks.squad.features`);
`predict_file` is read without its answers for prediction, which writes
`predictions.json`, `nbest_predictions.json` and, for SQuAD 2.0, `null_odds.json`
(`bert_tf.tasks.squad.predictions`). This project adds `do_eval`, which scores the
predictions of `predict_file` against its answers as the official evaluation scripts
do (`bert_tf.tasks.squad.evaluation`), and the export of a SavedModel that answers
from raw question and passage text.

The number of training steps is Google's: `num_train_epochs` times the training
*questions* over the batch size, while the batches hold windows (a long passage gives
a question several), shuffled with the seed.
"""

import dataclasses
import hashlib
from typing import Callable

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf import serving
from bert_tf.configs import BertConfig
from bert_tf.errors import InvalidArgumentError, UserInputError
from bert_tf.modeling import BertSpanExtractor
from bert_tf.tasks.base import DEV, TRAIN, FineTuningOptions, Task, TaskInfo
from bert_tf.tasks.classification import dataset as array_datasets
from bert_tf.tasks.squad import evaluation, objectives, predictions
from bert_tf.tasks.squad import features as squad_features
from bert_tf.tasks.squad import squad_json
from bert_tf.text import packing
from bert_tf.text.tokenization import FullTokenizer
from bert_tf.training import trainer as training

RUN_KIND = "run_squad.py"
MODEL_INPUTS = ("input_ids", "input_mask", "segment_ids")
TRAINING_FEATURES = (*MODEL_INPUTS, "start_positions", "end_positions")


@dataclasses.dataclass(frozen=True)
class SquadOptions:
    """What sets question answering apart: the flags of Google's `run_squad.py` that
    only it has.

    Attributes:
      train_file: SQuAD JSON for training (`do_train`).
      predict_file: SQuAD JSON to predict (`do_predict`) and, with its answers, to
        score (`do_eval`, early stopping).
      doc_stride: how many WordPieces apart the windows of a long passage start.
      max_query_length: the most WordPieces of a question kept.
      n_best_size: the candidates kept per question (`nbest_predictions.json`).
      max_answer_length: the most WordPieces of an answer.
      verbose_logging: log why `get_final_text` falls back to the whole span.
      version_2_with_negative: SQuAD 2.0: questions may have no answer.
      null_score_diff_threshold: SQuAD 2.0: predict no answer when the null score
        beats the best answer's by more than this.
    """

    train_file: str | None = None
    predict_file: str | None = None
    doc_stride: int = 128
    max_query_length: int = 64
    n_best_size: int = 20
    max_answer_length: int = 30
    verbose_logging: bool = False
    version_2_with_negative: bool = False
    null_score_diff_threshold: float = 0.0


@dataclasses.dataclass(frozen=True)
class SquadInfo(TaskInfo):
    """What a question-answering output folder records: whether the model was
    trained for SQuAD 2.0 (unanswerable questions)."""

    RUN_KIND = RUN_KIND

    version_2_with_negative: bool


class SquadTask(Task):
    """Extractive question answering (Google's `run_squad.py`)."""

    run_kind = RUN_KIND
    info_class = SquadInfo
    initialize_missing = ("cls/squad/", "bert/pooler/")
    example_name = "questions"
    primary_metric = "f1"
    reads_data_dir = False

    def __init__(self, task_options: SquadOptions = SquadOptions()):
        """Nothing is read until `prepare`."""
        self.task_options = task_options
        self.options: FineTuningOptions | None = None
        self.info: SquadInfo | None = None
        self.tokenizer: FullTokenizer | None = None
        #: The files read and their windows: TRAIN (with targets) and DEV (the
        #: predict file, which prediction uses too).
        self.files: dict[str, squad_json.SquadFile] = {}
        self.features: dict[str, squad_features.SquadFeatures] = {}
        self._cached: tuple[str, predictions.SquadPredictions] | None = None

    def validate(self, options: FineTuningOptions) -> None:
        """See base class: Google's `validate_flags_or_throw`, and the ranges of the
        task's numbers.

        Raises:
          InvalidArgumentError: naming the argument.
        """
        task = self.task_options
        if options.do_train and not task.train_file:
            raise InvalidArgumentError("train_file", task.train_file,
                                       "is required with do_train.")
        for needed, name in ((options.do_predict, "do_predict"),
                             (options.needs_dev_data, "do_eval")):
            if needed and not task.predict_file:
                raise InvalidArgumentError("predict_file", task.predict_file,
                                           f"is required with {name}: the SQuAD JSON to "
                                           "predict (and, for do_eval, to score).")
        packing.check_query_length(options.max_seq_length, task.max_query_length)
        # A stride past a window's pieces is allowed: as Google's loop, windows then
        # advance by their length, without overlap.
        if task.doc_stride < 1:
            raise InvalidArgumentError("doc_stride", task.doc_stride, "must be at least 1.")
        for name in ("n_best_size", "max_answer_length"):
            if getattr(task, name) < 1:
                raise InvalidArgumentError(name, getattr(task, name), "must be at least 1.")

    def prepare(self, options: FineTuningOptions, tokenizer: FullTokenizer,
                saved: SquadInfo | None) -> SquadInfo:
        """See base class. Both files are read (and checked) before either is
        converted.

        Raises:
          UserInputError: naming the file, for bad JSON or a predict file without the
            answers `do_eval` needs.
        """
        self.options, self.tokenizer = options, tokenizer
        task = self.task_options
        if options.do_train:
            self.files[TRAIN] = squad_json.read_squad_file(
                task.train_file, is_training=True,
                version_2_with_negative=task.version_2_with_negative)
        if options.do_predict or options.needs_dev_data:
            self.files[DEV] = squad_json.read_squad_file(
                task.predict_file, is_training=False,
                version_2_with_negative=task.version_2_with_negative)
            if options.needs_dev_data and not self.files[DEV].has_answers:
                raise UserInputError(
                    f"{task.predict_file} holds questions without answers, so do_eval "
                    "(or early stopping) cannot score it; give a predict_file with "
                    "answers, or predict only.")
        for split, squad_file in self.files.items():
            self.features[split] = self._convert(squad_file, split == TRAIN)
        self.info = SquadInfo(version_2_with_negative=task.version_2_with_negative)
        if saved is not None and saved != self.info:
            logging.warning("The model in %s was trained with version_2_with_negative=%s; "
                            "this run uses %s.", options.output_dir,
                            saved.version_2_with_negative, task.version_2_with_negative)
        return saved if saved is not None and not options.do_train else self.info

    def _convert(self, squad_file: squad_json.SquadFile,
                 is_training: bool) -> squad_features.SquadFeatures:
        task = self.task_options
        converted = squad_features.convert_examples_to_features(
            squad_file, self.tokenizer, self.options.max_seq_length, task.doc_stride,
            task.max_query_length, is_training)
        skipped = (f", {squad_file.skipped} skipped (answer not found in the passage's "
                   "words)" if squad_file.skipped else "")
        logging.info("%s: %d questions%s, %d windows.", squad_file.path,
                     len(squad_file.examples), skipped, len(converted))
        return converted

    @property
    def num_train_examples(self) -> int:
        """See base class: training questions (Google's count for the steps)."""
        return len(self.files[TRAIN].examples)

    def build_model(self, config: BertConfig) -> keras.Model:
        """See base class."""
        return BertSpanExtractor(config)

    def loss_fn(self, model: keras.Model) -> Callable[[dict, dict], dict[str, tf.Tensor]]:
        """See base class: the mean of the start and end cross-entropies."""
        del model
        return objectives.span_loss_fn()

    def dataset(self, split: str,
                input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
        """See base class: TRAIN's windows with their targets; DEV and TEST both the
        windows of `predict_file`."""
        options = self.options
        if split == TRAIN:
            batch_size = (input_context.get_per_replica_batch_size(options.train_batch_size)
                          if input_context else options.train_batch_size)
            return array_datasets.array_dataset(
                self.features[TRAIN].arrays(), TRAINING_FEATURES, MODEL_INPUTS, batch_size,
                is_training=True, seed=options.seed, input_context=input_context,
                trim_padding=options.trim_padding)
        batch_size = options.eval_batch_size if split == DEV else options.predict_batch_size
        return array_datasets.array_dataset(
            self.features[DEV].arrays(), MODEL_INPUTS, MODEL_INPUTS, batch_size,
            is_training=False, trim_padding=options.trim_padding)

    def window_logits(self, model: keras.Model, strategy: tf.distribute.Strategy,
                      split: str = DEV) -> tuple[np.ndarray, np.ndarray]:
        """float32 start and end logits [N, max_seq_length] of every window of
        `predict_file`, in order, -inf at padding positions.

        Google's n-best ranks the padding positions of a window too: their logits
        mean nothing, but one may push a real position out of the top n_best_size.
        Here only real positions compete, whatever the batch's padding (with
        dynamically padded batches a padding position's logit would even depend on
        the other windows of its batch); the export does the same.
        """
        features = self.features[DEV]
        length = self.options.max_seq_length
        batches = training.predict(strategy, model, self.dataset(split),
                                   output=("start_logits", "end_logits"))
        count = len(features)
        logits = []
        for name in ("start_logits", "end_logits"):
            padded = np.concatenate([
                np.pad(batch[name], ((0, 0), (0, length - batch[name].shape[1])))
                for batch in batches])[:count]
            logits.append(np.where(features.input_mask[:count] > 0, padded, -np.inf)
                          .astype(np.float32))
        return logits[0], logits[1]

    def predict(self, model: keras.Model, strategy: tf.distribute.Strategy,
                split: str = DEV) -> predictions.SquadPredictions:
        """The answers to `predict_file`'s questions (and their n-best and null odds);
        computed once per state of the model's weights."""
        key = _weights_key(model)
        if self._cached is not None and self._cached[0] == key:
            return self._cached[1]
        result = self.answers(*self.window_logits(model, strategy, split))
        self._cached = (key, result)
        return result

    def answers(self, start_logits: np.ndarray,
                end_logits: np.ndarray) -> predictions.SquadPredictions:
        """The answers to `predict_file`'s questions from the start and end logits
        [N, L] of its windows (as `window_logits` gives them), by the task's n-best
        settings."""
        task = self.task_options
        return predictions.compute_predictions(
            self.files[DEV], self.features[DEV], start_logits, end_logits,
            id_to_token=[self.tokenizer.inv_vocab[index]
                         for index in range(len(self.tokenizer.inv_vocab))],
            n_best_size=task.n_best_size, max_answer_length=task.max_answer_length,
            do_lower_case=self.options.do_lower_case,
            version_2_with_negative=task.version_2_with_negative,
            null_score_diff_threshold=task.null_score_diff_threshold,
            verbose_logging=task.verbose_logging)

    def evaluate(self, model: keras.Model, strategy: tf.distribute.Strategy,
                 ) -> dict[str, float]:
        """See base class: exact match and F1 (percent) of the predictions on
        `predict_file`, and for SQuAD 2.0 the official script's HasAns/NoAns split and
        best thresholds. There is no loss: the predict file is read as Google reads
        it, without training targets."""
        result = self.predict(model, strategy, DEV)
        return evaluation.evaluate(
            self.files[DEV], result.predictions, result.null_odds,
            version_2_with_negative=self.task_options.version_2_with_negative)

    def write_predictions(self, model: keras.Model,
                          strategy: tf.distribute.Strategy) -> str:
        """See base class: `predictions.json`, `nbest_predictions.json` and (SQuAD 2.0)
        `null_odds.json`, as Google's script writes them."""
        result = self.predict(model, strategy, DEV)
        paths = predictions.write_prediction_files(self.options.output_dir, result)
        logging.info("Wrote predictions for %d questions to %s", len(result.predictions),
                     ", ".join(paths.values()))
        return paths[predictions.PREDICTIONS_FILE]

    def export(self, model: keras.Model, vocab_file: str) -> str:
        """See base class: a SavedModel that answers raw questions about raw
        passages."""
        task = self.task_options
        return serving.export_question_answerer(
            model, **self.options.export_arguments(vocab_file),
            doc_stride=task.doc_stride, max_query_length=task.max_query_length,
            n_best_size=task.n_best_size, max_answer_length=task.max_answer_length,
            version_2_with_negative=task.version_2_with_negative,
            null_score_diff_threshold=task.null_score_diff_threshold)


def _weights_key(model: keras.Model) -> str:
    """A digest of the span head's weights, which every training step changes: tells
    whether predictions computed earlier are still the model's."""
    digest = hashlib.sha256()
    for variable in (model.span.output_weights, model.span.output_bias):
        digest.update(np.asarray(variable.numpy()).tobytes())
    return digest.hexdigest()
