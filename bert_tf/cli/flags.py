"""The flags `run_classifier.py`, `run_ner.py` and `run_squad.py` share: Google's fine-tuning flags plus
this project's additions, defined once, and the one frozen options object made from
them (`fine_tuning_options`). `run_pretraining.py` shares the device flags
(`define_device_flags`, `device_options`); every script that loads a model or reads text
for one, the model flags (`define_model_flags`, with its own help texts).

Defining them is an explicit call from a command's `define_flags()`, never a side
effect of importing a module. Checks of the values are the library's
(`FineTuningOptions.validate`, the tasks, the runner): their errors name the
arguments, which `bert_tf.cli.app` words as these flags.
"""

import dataclasses
import typing

from absl import flags

from bert_tf.training import lora

# Only light modules at the top: `create_pretraining_data.py` defines its flags here
# too, and its worker processes must not load TensorFlow (see that module).
if typing.TYPE_CHECKING:
    from bert_tf.tasks.base import DeviceOptions, FineTuningOptions

FLAGS = flags.FLAGS


def define_flags(data_dir: bool = True, max_seq_length: int = 128) -> None:
    """Registers the shared flags (names and defaults as Google's `run_classifier.py`).

    Args:
      data_dir: define --data_dir (`run_squad.py` names its files instead).
      max_seq_length: the default of --max_seq_length (Google's `run_squad.py`: 384).
    """
    if data_dir:
        flags.DEFINE_string("data_dir", None, "The input data directory (train/dev/test "
                            "files).")
    define_model_flags(__name__, init_checkpoint="Initial weights: a Google checkpoint "
                       "prefix, a Hugging Face directory or .safetensors file, or a "
                       "checkpoint of this project.", max_seq_length_default=max_seq_length)
    flags.DEFINE_string("output_dir", None, "Where checkpoints, results and the label list "
                        "go.")
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
    flags.DEFINE_string("export_hf_dir", None, "If set, write the model there as a Hugging "
                        "Face model folder (config.json, model.safetensors, vocab.txt, "
                        "tokenizer files) that transformers' from_pretrained loads, after "
                        "training. A new or empty folder.")
    flags.DEFINE_integer("keep_checkpoints", 3, "How many checkpoints to keep.")
    flags.DEFINE_integer("log_steps", 100, "Steps between progress lines.")
    flags.DEFINE_integer("lora_rank", 0, "If > 0, fine-tune LoRA adapters of this rank on "
                         "the --lora_targets projections and the task head only; the "
                         "pre-trained weights stay frozen.")
    flags.DEFINE_float("lora_alpha", None, "LoRA's scale numerator: updates are scaled by "
                       "lora_alpha / lora_rank (default: lora_rank, a scale of 1).")
    flags.DEFINE_list("lora_targets", list(lora.DEFAULT_TARGETS), "The projections that "
                      "get adapters: " + ", ".join(lora.TARGETS) + ".")
    flags.DEFINE_bool("export_lora_only", False, "With --lora_rank: write only the "
                      "adapters and the task head to --export_hf_dir, in peft's layout "
                      "(adapter_config.json, adapter_model.safetensors), instead of the "
                      "merged model.")
    flags.mark_flags_as_required(["output_dir"])


def define_model_flags(
        module_name: str, *,
        bert_config_file: str | None = "bert_config.json (or a Hugging Face config.json). "
        "Default: the one beside --init_checkpoint.",
        vocab_file: str | None = "WordPiece vocab.txt. Default: the one beside "
        "--init_checkpoint.",
        init_checkpoint: str | None = None,
        do_lower_case: str | None = "Lower-case the input (uncased models).",
        max_seq_length: str = "Maximum WordPiece sequence length.",
        max_seq_length_default: int = 128) -> None:
    """Registers the flags that name the model and how text is fed to it, which most
    scripts take: --bert_config_file, --vocab_file, --init_checkpoint, --do_lower_case
    (default True) and --max_seq_length (default 128), with Google's names and defaults.

    Args:
      module_name: the command module the flags belong to (`--help` lists them as its
        own).
      bert_config_file, vocab_file, init_checkpoint, do_lower_case, max_seq_length: each
        flag's help text, as the script words it; None leaves the flag out (a script
        that does not take it).
      max_seq_length_default: the default of --max_seq_length.
    """
    for name, help_text in (("bert_config_file", bert_config_file),
                            ("vocab_file", vocab_file),
                            ("init_checkpoint", init_checkpoint)):
        if help_text is not None:
            flags.DEFINE_string(name, None, help_text, module_name=module_name)
    if do_lower_case is not None:
        flags.DEFINE_bool("do_lower_case", True, do_lower_case, module_name=module_name)
    flags.DEFINE_integer("max_seq_length", max_seq_length_default, max_seq_length,
                         module_name=module_name)


def define_device_flags() -> None:
    """Registers the flags of where and how training runs, which `run_pretraining.py`
    shares too: Google's TPU flags, --distribution_strategy, --mixed_precision,
    --jit_compile and --gradient_accumulation_steps."""
    from bert_tf.training import distribution
    flags.DEFINE_bool("use_tpu", False, "Run on a TPU (implies --distribution_strategy=tpu).")
    flags.DEFINE_string("tpu_name", None, "The Cloud TPU to use ('local' on Colab).")
    flags.DEFINE_string("tpu_zone", None, "GCE zone of the Cloud TPU.")
    flags.DEFINE_string("gcp_project", None, "GCP project of the Cloud TPU.")
    flags.DEFINE_string("master", None, "TPU address (used when --tpu_name is not given).")
    flags.DEFINE_integer("num_tpu_cores", 8, "Accepted for compatibility; the TPU system "
                         "reports its cores.")
    flags.DEFINE_enum("distribution_strategy", "default", list(distribution.STRATEGIES),
                      "default (one device), mirrored (local GPUs), multi_worker_mirrored "
                      "(machines in TF_CONFIG) or tpu.")
    flags.DEFINE_enum("mixed_precision", "none", list(distribution.PRECISIONS),
                      "Compute in bf16 or fp16 (dynamic loss scaling); weights stay float32.")
    flags.DEFINE_bool("jit_compile", False, "Compile the training step with XLA.")
    flags.DEFINE_integer("gradient_accumulation_steps", 1, "Micro-batches per optimizer "
                         "step.")


def device_options() -> "DeviceOptions":
    """The device flags as `DeviceOptions` (Google's --use_tpu means the TPU strategy,
    --master names the TPU when --tpu_name does not)."""
    from bert_tf.tasks.base import DeviceOptions
    return DeviceOptions(
        distribution_strategy="tpu" if FLAGS.use_tpu else FLAGS.distribution_strategy,
        tpu=FLAGS.tpu_name or FLAGS.master, tpu_zone=FLAGS.tpu_zone,
        gcp_project=FLAGS.gcp_project, mixed_precision=FLAGS.mixed_precision,
        jit_compile=FLAGS.jit_compile,
        gradient_accumulation_steps=FLAGS.gradient_accumulation_steps)


def fine_tuning_options() -> "FineTuningOptions":
    """The shared flags (after parsing) as the one `FineTuningOptions` (a field whose
    flag the script does not define keeps its default)."""
    from bert_tf.tasks.base import FineTuningOptions
    names = [field.name for field in dataclasses.fields(FineTuningOptions)
             if field.name not in ("device", "lora") and field.name in FLAGS]
    return FineTuningOptions(**{name: FLAGS[name].value for name in names},
                             device=device_options(), lora=lora.LoraOptions(
                                 FLAGS.lora_rank, FLAGS.lora_alpha,
                                 tuple(FLAGS.lora_targets)))
