"""The flags `run_classifier.py` and `run_ner.py` share: Google's fine-tuning flags plus
this project's additions, defined once, and the checks and objects made from them.
`run_pretraining.py` shares the device flags (`define_device_flags`).

Defining them is an explicit call from a script's top level (`define_flags()`), never
a side effect of importing a library module.
"""

from typing import Callable

import keras
import tensorflow as tf
from absl import flags, logging

from bert_tf import checkpoints, file_checks

from bert_tf.training import fine_tuning

from bert_tf.training import optimization

from bert_tf.text import tokenization

from bert_tf.training import trainer as training

from bert_tf.training import checkpoints as training_checkpoints
from bert_tf.configs import BertConfig
from bert_tf.errors import UserInputError

FLAGS = flags.FLAGS


def define_flags() -> None:
    """Registers the shared flags (names and defaults as Google's `run_classifier.py`)."""
    flags.DEFINE_string("data_dir", None, "The input data directory (train/dev/test files).")
    flags.DEFINE_string("bert_config_file", None, "bert_config.json (or a Hugging Face "
                        "config.json). Default: the one beside --init_checkpoint.")
    flags.DEFINE_string("vocab_file", None, "WordPiece vocab.txt. Default: the one beside "
                        "--init_checkpoint.")
    flags.DEFINE_string("output_dir", None, "Where checkpoints, results and the label list "
                        "go.")
    flags.DEFINE_string("init_checkpoint", None, "Initial weights: a Google checkpoint "
                        "prefix, a Hugging Face directory or .safetensors file, or a "
                        "checkpoint of this project.")
    flags.DEFINE_bool("do_lower_case", True, "Lower-case the input (uncased models).")
    flags.DEFINE_integer("max_seq_length", 128, "Maximum WordPiece sequence length.")
    flags.DEFINE_bool("do_train", False, "Whether to run training.")
    flags.DEFINE_bool("do_eval", False, "Whether to run eval on the dev set.")
    flags.DEFINE_bool("do_predict", False, "Whether to predict on the test set.")
    flags.DEFINE_integer("train_batch_size", 32, "Total batch size for training.")
    flags.DEFINE_integer("eval_batch_size", 8, "Total batch size for eval.")
    flags.DEFINE_integer("predict_batch_size", 8, "Total batch size for predict.")
    flags.DEFINE_float("learning_rate", 5e-5, "The initial learning rate for Adam.")
    flags.DEFINE_float("num_train_epochs", 3.0, "Total number of training epochs.")
    flags.DEFINE_float("warmup_proportion", 0.1, "Proportion of training for linear "
                       "learning-rate warmup (0.1 = 10%).")
    flags.DEFINE_integer("save_checkpoints_steps", 1000, "How often to save a checkpoint "
                         "(and, with early stopping, to evaluate on the dev set).")
    flags.DEFINE_integer("iterations_per_loop", 1000, "Steps per call into the compiled "
                         "loop.")
    define_device_flags()
    flags.DEFINE_integer("seed", 12345, "Seed for initialization, dropout and data order: "
                         "the same seed repeats a run.")
    flags.DEFINE_bool("freeze_embeddings", False, "Do not train the embedding layer.")
    flags.DEFINE_integer("trainable_top_layers", None, "Train only this many top encoder "
                         "layers (and the pooler and head); the rest stays frozen.")
    flags.DEFINE_integer("early_stopping_patience", 0, "If > 0, evaluate on the dev set at "
                         "every checkpoint, keep the best weights in output_dir/best and "
                         "stop after this many evaluations without improvement.")
    flags.DEFINE_bool("dynamic_padding", True, "Pad each batch only to its longest sequence "
                      "(faster on CPU/GPU; off on TPU and with --jit_compile, where every "
                      "new length would mean a new compilation).")
    flags.DEFINE_string("export_dir", None, "If set, export a SavedModel for TF Serving "
                        "there (a new numbered version folder) after training.")
    flags.DEFINE_integer("keep_checkpoints", 3, "How many checkpoints to keep.")
    flags.DEFINE_integer("log_steps", 100, "Steps between progress lines.")
    flags.mark_flags_as_required(["output_dir"])


def define_device_flags() -> None:
    """Registers the flags of where and how training runs, which `run_pretraining.py`
    shares too: Google's TPU flags, --distribution_strategy, --mixed_precision,
    --jit_compile and --gradient_accumulation_steps."""
    flags.DEFINE_bool("use_tpu", False, "Run on a TPU (implies --distribution_strategy=tpu).")
    flags.DEFINE_string("tpu_name", None, "The Cloud TPU to use ('local' on Colab).")
    flags.DEFINE_string("tpu_zone", None, "GCE zone of the Cloud TPU.")
    flags.DEFINE_string("gcp_project", None, "GCP project of the Cloud TPU.")
    flags.DEFINE_string("master", None, "TPU address (used when --tpu_name is not given).")
    flags.DEFINE_integer("num_tpu_cores", 8, "Accepted for compatibility; the TPU system "
                         "reports its cores.")
    flags.DEFINE_enum("distribution_strategy", "default", list(training.STRATEGIES),
                      "default (one device), mirrored (local GPUs), multi_worker_mirrored "
                      "(machines in TF_CONFIG) or tpu.")
    flags.DEFINE_enum("mixed_precision", "none", list(training.PRECISIONS),
                      "Compute in bf16 or fp16 (dynamic loss scaling); weights stay float32.")
    flags.DEFINE_bool("jit_compile", False, "Compile the training step with XLA.")
    flags.DEFINE_integer("gradient_accumulation_steps", 1, "Micro-batches per optimizer "
                         "step.")


def validate_flags() -> None:
    """Checks the flags that need neither data nor model; raises `UserInputError`."""
    if not (FLAGS.do_train or FLAGS.do_eval or FLAGS.do_predict):
        raise UserInputError("At least one of --do_train, --do_eval or --do_predict must be "
                             "True.")
    if (FLAGS.do_train or FLAGS.do_eval or FLAGS.do_predict) and not FLAGS.data_dir:
        raise UserInputError("--data_dir is required: the directory holding the task's "
                             "train/dev/test files.")
    for name in ("train_batch_size", "eval_batch_size", "predict_batch_size",
                 "save_checkpoints_steps", "iterations_per_loop", "keep_checkpoints",
                 "log_steps", "gradient_accumulation_steps"):
        if FLAGS[name].value < 1:
            raise UserInputError(f"--{name}={FLAGS[name].value} must be at least 1.")
    if FLAGS.num_train_epochs <= 0:
        raise UserInputError(f"--num_train_epochs={FLAGS.num_train_epochs} must be positive.")
    if not 0 <= FLAGS.warmup_proportion < 1:
        raise UserInputError(f"--warmup_proportion={FLAGS.warmup_proportion} must be in "
                             "[0, 1).")
    if FLAGS.early_stopping_patience and not FLAGS.do_train:
        raise UserInputError("--early_stopping_patience needs --do_train.")


def saved_task(run_kind: str) -> dict | None:
    """Checks --output_dir (and --export_dir) before anything is read or written:
    refuses a folder holding checkpoints this project did not write, or checkpoints or
    the task of another kind of run than `run_kind` (e.g. "run_ner.py"), or one that
    cannot be written; returns the task saved there, if any.

    Raises:
      UserInputError: one sentence naming the folder and what it holds.
    """
    training_checkpoints.check_output_dir(FLAGS.output_dir, run_kind)
    file_checks.check_writable_directory(FLAGS.output_dir, "--output_dir",
                                         keep_created=False)
    if FLAGS.export_dir:
        file_checks.check_writable_directory(FLAGS.export_dir, "--export_dir",
                                             keep_created=False)
    return fine_tuning.read_task_info(FLAGS.output_dir, run_kind)


def model_files() -> tuple[BertConfig, str]:
    """The model config and vocab path from --bert_config_file/--vocab_file, or the
    files beside --init_checkpoint; checks them against --max_seq_length and casing."""
    if FLAGS.init_checkpoint:
        config_file, vocab_file = checkpoints.resolve_model_files(
            FLAGS.init_checkpoint, FLAGS.bert_config_file, FLAGS.vocab_file)
    elif FLAGS.bert_config_file and FLAGS.vocab_file:
        config_file, vocab_file = FLAGS.bert_config_file, FLAGS.vocab_file
    else:
        raise UserInputError("Pass --init_checkpoint (with bert_config.json and vocab.txt "
                             "beside it), or --bert_config_file and --vocab_file.")
    config = BertConfig.from_json_file(config_file)
    if not 3 <= FLAGS.max_seq_length <= config.max_position_embeddings:
        raise UserInputError(
            f"--max_seq_length={FLAGS.max_seq_length} must be between 3 and the model's "
            f"max_position_embeddings ({config.max_position_embeddings}) in {config_file}.")
    tokenization.validate_case_matches_checkpoint(FLAGS.do_lower_case, FLAGS.init_checkpoint)
    vocab_size = len(tokenization.load_vocab(vocab_file))
    if vocab_size > config.vocab_size:
        raise UserInputError(
            f"--vocab_file {vocab_file} has {vocab_size} tokens but the model "
            f"({config_file}) has only vocab_size={config.vocab_size} embedding rows: the "
            "vocabulary does not belong to this model.")
    return config, vocab_file


def strategy_from_flags():
    """The precision policy and `tf.distribute` strategy the flags ask for; on a TPU,
    first refuses local checkpoint paths (the data is read here, in Python, and may be
    local)."""
    name = "tpu" if FLAGS.use_tpu else FLAGS.distribution_strategy
    if name == "tpu":
        training.check_tpu_paths({"--output_dir": [FLAGS.output_dir],
                                  "--init_checkpoint": [FLAGS.init_checkpoint]})
    training.set_precision(FLAGS.mixed_precision)
    strategy = training.make_strategy(name, tpu=FLAGS.tpu_name or FLAGS.master,
                                      tpu_zone=FLAGS.tpu_zone, gcp_project=FLAGS.gcp_project)
    for flag in ("train_batch_size", "eval_batch_size", "predict_batch_size"):
        if FLAGS[flag].value % strategy.num_replicas_in_sync:
            raise UserInputError(f"--{flag}={FLAGS[flag].value} must be a multiple of the "
                                 f"{strategy.num_replicas_in_sync} replicas.")
    return strategy


def uses_tpu() -> bool:
    """Whether the run is on a TPU (static shapes needed)."""
    return FLAGS.use_tpu or FLAGS.distribution_strategy == "tpu"


def dynamic_padding() -> bool:
    """Whether batches are cut to their longest sequence: asked for, and neither a TPU
    nor XLA needs static shapes."""
    return FLAGS.dynamic_padding and not uses_tpu() and not FLAGS.jit_compile


def build_trainer(strategy: tf.distribute.Strategy, make_model: Callable[[], keras.Model],
                  loss_fn_of: Callable[[keras.Model], Callable], num_train_steps: int,
                  initialize_missing: tuple[str, ...], run_kind: str) -> training.Trainer:
    """Creates the model under `strategy`, loads --init_checkpoint into it, freezes what
    the flags say, and returns the `Trainer` with Google's optimizer for
    `num_train_steps` steps (warmup: --warmup_proportion of them).

    Args:
      strategy: from `strategy_from_flags`.
      make_model: builds the fresh task model.
      loss_fn_of: the model -> its training `loss_fn`.
      num_train_steps: optimizer steps of the whole run.
      initialize_missing: checkpoint name prefixes that may start fresh (the head).
      run_kind: the script (e.g. "run_classifier.py"), recorded with the checkpoints.

    Raises:
      UserInputError: if --output_dir holds checkpoints of another model.
    """
    with strategy.scope():
        model = make_model()
        if FLAGS.init_checkpoint:
            checkpoints.load_checkpoint(model, FLAGS.init_checkpoint,
                                        initialize_missing=initialize_missing)
        frozen = fine_tuning.freeze_layers(model, FLAGS.freeze_embeddings,
                                           FLAGS.trainable_top_layers)
        if frozen:
            logging.info("Frozen: %s", ", ".join(frozen))
        optimizer = optimization.create_optimizer(
            FLAGS.learning_rate, num_train_steps,
            int(num_train_steps * FLAGS.warmup_proportion))
        if FLAGS.mixed_precision == "fp16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return training.Trainer(strategy, model, optimizer, loss_fn_of(model), FLAGS.output_dir,
                            FLAGS.gradient_accumulation_steps, FLAGS.jit_compile,
                            FLAGS.keep_checkpoints, seed=FLAGS.seed, run_kind=run_kind)


def train_or_restore(trainer: training.Trainer, dataset_fn: Callable | None,
                     num_train_steps: int, evaluate: Callable[[keras.Model], dict],
                     primary_metric: str) -> None:
    """With --do_train, trains (evaluating at every checkpoint and stopping early when
    --early_stopping_patience says so); otherwise restores the latest checkpoint of
    --output_dir, if any. Then, when a best checkpoint was kept, loads its weights, so
    that evaluation, prediction and export use them.

    Args:
      trainer: from `build_trainer`.
      dataset_fn: the training input (`Trainer.train`'s), needed with --do_train.
      num_train_steps: optimizer steps of the whole run.
      evaluate: scores a model on the dev set; must return `primary_metric`.
      primary_metric: the dev score early stopping follows (higher is better).
    """
    model = trainer.model
    keeper = (fine_tuning.BestCheckpointKeeper(FLAGS.output_dir, primary_metric,
                                               FLAGS.early_stopping_patience)
              if FLAGS.early_stopping_patience else None)
    if FLAGS.do_train:
        trainer.train(dataset_fn, num_train_steps, FLAGS.train_batch_size,
                      FLAGS.save_checkpoints_steps, FLAGS.iterations_per_loop,
                      FLAGS.log_steps,
                      after_save=(lambda step: keeper.after_checkpoint(model, step, evaluate))
                      if keeper else None)
    else:
        # Only the weights: what was frozen in training does not matter here.
        restored = trainer.checkpoints.restore_latest(weights_only=True)
        if restored:
            logging.info("Using %s", restored)
    if keeper is not None and keeper.checkpoint:
        checkpoints.load_checkpoint(model, keeper.checkpoint)
        logging.info("Using the best weights on the dev set, from step %d.",
                     keeper.state["step"])
