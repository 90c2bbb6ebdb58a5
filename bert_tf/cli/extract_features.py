"""Extracts contextual embeddings from a BERT model, as Google's `extract_features.py`.

Each input line is a text, or a pair written `text_a ||| text_b`. Each output line is
the JSON Google's script writes: `linex_index`, and for every token its `layers` with
`index` and `values` (rounded to 6 decimals).

    python extract_features.py --input_file=input.txt --output_file=output.jsonl \
      --init_checkpoint=uncased_L-12_H-768_A-12/bert_model.ckpt \
      --vocab_file=uncased_L-12_H-768_A-12/vocab.txt \
      --bert_config_file=uncased_L-12_H-768_A-12/bert_config.json \
      --layers=-1,-2,-3,-4 --max_seq_length=128 --batch_size=8

(or `bert-extract-features` with the same flags, once the package is installed).
"""

from absl import flags, logging

from bert_tf import checkpoints, file_checks, io
from bert_tf.cli import command
from bert_tf.cli import flags as flags_lib
from bert_tf.configs import BertConfig
from bert_tf.errors import UserInputError
from bert_tf.modeling import BertModel
from bert_tf.tasks import feature_extraction
from bert_tf.text import packing, tokenization

FLAGS = flags.FLAGS


def define_flags() -> None:
    """Registers the command's flags (Google's names and defaults)."""
    flags.DEFINE_string("input_file", None, "Text file: one text, or `text_a ||| text_b`, "
                        "a line.")
    flags.DEFINE_string("output_file", None, "Where to write the JSON lines.")
    flags.DEFINE_bool("overwrite_output", False, "Replace --output_file if it exists.")
    flags.DEFINE_string("layers", "-1,-2,-3,-4", "Comma-separated encoder layer indexes.")
    flags_lib.define_model_flags(
        __name__, init_checkpoint="Google TF checkpoint prefix, Hugging Face directory or "
        ".safetensors file, or one of this project's checkpoints.",
        max_seq_length="Maximum WordPiece length; longer inputs are truncated, shorter "
        "ones padded.")
    flags.DEFINE_integer("batch_size", 32, "Batch size for predictions.")
    flags.DEFINE_bool("use_tpu", False, "Run on a TPU (not supported by this script yet).")
    flags.DEFINE_string("master", None, "TPU master address (with --use_tpu).")
    flags.DEFINE_integer("num_tpu_cores", 8, "Number of TPU cores (with --use_tpu).")
    flags.DEFINE_bool("use_one_hot_embeddings", False, "Accepted for compatibility with "
                      "Google's script; embedding lookups are always gathers here.")
    flags.mark_flags_as_required(["input_file", "output_file", "init_checkpoint"])


def parse_layers(text: str, num_layers: int) -> list[int]:
    """Parses --layers into ints, each naming one of the model's `num_layers` layers."""
    try:
        indexes = [int(part) for part in text.split(",")]
    except ValueError as error:
        raise UserInputError(f"--layers={text!r} must be comma-separated integers, "
                             "e.g. -1,-2,-3,-4.") from error
    invalid = [index for index in indexes if not -num_layers <= index < num_layers]
    if invalid:
        raise UserInputError(f"--layers={text!r}: {invalid} outside the model's "
                             f"{num_layers} layers (use -{num_layers}..{num_layers - 1}).")
    return indexes


def validate_flags(config: BertConfig, config_file: str) -> None:
    """Checks the flags that depend on the model (read from `config_file`); raises
    `UserInputError`."""
    if FLAGS.use_tpu:
        raise UserInputError("--use_tpu is not supported by extract_features.py yet; run it "
                             "on CPU or GPU (inference on a few texts needs no TPU).")
    packing.check_max_seq_length(FLAGS.max_seq_length, config.max_position_embeddings,
                                 source=config_file)
    if FLAGS.batch_size < 1:
        raise UserInputError(f"--batch_size={FLAGS.batch_size} must be at least 1.")


def run(argv: list[str]) -> None:
    """Checks every input and the output before the work; reads the inputs, runs the
    model and writes the JSON lines."""
    del argv
    file_checks.check_input_file(FLAGS.input_file, "--input_file")
    config_file, vocab_file = checkpoints.resolve_model_files(
        FLAGS.init_checkpoint, FLAGS.bert_config_file, FLAGS.vocab_file)
    config = BertConfig.from_json_file(config_file)
    validate_flags(config, config_file)
    layer_indexes = parse_layers(FLAGS.layers, config.num_hidden_layers)
    tokenization.validate_case_matches_checkpoint(FLAGS.do_lower_case, FLAGS.init_checkpoint)
    tokenizer = tokenization.FullTokenizer(vocab_file, do_lower_case=FLAGS.do_lower_case)
    checkpoints.check_vocab_fits_config(len(tokenizer.vocab), vocab_file, config, config_file)
    examples = feature_extraction.read_examples(FLAGS.input_file, "--input_file")
    file_checks.check_output_file(FLAGS.output_file, "--output_file", FLAGS.overwrite_output)

    model = BertModel(config)
    # The pooler plays no part in the output; checkpoints without one load too.
    checkpoints.load_checkpoint(model, FLAGS.init_checkpoint,
                                initialize_missing=("bert/pooler/",))
    lines = feature_extraction.feature_lines(model, tokenizer, examples, layer_indexes,
                                             FLAGS.max_seq_length, FLAGS.batch_size)
    io.write_atomically(FLAGS.output_file, lines)
    logging.info("Wrote features of %d examples to %s", len(examples), FLAGS.output_file)


def main() -> None:
    """The command (`bert-extract-features`, `python extract_features.py`)."""
    command.run_command(__name__, define_flags, run)
