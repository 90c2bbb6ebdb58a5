"""What every fine-tuning task is: the options all tasks share, the task's metadata kept
in its output folder, and the `Task` interface that the scripts, the benchmarks and
the Python API drive through `bert_tf.tasks.runner`.

A task (classification, NER, question answering, ...) knows its data, its model head,
its loss, its metrics, its prediction files and its SavedModel; the runner knows only
the verbs below, the order in which Google's scripts use them (train, then evaluate,
predict, export) and the shared machinery (strategy, checkpoints, early stopping). A
new task is a new folder under `bert_tf/tasks/` with a `Task` subclass, not an edit
across the tree. As tf-models' `official/nlp/tasks`, without its config framework:
options are plain frozen dataclasses.
"""

import abc
import dataclasses
import os
import types
import typing
from typing import Callable, ClassVar

import keras
import tensorflow as tf

from bert_tf.configs import BertConfig
from bert_tf.errors import InvalidArgumentError, UserInputError
from bert_tf.text.tokenization import FullTokenizer
from bert_tf.training import distribution, fine_tuning
from bert_tf.training.lora import LoraOptions

TRAIN, DEV, TEST = "train", "dev", "test"


@dataclasses.dataclass(frozen=True)
class DeviceOptions:
    """Where and how training runs (Google's TPU flags and this project's additions).

    Attributes:
      distribution_strategy: "default" (one device), "mirrored" (local GPUs),
        "multi_worker_mirrored" (machines in TF_CONFIG) or "tpu".
      tpu: the TPU's name or grpc:// address ("local" on a Colab TPU VM).
      tpu_zone, gcp_project: where the Cloud TPU is.
      mixed_precision: "none", "bf16" or "fp16" (dynamic loss scaling).
      jit_compile: compile the training step with XLA.
      gradient_accumulation_steps: micro-batches per optimizer step.
    """

    distribution_strategy: str = "default"
    tpu: str | None = None
    tpu_zone: str | None = None
    gcp_project: str | None = None
    mixed_precision: str = "none"
    jit_compile: bool = False
    gradient_accumulation_steps: int = 1

    @property
    def uses_tpu(self) -> bool:
        """Whether the run is on a TPU (static shapes needed)."""
        return self.distribution_strategy == "tpu"

    def make_strategy(self, tpu_paths: dict[str, list[str | None]]) -> tf.distribute.Strategy:
        """Sets the precision policy and returns the `tf.distribute` strategy these
        options ask for; on a TPU, first refuses local paths among `tpu_paths` (argument
        name -> paths), since TPU workers read only Cloud Storage."""
        if self.uses_tpu:
            distribution.check_tpu_paths(tpu_paths)
        distribution.set_precision(self.mixed_precision)
        return distribution.make_strategy(self.distribution_strategy, tpu=self.tpu,
                                          tpu_zone=self.tpu_zone,
                                          gcp_project=self.gcp_project)


@dataclasses.dataclass(frozen=True)
class FineTuningOptions:
    """How one fine-tuning run goes, whatever the task; the defaults are those of
    Google's `run_classifier.py` flags of the same names.

    Attributes:
      output_dir: where checkpoints, results, predictions and the task file go.
      data_dir: the folder of the task's train/dev/test files.
      init_checkpoint: initial weights (a Google checkpoint prefix, a Hugging Face
        folder or .safetensors file, or a checkpoint of this project); None starts
        from random weights.
      bert_config_file, vocab_file: default: the files beside `init_checkpoint`.
      do_lower_case: lower-case the input (uncased models).
      max_seq_length: the longest WordPiece input, special tokens included.
      do_train, do_eval, do_predict: what to do (at least one).
      train_batch_size, eval_batch_size, predict_batch_size: global batch sizes.
      learning_rate, num_train_epochs, warmup_proportion: Google's optimizer schedule.
      save_checkpoints_steps: steps between checkpoints (and early-stopping checks).
      iterations_per_loop: steps per call into the compiled training loop.
      keep_checkpoints: how many checkpoints to keep.
      log_steps: steps between progress lines.
      seed: initialization, dropout and data order; the same seed repeats a run.
      early_stopping_patience: if > 0, evaluate at every checkpoint, keep the best
        weights in `output_dir/best` and stop after this many evaluations without
        improvement.
      freeze_embeddings: do not train the embedding layer.
      trainable_top_layers: train only this many top encoder layers (and the head).
      dynamic_padding: pad each batch only to its longest sequence (not on a TPU nor
        with XLA, which need static shapes).
      export_dir: if set, export a SavedModel version there after training.
      export_hf_dir: if set, write the model there as a Hugging Face model folder
        after training (`bert_tf.checkpoints.save_hugging_face`); a new or empty
        folder.
      export_lora_only: with LoRA, write only the adapters (and head) to
        `export_hf_dir`, in peft's layout (`bert_tf.checkpoints.save_lora_adapter`).
      device: where and how training runs.
      lora: LoRA adapters to train instead of the whole encoder (off by default); a
        run without it on an output folder trained with it uses the saved adapters.
    """

    output_dir: str
    data_dir: str | None = None
    init_checkpoint: str | None = None
    bert_config_file: str | None = None
    vocab_file: str | None = None
    do_lower_case: bool = True
    max_seq_length: int = 128
    do_train: bool = False
    do_eval: bool = False
    do_predict: bool = False
    train_batch_size: int = 32
    eval_batch_size: int = 8
    predict_batch_size: int = 8
    learning_rate: float = 5e-5
    num_train_epochs: float = 3.0
    warmup_proportion: float = 0.1
    save_checkpoints_steps: int = 1000
    iterations_per_loop: int = 1000
    keep_checkpoints: int = 3
    log_steps: int = 100
    seed: int = 12345
    early_stopping_patience: int = 0
    freeze_embeddings: bool = False
    trainable_top_layers: int | None = None
    dynamic_padding: bool = True
    export_dir: str | None = None
    export_hf_dir: str | None = None
    export_lora_only: bool = False
    device: DeviceOptions = DeviceOptions()
    lora: LoraOptions = LoraOptions()

    @property
    def trim_padding(self) -> bool:
        """Whether batches are cut to their longest sequence: asked for, and neither a
        TPU nor XLA needs static shapes."""
        return (self.dynamic_padding and not self.device.uses_tpu
                and not self.device.jit_compile)

    @property
    def needs_dev_data(self) -> bool:
        """Whether the run scores the dev set: to report it, or for early stopping."""
        return self.do_eval or self.early_stopping_patience > 0

    def validate(self, needs_data_dir: bool = True) -> None:
        """Checks what needs neither data nor model; `data_dir` is required when the
        task reads its files from one (`Task.reads_data_dir`).

        Raises:
          InvalidArgumentError: naming the first argument out of its range.
          UserInputError: if there is nothing to do.
        """
        if not (self.do_train or self.do_eval or self.do_predict):
            raise UserInputError("At least one of do_train, do_eval or do_predict must be "
                                 "True.")
        if needs_data_dir and not self.data_dir:
            raise InvalidArgumentError("data_dir", self.data_dir, "is required: the folder "
                                       "holding the task's train/dev/test files.")
        for name in ("train_batch_size", "eval_batch_size", "predict_batch_size",
                     "save_checkpoints_steps", "iterations_per_loop", "keep_checkpoints",
                     "log_steps"):
            if getattr(self, name) < 1:
                raise InvalidArgumentError(name, getattr(self, name), "must be at least 1.")
        if self.device.gradient_accumulation_steps < 1:
            raise InvalidArgumentError("gradient_accumulation_steps",
                                       self.device.gradient_accumulation_steps,
                                       "must be at least 1.")
        if self.num_train_epochs <= 0:
            raise InvalidArgumentError("num_train_epochs", self.num_train_epochs,
                                       "must be positive.")
        if not 0 <= self.warmup_proportion < 1:
            raise InvalidArgumentError("warmup_proportion", self.warmup_proportion,
                                       "must be in [0, 1).")
        self.lora.validate()
        if self.lora.enabled and self.trainable_top_layers is not None:
            raise InvalidArgumentError("trainable_top_layers", self.trainable_top_layers,
                                       "cannot be combined with lora_rank: LoRA trains "
                                       "only the adapters and the task head.")
        # Whether there are adapters is checked once the output folder's are read.
        if self.export_lora_only and not self.export_hf_dir:
            raise InvalidArgumentError("export_lora_only", True, "needs export_hf_dir (the "
                                       "folder of the adapter).")
        if self.early_stopping_patience and not self.do_train:
            raise InvalidArgumentError("early_stopping_patience",
                                       self.early_stopping_patience, "needs do_train.")

    def export_arguments(self, vocab_file: str) -> dict:
        """The arguments of a `bert_tf.serving` export that come from the run, the same
        for every task: the export folder and how raw text becomes the model's input."""
        return dict(export_dir=self.export_dir, vocab_file=vocab_file,
                    do_lower_case=self.do_lower_case, max_seq_length=self.max_seq_length)


@dataclasses.dataclass(frozen=True)
class TaskInfo:
    """What a task saves in its output folder (`task_info.json`) so that later runs
    without training data (evaluation, prediction, export) rebuild the same model: a
    subclass per task declares its fields as dataclass fields (str, int, bool, tuples
    of str, or None where the annotation allows it).

    The file also holds `version` and `run_kind` (see
    `bert_tf.training.fine_tuning.read_task_info`); files of version 1 may hold the
    subclass's `LEGACY_KEYS` too, which are ignored. A field added later has a default,
    which files written before it existed take.
    """

    #: The script whose runs write this task's files, e.g. "run_ner.py".
    RUN_KIND: ClassVar[str] = ""
    #: Keys that files of version 1 hold and this version no longer writes.
    LEGACY_KEYS: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def read(cls, output_dir: str) -> "TaskInfo | None":
        """The task saved in `output_dir`, if any.

        Raises:
          UserInputError: naming the file, if it belongs to another kind of run, lacks
            a field, holds an unknown one or a value of the wrong type.
        """
        fields = fine_tuning.read_task_info(output_dir, cls.RUN_KIND)
        if fields is None:
            return None
        return cls.from_fields(fields, os.path.join(output_dir, fine_tuning.TASK_INFO))

    @classmethod
    def from_fields(cls, fields: dict, path: str) -> "TaskInfo":
        """Checks and converts the fields read from `path` (JSON lists become tuples).

        Raises:
          UserInputError: naming `path` and the field, if one without a default is
            missing, or one is unknown or of the wrong type.
        """
        names = [field.name for field in dataclasses.fields(cls)]
        allowed = {*names, "version", "run_kind",
                   *(cls.LEGACY_KEYS if fields.get("version", 1) == 1 else ())}
        unknown = sorted(set(fields) - allowed)
        if unknown:
            raise UserInputError(f"{path} holds the field {unknown[0]!r}, which a "
                                 f"{cls.RUN_KIND} task file does not have; choose a new "
                                 "output folder.")
        hints = typing.get_type_hints(cls)
        values = {}
        defaults = {field.name: field.default for field in dataclasses.fields(cls)
                    if field.default is not dataclasses.MISSING}
        for name in names:
            if name not in fields and name in defaults:
                values[name] = defaults[name]
                continue
            if name not in fields:
                raise UserInputError(f"{path} lacks the field {name!r} of a {cls.RUN_KIND} "
                                     "task; the file is damaged or not this project's: "
                                     "choose a new output folder.")
            values[name] = _checked(fields[name], hints[name], path, name)
        return cls(**values)

    def to_fields(self) -> dict:
        """The fields as JSON values, in declaration order."""
        return {field.name: (list(value) if isinstance(value, tuple) else value)
                for field in dataclasses.fields(self)
                for value in [getattr(self, field.name)]}

    def write(self, output_dir: str) -> str:
        """Saves the task in `output_dir/task_info.json` (atomically); returns the path."""
        return fine_tuning.write_task_info(output_dir, self.to_fields(), self.RUN_KIND)


def _checked(value: object, annotation: object, path: str, name: str) -> object:
    """`value` if it is of type `annotation` (tuples read from JSON lists), else a
    UserInputError naming the file and field."""
    allowed = (typing.get_args(annotation)
               if typing.get_origin(annotation) in (types.UnionType, typing.Union)
               else (annotation,))
    for kind in allowed:
        if kind is type(None) and value is None:
            return None
        if typing.get_origin(kind) is tuple and isinstance(value, list):
            item = typing.get_args(kind)[0]
            if all(isinstance(element, item) for element in value):
                return tuple(value)
        elif kind in (str, int, bool) and type(value) is kind:
            return value
    raise UserInputError(f"{path}: the field {name!r} is {value!r}, not of type "
                         f"{annotation}; the file is damaged or not this project's: choose "
                         "a new output folder.")


class Task(abc.ABC):
    """One fine-tuning task. `bert_tf.tasks.runner.run` calls, in order: `validate`,
    `prepare` (every input read and checked), `build_model` and `loss_fn` (the trainer),
    `dataset(TRAIN, ...)` (training), `evaluate` (at checkpoints with early stopping,
    and for `do_eval`), `write_predictions` (`do_predict`), `export` (`export_dir`) and
    `hugging_face_labels` (`export_hf_dir`).

    A task object serves one run: `prepare` binds it to the run's options and data.
    """

    #: The script name recorded with checkpoints and task files (e.g. "run_ner.py").
    run_kind: ClassVar[str]
    #: The `TaskInfo` subclass of this task's `task_info.json`.
    info_class: ClassVar[type[TaskInfo]]
    #: Checkpoint name prefixes that may start fresh when loading `init_checkpoint`
    #: (the task's head).
    initialize_missing: ClassVar[tuple[str, ...]]
    #: What the training data is counted in, for the log ("examples", "windows").
    example_name: ClassVar[str] = "examples"
    #: Whether the task reads its train/dev/test files from `data_dir` (question
    #: answering names its files instead, as Google's `run_squad.py`).
    reads_data_dir: ClassVar[bool] = True

    def validate(self, options: FineTuningOptions) -> None:
        """Checks the task's own options that need neither data nor model.

        Raises:
          UserInputError (InvalidArgumentError): naming the argument.
        """
        del options

    @abc.abstractmethod
    def prepare(self, options: FineTuningOptions, tokenizer: FullTokenizer,
                saved: TaskInfo | None) -> TaskInfo:
        """Reads and checks every file the run needs (the train split with `do_train`,
        the dev split with `do_eval` or early stopping, the test split with
        `do_predict`) and converts them to features, before anything is written.

        Args:
          options: the run's options, kept for the other verbs.
          tokenizer: the model's WordPiece tokenizer.
          saved: the task saved in the output folder by an earlier run, if any.

        Returns:
          the task's metadata: `saved` itself when the run reuses it, else a new one,
          which the runner writes once the model is built.

        Raises:
          UserInputError: naming the file or argument, for bad data or data that does
            not fit the saved task.
        """

    @property
    @abc.abstractmethod
    def num_train_examples(self) -> int:
        """How many training examples (`example_name`) one epoch holds."""

    @property
    @abc.abstractmethod
    def primary_metric(self) -> str:
        """The key of `evaluate`'s results that early stopping follows (higher is
        better)."""

    @abc.abstractmethod
    def build_model(self, config: BertConfig) -> keras.Model:
        """A fresh model of the task (under the strategy's scope)."""

    @abc.abstractmethod
    def loss_fn(self, model: keras.Model) -> Callable[[dict, dict], dict[str, tf.Tensor]]:
        """The `Trainer`'s loss function for `model`."""

    @abc.abstractmethod
    def dataset(self, split: str,
                input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
        """The batches of `split`: TRAIN shuffled and repeated, batched per input
        pipeline of `input_context`; DEV and TEST every example once, in order, in
        batches of the eval and predict batch size."""

    @abc.abstractmethod
    def evaluate(self, model: keras.Model, strategy: tf.distribute.Strategy,
                 ) -> dict[str, float]:
        """Scores `model` on the dev split: `eval_loss`, `loss` and the task's metrics,
        keyed as in Google's `eval_results.txt`."""

    @abc.abstractmethod
    def write_predictions(self, model: keras.Model,
                          strategy: tf.distribute.Strategy) -> str:
        """Writes `model`'s predictions on the test split in the output folder (as
        Google's script does); returns the file's path."""

    @abc.abstractmethod
    def export(self, model: keras.Model, vocab_file: str) -> str:
        """Writes a SavedModel version of `model` in the export folder; returns it."""

    def hugging_face_labels(self) -> list[str] | None:
        """The names of the model's outputs, in order, for the `id2label` of its
        Hugging Face export; None for a model without labels (the default)."""
        return None
