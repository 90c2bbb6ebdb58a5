"""One fine-tuning run of any `Task`, as Google's `run_classifier.py` orders it: check
the options and folders, read every input, build the model (initial checkpoint,
freezing), train or restore (with early stopping), then evaluate, predict and export.

The scripts (`bert_tf.cli.run_classifier`, `bert_tf.cli.run_ner`), the benchmarks and
Python callers all run tasks through `run`. It lives among the tasks, not in
`bert_tf.training`, because it drives the `Task` interface: training knows no task.
"""

import dataclasses
import os
import time
from typing import Callable

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf import checkpoints, file_checks
from bert_tf import io as outputs
from bert_tf.configs import BertConfig
from bert_tf.errors import InvalidArgumentError, UserInputError
from bert_tf.tasks.base import TRAIN, FineTuningOptions, Task, TaskInfo
from bert_tf.text import packing, tokenization
from bert_tf.training import checkpoints as training_checkpoints
from bert_tf.training import curves, lora
from bert_tf.training import fine_tuning, optimization
from bert_tf.training import trainer as training

#: Where a LoRA training run records its adapters' shape (rank, alpha, targets).
LORA_FILE = "lora_config.json"


@dataclasses.dataclass(frozen=True)
class RunResult:
    """What a run did.

    Attributes:
      global_step: the optimizer step of the last checkpoint (the model used at the
        end is this one's, or the best one's with early stopping).
      training_seconds: wall time of `do_train`'s training, start-up (tracing) and
        evaluations for early stopping included; 0 without training.
      eval_results: `do_eval`'s scores (also in `eval_results.txt`), else None.
      predictions_file: `do_predict`'s file, else None.
      export_version: the SavedModel version folder written, else None.
      hugging_face_dir: the Hugging Face model folder written, else None.
      model: the model as the run left it (the best weights with early stopping).
    """

    global_step: int
    training_seconds: float = 0.0
    eval_results: dict[str, float] | None = None
    predictions_file: str | None = None
    export_version: str | None = None
    hugging_face_dir: str | None = None
    model: keras.Model | None = None


def check_output_folders(task: Task, options: FineTuningOptions,
                         argument_prefix: str = "") -> TaskInfo | None:
    """Checks the output folder (and export folders) before anything is read or
    written: refuses a folder holding checkpoints this project did not write, or the
    checkpoints or task of another kind of run, or one that cannot be written (a folder
    this check creates is removed again), and a Hugging Face export folder that holds
    files or is one of the other folders; returns the task saved there, if any.

    Args:
      task: the task about to run.
      options: its options.
      argument_prefix: prefix of the folder arguments' names in messages ("--" words
        them as the command-line flags).

    Raises:
      UserInputError: one sentence naming the folder and what it holds.
    """
    training_checkpoints.check_output_dir(options.output_dir, task.run_kind)
    file_checks.check_writable_directory(options.output_dir, f"{argument_prefix}output_dir",
                                         keep_created=False)
    if options.export_dir:
        file_checks.check_writable_directory(options.export_dir,
                                             f"{argument_prefix}export_dir",
                                             keep_created=False)
    if options.export_hf_dir:
        check_hugging_face_folder(options)
        file_checks.check_writable_directory(options.export_hf_dir,
                                             f"{argument_prefix}export_hf_dir",
                                             keep_created=False)
    return task.info_class.read(options.output_dir)


def check_hugging_face_folder(options: FineTuningOptions) -> None:
    """Refuses an `export_hf_dir` that holds files, or that is the output or SavedModel
    folder, which the run fills before the Hugging Face export.

    Raises:
      InvalidArgumentError: naming `export_hf_dir`.
    """
    checkpoints.check_hugging_face_directory(options.export_hf_dir, "export_hf_dir")
    target = os.path.normpath(options.export_hf_dir)
    for name in ("output_dir", "export_dir"):
        other = getattr(options, name)
        if other and os.path.normpath(other) == target:
            raise InvalidArgumentError("export_hf_dir", options.export_hf_dir,
                                       f"is also the {name}; give the Hugging Face model "
                                       "a folder of its own.")


def model_files(options: FineTuningOptions) -> tuple[BertConfig, str]:
    """The model config and vocab path: `bert_config_file` and `vocab_file`, or the
    files beside `init_checkpoint`; checked against `max_seq_length`, the casing and
    each other.

    Raises:
      UserInputError (InvalidArgumentError): naming the file or argument.
    """
    if options.init_checkpoint:
        config_file, vocab_file = checkpoints.resolve_model_files(
            options.init_checkpoint, options.bert_config_file, options.vocab_file)
    elif options.bert_config_file and options.vocab_file:
        config_file, vocab_file = options.bert_config_file, options.vocab_file
    else:
        raise UserInputError("Give init_checkpoint (with bert_config.json and vocab.txt "
                             "beside it), or bert_config_file and vocab_file.")
    config = BertConfig.from_json_file(config_file)
    packing.check_max_seq_length(options.max_seq_length, config.max_position_embeddings,
                                 source=config_file)
    tokenization.validate_case_matches_checkpoint(options.do_lower_case,
                                                  options.init_checkpoint)
    checkpoints.check_vocab_fits_config(len(tokenization.load_vocab(vocab_file)),
                                        vocab_file, config, config_file)
    return config, vocab_file


def make_strategy(options: FineTuningOptions,
                  argument_prefix: str = "") -> tf.distribute.Strategy:
    """Sets the precision policy and returns the `tf.distribute` strategy the options
    ask for; on a TPU, first refuses local checkpoint paths (the data is read here, in
    Python, and may be local).

    Raises:
      InvalidArgumentError: if a batch size does not divide over the replicas.
    """
    strategy = options.device.make_strategy({
        f"{argument_prefix}output_dir": [options.output_dir],
        f"{argument_prefix}init_checkpoint": [options.init_checkpoint]})
    for name in ("train_batch_size", "eval_batch_size", "predict_batch_size"):
        if getattr(options, name) % strategy.num_replicas_in_sync:
            raise InvalidArgumentError(name, getattr(options, name), "must be a multiple "
                                       f"of the {strategy.num_replicas_in_sync} replicas.")
    return strategy


def num_train_steps(task: Task, options: FineTuningOptions) -> int:
    """Optimizer steps of the whole run: `num_train_epochs` over the training
    examples (1 without training, for the optimizer's schedule)."""
    if not options.do_train:
        return 1
    return max(1, int(task.num_train_examples / options.train_batch_size
                      * options.num_train_epochs))


def build_trainer(strategy: tf.distribute.Strategy, task: Task, config: BertConfig,
                  options: FineTuningOptions, train_steps: int) -> training.Trainer:
    """Creates the task's model under `strategy`, loads `init_checkpoint` into it,
    freezes what the options say, and returns the `Trainer` with Google's optimizer
    for `train_steps` steps (warmup: `warmup_proportion` of them).

    Raises:
      UserInputError: if the output folder holds checkpoints of another model, or the
        initial checkpoint does not fit the model.
    """
    device = options.device
    with strategy.scope():
        model = task.build_model(config)
        if options.init_checkpoint:
            checkpoints.load_checkpoint(model, options.init_checkpoint,
                                        initialize_missing=task.initialize_missing)
        if options.lora.enabled:
            lora.enable(model, options.lora)
            trainable = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
            total = sum(int(np.prod(v.shape)) for v in model.variables)
            logging.info("LoRA rank %d on %s: %d of %d weights trainable (%.2f%%).",
                         options.lora.rank, ",".join(options.lora.targets), trainable,
                         total, 100 * trainable / total)
        else:
            frozen = fine_tuning.freeze_layers(model, options.freeze_embeddings,
                                               options.trainable_top_layers)
            if frozen:
                logging.info("Frozen: %s", ", ".join(frozen))
        optimizer = optimization.create_optimizer(
            options.learning_rate, train_steps, int(train_steps * options.warmup_proportion))
        if device.mixed_precision == "fp16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return training.Trainer(strategy, model, optimizer, task.loss_fn(model),
                            options.output_dir, device.gradient_accumulation_steps,
                            device.jit_compile, options.keep_checkpoints, seed=options.seed,
                            run_kind=task.run_kind)


def resolve_lora(options: FineTuningOptions) -> FineTuningOptions:
    """`options` with the LoRA adapters of the output folder (`LORA_FILE`, written by a
    LoRA training run there) when none are asked for, so that a later evaluation,
    prediction or export uses them.

    Raises:
      InvalidArgumentError: naming `lora_rank` if the asked adapters differ from the
        saved ones.
    """
    fields = outputs.read_json(
        os.path.join(options.output_dir, LORA_FILE), dict,
        lambda error: UserInputError(f"{options.output_dir}/{LORA_FILE} is damaged "
                                     f"({error}); use a new output folder."))
    if fields is None:
        return options
    saved = lora.LoraOptions(fields["rank"], fields["alpha"], tuple(fields["targets"]))
    if not options.lora.enabled:
        logging.info("Using the LoRA adapters of %s (rank %d).", options.output_dir,
                     saved.rank)
        return dataclasses.replace(options, lora=saved)
    if options.lora != saved:
        raise InvalidArgumentError(
            "lora_rank", options.lora.rank,
            f"with lora_alpha={options.lora.alpha} and lora_targets="
            f"{','.join(options.lora.targets)} does not match the adapters in "
            f"{options.output_dir} (rank {saved.rank}, alpha {saved.alpha}, targets "
            f"{','.join(saved.targets)}); leave the LoRA options out or use a new folder.")
    return options


def train_or_restore(trainer: training.Trainer, task: Task, options: FineTuningOptions,
                     train_steps: int, evaluate: Callable[[keras.Model], dict],
                     on_progress: Callable[[int, int, dict], None] | None = None) -> float:
    """With `do_train`, trains (evaluating at every checkpoint and stopping early when
    `early_stopping_patience` says so); otherwise restores the latest checkpoint of the
    output folder, if any. Then, when a best checkpoint was kept, loads its weights, so
    that evaluation, prediction and export use them.

    Args:
      trainer: from `build_trainer`.
      task: the prepared task (its training data and `primary_metric`).
      options: the run's options.
      train_steps: optimizer steps of the whole run.
      evaluate: scores a model on the dev set; returns `task.primary_metric`.
      on_progress: see `Trainer.train`.

    Returns:
      the seconds training took (0 without training).
    """
    model = trainer.model
    keeper = (fine_tuning.BestCheckpointKeeper(options.output_dir, task.primary_metric,
                                               options.early_stopping_patience)
              if options.early_stopping_patience else None)
    seconds = 0.0
    if options.do_train:
        started = time.time()
        trainer.train(lambda context: task.dataset(TRAIN, context), train_steps,
                      options.train_batch_size, options.save_checkpoints_steps,
                      options.iterations_per_loop, options.log_steps,
                      after_save=(lambda step: keeper.after_checkpoint(model, step, evaluate))
                      if keeper else None, on_progress=on_progress)
        seconds = time.time() - started
    else:
        # Only the weights: what was frozen in training does not matter here.
        restored = trainer.checkpoints.restore_latest(weights_only=True)
        if restored:
            logging.info("Using %s", restored)
    if keeper is not None and keeper.checkpoint:
        checkpoints.load_checkpoint(model, keeper.checkpoint)
        logging.info("Using the best weights on the dev set, from step %d.",
                     keeper.state["step"])
    return seconds


def run(task: Task, options: FineTuningOptions, argument_prefix: str = "",
        on_progress: Callable[[int, int, dict], None] | None = None) -> RunResult:
    """Runs `task` as `options` say: trains, evaluates (`eval_results.txt`), predicts
    (the task's prediction file) and exports (a SavedModel, a Hugging Face model
    folder), each if asked. Every input is read and checked before anything is
    written; re-running after the process died resumes from the last checkpoint in the
    output folder.

    Args:
      task: a fresh task object.
      options: the run's options.
      argument_prefix: how messages name the folder arguments ("--" for the flags).
      on_progress: called during training (`Trainer.train`), e.g. for a progress bar.

    Raises:
      UserInputError: one sentence naming the argument or file, for anything the user
        can fix; TrainingError: if training cannot go on.
    """
    options.validate(needs_data_dir=task.reads_data_dir)
    task.validate(options)
    saved = check_output_folders(task, options, argument_prefix)
    options = resolve_lora(options)
    if options.export_lora_only and not options.lora.enabled:
        raise InvalidArgumentError("export_lora_only", True, "needs LoRA adapters: "
                                   "lora_rank > 0, or an output folder trained with them.")
    keras.utils.set_random_seed(options.seed)
    config, vocab_file = model_files(options)
    tokenizer = tokenization.FullTokenizer(vocab_file, do_lower_case=options.do_lower_case)
    info = task.prepare(options, tokenizer, saved)
    strategy = make_strategy(options, argument_prefix)
    train_steps = num_train_steps(task, options)
    trainer = build_trainer(strategy, task, config, options, train_steps)
    model = trainer.model
    # Every input is read and checked: only now is anything written.
    if info is not saved:
        info.write(options.output_dir)
    if options.lora.enabled and options.do_train and trainer.is_chief:
        outputs.write_json_atomically(os.path.join(options.output_dir, LORA_FILE),
                                      dataclasses.asdict(options.lora))

    def evaluate(model: keras.Model) -> dict:
        results = task.evaluate(model, strategy)
        if trainer.is_chief:
            training.write_scalars(os.path.join(options.output_dir, "eval"), trainer.step,
                                   results)
        return results

    if options.do_train:
        logging.info("Training on %d %s for %d steps (batch %d).", task.num_train_examples,
                     task.example_name, train_steps, options.train_batch_size)
    seconds = train_or_restore(trainer, task, options, train_steps, evaluate, on_progress)
    eval_results = predictions_file = export_version = None
    if options.do_eval:
        eval_results = {**evaluate(model), "global_step": trainer.step}
        outputs.write_eval_results(options.output_dir, eval_results)
        logging.info("Eval results: %s", eval_results)
    if options.do_train and trainer.is_chief:
        curves.write_curves(options.output_dir, task.primary_metric)
    if options.do_predict:
        predictions_file = task.write_predictions(model, strategy)
    # Exports hold the adapters folded into the kernels: serving needs nothing new.
    writes_merged = options.export_dir or (options.export_hf_dir
                                            and not options.export_lora_only)
    plain = lora.merged(model) if writes_merged else model
    if options.export_dir:
        export_version = task.export(plain, vocab_file)
        logging.info("Exported the SavedModel to %s", export_version)
    hugging_face_dir = None
    if options.export_hf_dir and trainer.is_chief:  # One writer for the one folder.
        if options.export_lora_only:
            hugging_face_dir = checkpoints.save_lora_adapter(model, options.export_hf_dir)
        else:
            hugging_face_dir = checkpoints.save_hugging_face(
                plain, options.export_hf_dir, vocab_file=vocab_file,
                do_lower_case=options.do_lower_case, label_list=task.hugging_face_labels())
    return RunResult(trainer.step, seconds, eval_results, predictions_file, export_version,
                     hugging_face_dir, model)
