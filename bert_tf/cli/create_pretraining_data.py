"""Creates masked-LM / next-sentence pre-training TFRecords, as Google's script does.

Input: text files with one sentence per line and a blank line between documents.
Output: TFRecord files of `tf.train.Example`s with Google's features (see
`bert_tf/tasks/pretraining/records.py`), each with a `.metadata.json` file beside it
that `run_pretraining.py` checks.

    python create_pretraining_data.py \
      --input_file=corpus/*.txt --output_file=records/train.tfrecord \
      --vocab_file=vocab.txt --do_lower_case=True --max_seq_length=128 \
      --max_predictions_per_seq=20 --masked_lm_prob=0.15 --random_seed=12345 \
      --dupe_factor=10

(or `bert-create-pretraining-data` with the same flags, once the package is installed).

With `--runner`, the same algorithm runs as an Apache Beam pipeline
(`bert_tf/beam/pretraining.py`), Beam's options following on the command line:

    python create_pretraining_data.py --input_file=gs://B/corpus/*.txt \
      --output_file=gs://B/records/train-00.tfrecord,... --vocab_file=gs://B/vocab.txt \
      --runner=DataflowRunner --project=P --region=us-central1 \
      --temp_location=gs://B/tmp --extra_package=dist/bert_tf-0.1.0-py3-none-any.whl
"""

import os
import sys
import time

from absl import flags, logging

# Only light modules at the top: worker processes import the program's main module
# again (and so this one) and must not load TensorFlow; this process loads it inside
# `run`, after starting them.
from bert_tf import file_checks
from bert_tf.cli import beam_flags, command, lean_import
from bert_tf.cli import flags as flags_lib
from bert_tf.errors import UserInputError
from bert_tf.tasks.pretraining import pipeline as pretraining_pipeline
from bert_tf.tasks.pretraining.instances import MaskingConfig
from bert_tf.text import packing

FLAGS = flags.FLAGS

# Google's largest BERT position table: the bound of --max_seq_length when no
# --bert_config_file tells the model's.
DEFAULT_MAX_POSITIONS = 512

# How the pipeline's messages name its arguments: as this command's flags.
_FLAG_NAMES = {"input_files": "--input_file", "vocab_file": "--vocab_file",
               "do_lower_case": "--do_lower_case"}


def define_flags() -> None:
    """Registers the command's flags (Google's names and defaults, plus this project's
    --whole_word_mask_decision, --num_workers, --max_shard_mb, --bert_config_file and
    --overwrite_output)."""
    flags.DEFINE_string("input_file", None, "Input text file(s): comma-separated, globs "
                        "allowed, local or gs://.")
    flags.DEFINE_string("output_file", None, "Output TFRecord file(s), comma-separated; "
                        "instances are dealt round-robin over them.")
    flags_lib.define_model_flags(
        __name__, bert_config_file="Optional: the model's bert_config.json, to check "
        "--max_seq_length and the vocabulary against it.",
        vocab_file="The vocabulary file the BERT model was trained on.",
        max_seq_length="Maximum sequence length.")
    flags.DEFINE_bool("do_whole_word_mask", False, "Mask whole words (a piece and its ## "
                      "continuations) instead of single WordPieces.")
    flags.DEFINE_enum("whole_word_mask_decision", "word", ["word", "piece"],
                      "With --do_whole_word_mask: draw the 80/10/10 [MASK]/random/keep "
                      "choice once per word ('word'), or per piece as Google's script does "
                      "('piece', its issue #910).")
    flags.DEFINE_integer("max_predictions_per_seq", 20, "Maximum number of masked LM "
                         "predictions per sequence.")
    flags.DEFINE_integer("random_seed", 12345, "Random seed for data generation.")
    flags.DEFINE_integer("dupe_factor", 10, "Number of times to duplicate the input data "
                         "(with different masks).")
    flags.DEFINE_float("masked_lm_prob", 0.15, "Masked LM probability.")
    flags.DEFINE_float("short_seq_prob", 0.1, "Probability of creating sequences which are "
                       "shorter than the maximum length.")
    flags.DEFINE_integer("num_workers", os.cpu_count() or 1, "Worker processes (default: "
                         "all cores).")
    flags.DEFINE_float("max_shard_mb", 4.0, "Documents are processed in shards (with "
                       "--runner, buckets) of about this many MB of text; memory use "
                       "grows with it.")
    flags.DEFINE_bool("overwrite_output", False, "Replace output files that already exist.")
    beam_flags.define_runner_flag(__name__)
    flags.mark_flags_as_required(["input_file", "output_file", "vocab_file"])


def validate_flags(output_files: list[str]) -> dict:
    """Checks every flag before any work starts; returns the vocabulary."""
    from bert_tf.configs import BertConfig
    from bert_tf.text import tokenization

    config = None
    if FLAGS.bert_config_file:
        file_checks.check_input_file(FLAGS.bert_config_file, "--bert_config_file")
        file_checks.check_utf8_head(FLAGS.bert_config_file, "--bert_config_file")
        config = BertConfig.from_json_file(FLAGS.bert_config_file)
    # Pre-training instances need [CLS], two [SEP] and a token of each sentence.
    packing.check_max_seq_length(
        FLAGS.max_seq_length,
        config.max_position_embeddings if config else DEFAULT_MAX_POSITIONS,
        smallest=5, source=FLAGS.bert_config_file)
    if not 0.0 < FLAGS.masked_lm_prob < 1.0:
        raise UserInputError(f"--masked_lm_prob={FLAGS.masked_lm_prob} must be in (0, 1).")
    if not 0.0 <= FLAGS.short_seq_prob <= 1.0:
        raise UserInputError(f"--short_seq_prob={FLAGS.short_seq_prob} must be in [0, 1].")
    for name in ("max_predictions_per_seq", "dupe_factor"):
        if FLAGS[name].value < 1:
            raise UserInputError(f"--{name}={FLAGS[name].value} must be at least 1.")
    vocab = tokenization.load_vocab(FLAGS.vocab_file)
    missing = [token for token in ("[CLS]", "[SEP]", "[MASK]") if token not in vocab]
    if missing:
        raise UserInputError(f"--vocab_file {FLAGS.vocab_file!r} lacks {', '.join(missing)}, "
                             "which pre-training needs; use a BERT vocabulary.")
    if config:
        from bert_tf import checkpoints  # Loads Keras: only when it is needed.
        checkpoints.check_vocab_fits_config(len(vocab), FLAGS.vocab_file, config,
                                            FLAGS.bert_config_file)
    for path in output_files:
        file_checks.check_output_file(path, "--output_file", FLAGS.overwrite_output)
    return vocab


def run(argv: list[str]) -> None:
    """Creates the records; see the module docstring."""
    started = time.time()
    pipeline_arguments = beam_flags.beam_arguments(argv)
    if FLAGS.num_workers < 1:
        raise UserInputError(f"--num_workers={FLAGS.num_workers} must be at least 1.")
    if FLAGS.max_shard_mb <= 0:
        raise UserInputError(f"--max_shard_mb={FLAGS.max_shard_mb} must be positive.")
    # This process works on shards too, so it needs num_workers - 1 helpers (none when
    # Beam's workers do the work).
    pool = (None if pipeline_arguments
            else pretraining_pipeline.start_workers(FLAGS.num_workers - 1))
    try:
        stats = create_records(pool, pipeline_arguments)
    except BaseException:
        if pool is not None:
            pool.terminate()
        raise
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    seconds = time.time() - started
    logging.info(
        "Done: %d documents, %d sentences, %d instances (%.1f%% random next), %d tokens, "
        "masked fraction %.4f of eligible tokens, %.1f s, %.0f instances/s",
        stats.documents, stats.sentences, stats.instances,
        100.0 * stats.random_next / stats.instances, stats.tokens,
        stats.masked / max(1, stats.eligible), seconds, stats.instances / seconds)


def create_records(pool, pipeline_arguments: list[str] | None,
                   ) -> pretraining_pipeline.ShardStats:
    """Validates the flags, then writes the records and their metadata, on the local
    path (`pool`'s workers) or, given Beam's `pipeline_arguments`, as a Beam pipeline.
    Every file is written under a temporary name and renamed once complete; on any
    failure the temporary files are removed and no output appears."""
    lean_import.import_tensorflow_text_only()
    import tensorflow as tf

    from bert_tf import io
    from bert_tf.tasks.pretraining import records as pretraining_records

    output_files = [part.strip() for part in FLAGS.output_file.split(",") if part.strip()]
    input_files = file_checks.expand_text_files(FLAGS.input_file, "--input_file")
    vocab = validate_flags(output_files)
    masking = MaskingConfig(
        max_seq_length=FLAGS.max_seq_length,
        max_predictions_per_seq=FLAGS.max_predictions_per_seq,
        masked_lm_prob=FLAGS.masked_lm_prob, short_seq_prob=FLAGS.short_seq_prob,
        do_whole_word_mask=FLAGS.do_whole_word_mask,
        whole_word_decision_per_word=FLAGS.whole_word_mask_decision == "word",
        vocab_size=max(vocab.values()) + 1, cls_id=vocab["[CLS]"], sep_id=vocab["[SEP]"],
        mask_id=vocab["[MASK]"])
    config = pretraining_pipeline.PipelineConfig(
        vocab_file=FLAGS.vocab_file, do_lower_case=FLAGS.do_lower_case, masking=masking,
        dupe_factor=FLAGS.dupe_factor, random_seed=FLAGS.random_seed)
    if pipeline_arguments:
        logging.info("Reading %d input files in a Beam pipeline (%s)", len(input_files),
                     " ".join(pipeline_arguments))
    else:
        logging.info("Reading %d input files with %d workers", len(input_files),
                     FLAGS.num_workers)

    temp_dir = io.temporary_path(
        os.path.join(os.path.dirname(output_files[0]) or ".", ".create_pretraining_data"))
    temporary_outputs = [io.temporary_path(path) for path in output_files]
    tf.io.gfile.makedirs(temp_dir)
    max_shard_bytes = int(FLAGS.max_shard_mb * 1024 * 1024)
    try:
        if pipeline_arguments:
            from bert_tf.beam import pretraining as beam_pretraining
            written = beam_pretraining.create_records(
                input_files, temporary_outputs, config, temp_dir, max_shard_bytes,
                pipeline_arguments, argument=_FLAG_NAMES["input_files"])
            counts, stats = written.counts, written.stats
            logging.info("Beam counters: %s", ", ".join(
                f"{name}={value}" for name, value in sorted(written.metrics.items())))
            for message in pretraining_pipeline.unknown_token_warnings(
                    written.counts_by_file,
                    arguments=(_FLAG_NAMES["vocab_file"], _FLAG_NAMES["do_lower_case"])):
                logging.warning(message)
        else:
            shard_files, stats = pretraining_pipeline.create_shard_files(
                input_files, config, temp_dir, pool, FLAGS.num_workers - 1,
                max_shard_bytes, log=logging.info, warn=logging.warning,
                names=_FLAG_NAMES)
        if stats.instances == 0:
            raise UserInputError(f"--input_file {FLAGS.input_file!r} gave no instances: "
                                 "it holds no text the vocabulary can tokenize.")
        if not pipeline_arguments:
            counts = pretraining_pipeline.interleave_into_outputs(shard_files,
                                                                  temporary_outputs)
        vocab_digest = pretraining_records.vocab_hash(FLAGS.vocab_file)
        for path, temporary, count in zip(output_files, temporary_outputs, counts):
            tf.io.gfile.rename(temporary, path, overwrite=True)
            pretraining_records.write_metadata(path, {
                "max_seq_length": FLAGS.max_seq_length,
                "max_predictions_per_seq": FLAGS.max_predictions_per_seq,
                "do_lower_case": FLAGS.do_lower_case,
                "do_whole_word_mask": FLAGS.do_whole_word_mask,
                "whole_word_mask_decision": FLAGS.whole_word_mask_decision,
                "masked_lm_prob": FLAGS.masked_lm_prob,
                "vocab_size": masking.vocab_size, "vocab_sha256": vocab_digest,
                "instances_in_file": count, "instances_total": stats.instances,
                "documents": stats.documents, "sentences": stats.sentences,
                "command_line": " ".join(sys.argv),
            })
    finally:
        for temporary in temporary_outputs:
            if tf.io.gfile.exists(temporary):
                tf.io.gfile.remove(temporary)
        if tf.io.gfile.exists(temp_dir):
            tf.io.gfile.rmtree(temp_dir)
    return stats


def main() -> None:
    """The command (`bert-create-pretraining-data`, `python create_pretraining_data.py`)."""
    # Every output is renamed and the workers joined when `run` returns; the
    # interpreter's clean-up after TensorFlow would add over a second to a run.
    command.run_command(__name__, define_flags, run, pass_unknown=True,
                        exit_when_done=True)
