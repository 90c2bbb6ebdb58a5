"""Masked-LM + next-sentence pre-training from TFRecords, as Google's `run_pretraining.py`.

    python run_pretraining.py --input_file=records/*.tfrecord --output_dir=out \
      --do_train=True --do_eval=True --bert_config_file=bert_config.json \
      --train_batch_size=32 --max_seq_length=128 --max_predictions_per_seq=20 \
      --num_train_steps=100000 --num_warmup_steps=10000 --learning_rate=1e-4

(or `bert-run-pretraining` with the same flags, once the package is installed).
Re-running the same command after the process died resumes from the last checkpoint in
--output_dir (weights, optimizer state, step and input position). --export_hf_dir
(with --vocab_file) writes the model at the end as a Hugging Face `BertForPreTraining`
folder.
"""

import os

import keras
import tensorflow as tf
from absl import flags, logging

from bert_tf import checkpoints, file_checks, io
from bert_tf.cli import command
from bert_tf.cli import flags as shared_flags
from bert_tf.configs import BertConfig
from bert_tf.errors import UserInputError
from bert_tf.modeling import BertPretrainer
from bert_tf.tasks.pretraining import dataset as pretraining_dataset
from bert_tf.tasks.pretraining import objectives as pretraining_objectives
from bert_tf.tasks.pretraining import records as pretraining_records
from bert_tf.text import packing, tokenization
from bert_tf.training import checkpoints as training_checkpoints
from bert_tf.training import fine_tuning, optimization
from bert_tf.training import trainer as training

FLAGS = flags.FLAGS
# The run kind recorded with the checkpoints: a folder of another kind is refused.
RUN_KIND = "run_pretraining.py"


def define_flags() -> None:
    """Registers the command's flags: Google's, the device flags it shares with the
    fine-tuning scripts (`bert_tf.cli.flags.define_device_flags`) and this project's
    --optimizer, --adam_bias_correction, --keep_checkpoints, --log_steps, --seed and
    --export_hf_dir (with --vocab_file and --do_lower_case)."""
    shared_flags.define_model_flags(
        __name__, bert_config_file="The config of the model to pre-train.",
        vocab_file="With --export_hf_dir: the model's vocab.txt, copied into the export.",
        init_checkpoint="Initial weights (Google, Hugging Face or own checkpoint); heads "
        "it lacks start fresh.",
        do_lower_case="With --export_hf_dir: whether the model's input is lower-cased "
        "(uncased models), for the exported tokenizer.",
        max_seq_length="Sequence length of the records.")
    flags.DEFINE_string("input_file", None, "Input TFRecord files: comma-separated, globs "
                        "allowed.")
    flags.DEFINE_string("output_dir", None, "Where checkpoints, summaries and eval results "
                        "go.")
    flags.DEFINE_integer("max_predictions_per_seq", 20, "Masked positions per record.")
    flags.DEFINE_bool("do_train", False, "Whether to run training.")
    flags.DEFINE_bool("do_eval", False, "Whether to run eval on the input files.")
    flags.DEFINE_integer("train_batch_size", 32, "Global batch size for training.")
    flags.DEFINE_integer("eval_batch_size", 8, "Global batch size for eval.")
    flags.DEFINE_float("learning_rate", 5e-5, "The initial learning rate for Adam.")
    flags.DEFINE_integer("num_train_steps", 100000, "Number of training steps.")
    flags.DEFINE_integer("num_warmup_steps", 10000, "Number of warmup steps.")
    flags.DEFINE_integer("save_checkpoints_steps", 1000, "How often to save a checkpoint.")
    flags.DEFINE_integer("iterations_per_loop", 1000, "Steps per call into the compiled "
                         "loop.")
    flags.DEFINE_integer("max_eval_steps", 100, "Maximum number of eval steps.")
    shared_flags.define_device_flags()
    flags.DEFINE_enum("optimizer", "adamw", ["adamw", "lamb"], "Google's AdamW, or LAMB.")
    flags.DEFINE_bool("adam_bias_correction", False, "Use Adam's bias correction (Google's "
                      "optimizer has none).")
    flags.DEFINE_integer("keep_checkpoints", 5, "How many checkpoints to keep.")
    flags.DEFINE_integer("log_steps", 100, "Steps between progress lines and summaries.")
    flags.DEFINE_integer("seed", 12345, "Seed for initialization, dropout and data order.")
    flags.DEFINE_string("export_hf_dir", None, "If set, write the model with its heads "
                        "there as a Hugging Face BertForPreTraining folder (needs "
                        "--vocab_file), after training and evaluation. A new or empty "
                        "folder.")
    flags.mark_flags_as_required(["bert_config_file", "input_file", "output_dir"])


def validate_flags(replicas: int) -> None:
    """Checks the flags that do not need the data; raises `UserInputError`."""
    if not (FLAGS.do_train or FLAGS.do_eval):
        raise UserInputError("At least one of --do_train or --do_eval must be True.")
    for name in ("train_batch_size", "eval_batch_size", "num_train_steps",
                 "save_checkpoints_steps", "iterations_per_loop", "max_eval_steps",
                 "gradient_accumulation_steps", "log_steps", "keep_checkpoints"):
        if FLAGS[name].value < 1:
            raise UserInputError(f"--{name}={FLAGS[name].value} must be at least 1.")
    for name in ("train_batch_size", "eval_batch_size"):
        if FLAGS[name].value % replicas:
            raise UserInputError(f"--{name}={FLAGS[name].value} must be a multiple of the "
                                 f"{replicas} replicas.")


def check_output_dir() -> None:
    """Before anything is read or written: refuses an --output_dir holding checkpoints
    this project did not write, another kind of run's checkpoints or task, or one that
    cannot be written; and an --export_hf_dir without --vocab_file, holding files, that
    is the --output_dir or cannot be written."""
    training_checkpoints.check_output_dir(FLAGS.output_dir, RUN_KIND)
    fine_tuning.read_task_info(FLAGS.output_dir, RUN_KIND)
    file_checks.check_writable_directory(FLAGS.output_dir, "--output_dir",
                                         keep_created=False)
    if FLAGS.export_hf_dir:
        if not FLAGS.vocab_file:
            raise UserInputError("--export_hf_dir needs --vocab_file, the model's vocab.txt "
                                 "(the export holds the tokenizer too).")
        checkpoints.check_hugging_face_directory(FLAGS.export_hf_dir, "export_hf_dir")
        if os.path.normpath(FLAGS.export_hf_dir) == os.path.normpath(FLAGS.output_dir):
            raise UserInputError("--export_hf_dir is also the --output_dir; give the "
                                 "Hugging Face model a folder of its own.")
        file_checks.check_writable_directory(FLAGS.export_hf_dir, "--export_hf_dir",
                                             keep_created=False)


def read_config_and_records() -> tuple[BertConfig, list[str]]:
    """The model's config and the record files, each record file's metadata checked
    against --max_seq_length, --max_predictions_per_seq and the model (and, with
    --export_hf_dir, --vocab_file against the model)."""
    config = BertConfig.from_json_file(FLAGS.bert_config_file)
    if FLAGS.export_hf_dir:
        checkpoints.check_vocab_fits_config(
            len(tokenization.load_vocab(FLAGS.vocab_file)), FLAGS.vocab_file, config,
            FLAGS.bert_config_file)
    # Pre-training records hold [CLS], two [SEP] and a token of each sentence.
    packing.check_max_seq_length(FLAGS.max_seq_length, config.max_position_embeddings,
                                 smallest=5, source=FLAGS.bert_config_file)
    files = pretraining_dataset.expand_record_files(FLAGS.input_file, "input_file")
    for path in files:
        pretraining_records.check_metadata(path, FLAGS.max_seq_length,
                                           FLAGS.max_predictions_per_seq, config.vocab_size)
    return config, files


def make_strategy(files: list[str]) -> tf.distribute.Strategy:
    """Sets the precision and builds the distribution strategy the device flags ask
    for (on a TPU, every path must be on Cloud Storage)."""
    return shared_flags.device_options().make_strategy({
        "--input_file": files, "--output_dir": [FLAGS.output_dir],
        "--init_checkpoint": [FLAGS.init_checkpoint]})


def make_trainer(strategy: tf.distribute.Strategy, config: BertConfig) -> training.Trainer:
    """The pre-training model (from --init_checkpoint, if given) and its optimizer,
    under `strategy`, in a `Trainer` that saves to --output_dir."""
    with strategy.scope():
        model = BertPretrainer(config)
        if FLAGS.init_checkpoint:
            checkpoints.load_checkpoint(model, FLAGS.init_checkpoint,
                                        initialize_missing=("cls/", "bert/pooler/"))
        optimizer = optimization.create_optimizer(
            FLAGS.learning_rate, FLAGS.num_train_steps, FLAGS.num_warmup_steps,
            FLAGS.optimizer, FLAGS.adam_bias_correction)
        if FLAGS.mixed_precision == "fp16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return training.Trainer(strategy, model, optimizer,
                            pretraining_objectives.pretraining_losses, FLAGS.output_dir,
                            FLAGS.gradient_accumulation_steps, FLAGS.jit_compile,
                            FLAGS.keep_checkpoints, seed=FLAGS.seed, run_kind=RUN_KIND)


def dataset_fn(files: list[str], batch_size: int, is_training: bool):
    """The input function a `Trainer` calls per input pipeline (`batch_size` global)."""
    def make(context: tf.distribute.InputContext) -> tf.data.Dataset:
        return pretraining_dataset.pretraining_dataset(
            files, FLAGS.max_seq_length, FLAGS.max_predictions_per_seq,
            context.get_per_replica_batch_size(batch_size), is_training,
            seed=FLAGS.seed, input_context=context)
    return make


def run(argv: list[str]) -> None:
    """Trains and/or evaluates; see the module docstring."""
    del argv
    check_output_dir()
    keras.utils.set_random_seed(FLAGS.seed)
    config, files = read_config_and_records()
    strategy = make_strategy(files)
    validate_flags(strategy.num_replicas_in_sync)
    trainer = make_trainer(strategy, config)
    if FLAGS.do_train:
        trainer.train(dataset_fn(files, FLAGS.train_batch_size, True), FLAGS.num_train_steps,
                      FLAGS.train_batch_size, FLAGS.save_checkpoints_steps,
                      FLAGS.iterations_per_loop, FLAGS.log_steps)
    else:  # Evaluation alone: of the latest checkpoint, as Google's Estimator does.
        restored = trainer.checkpoints.restore_latest(weights_only=True)
        if restored:
            logging.info("Evaluating %s", restored)
    if FLAGS.do_eval:
        results = trainer.evaluate(dataset_fn(files, FLAGS.eval_batch_size, False),
                                   FLAGS.max_eval_steps)
        results["global_step"] = trainer.step
        tf.io.gfile.makedirs(FLAGS.output_dir)
        io.write_eval_results(FLAGS.output_dir, results)
        logging.info("Eval results: %s", results)
    if FLAGS.export_hf_dir and trainer.is_chief:  # One writer for the one folder.
        checkpoints.save_hugging_face(trainer.model, FLAGS.export_hf_dir,
                                      vocab_file=FLAGS.vocab_file,
                                      do_lower_case=FLAGS.do_lower_case)


def main() -> None:
    """The command (`bert-run-pretraining`, `python run_pretraining.py`)."""
    command.run_command(__name__, define_flags, run)
