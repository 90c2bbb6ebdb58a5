r"""Predicts every row of text files with an exported classifier or NER SavedModel, as an
Apache Beam pipeline (Beam's RunInference): one JSON line per input row, with its key.

    python bulk_predict.py --export_dir=export/ --input_file=texts/*.tsv \
      --text_a_column=sentence --output_file=predictions/part

writes `predictions/part-00000-of-0000N.jsonl` ... with lines such as
`{"key": "texts/a.tsv:2", "label": "yes", "probabilities": [0.1, 0.9]}` (see
`bert_tf/beam/prediction.py` for every output and how files are read).

Inputs: TSV (as run_classifier.py reads it), CSV or JSON lines, by extension or
--input_format; local or gs://. Columns are header names (JSON fields) or 0-based
indexes; a pair model needs --text_b_column, an NER model takes --text_a_column alone.
The key of a row is its --key_column, or `<file>:<line>`.

Runner: without --runner, Beam's FnApiRunner in this process. Any runner takes its
options after it, e.g. `--runner=FnApiRunner --direct_num_workers=2
--direct_running_mode=multi_processing`, or `--runner=DataflowRunner --project=P
--region=R --temp_location=gs://B/tmp --extra_package=dist/bert_tf-0.1.0-py3-none-any.whl`
(the workers need the package: a wheel from `python -m pip wheel --no-deps . -w dist`,
or a worker image with `bert_tf[dataflow]` installed, `--sdk_container_image`).
"""

from absl import flags, logging

from bert_tf.cli import beam_flags, command

FLAGS = flags.FLAGS

DEFAULT_RUNNER = "FnApiRunner"


def define_flags() -> None:
    """Registers the command's flags."""
    flags.DEFINE_string("export_dir", None, "The exported model: the --export_dir of "
                        "run_classifier.py or run_ner.py (its newest version is used), or "
                        "one of its version folders. Local or gs://.")
    flags.DEFINE_string("input_file", None, "Input file(s): comma-separated, globs "
                        "allowed, local or gs://.")
    flags.DEFINE_string("output_file", None, "Output path prefix: the files are "
                        "<prefix>-SSSSS-of-NNNNN.jsonl.")
    flags.DEFINE_enum("input_format", "auto", ["auto", "tsv", "csv", "jsonl"],
                      "Format of every input file; auto: by each file's extension (.tsv, "
                      ".csv, .jsonl, .ndjson).")
    flags.DEFINE_string("text_a_column", None, "The column (header name, JSON field or "
                        "0-based index) of the text (the first text of a pair; the text "
                        "to tag for NER).")
    flags.DEFINE_string("text_b_column", None, "The column of the second text, for a model "
                        "of a pair task.")
    flags.DEFINE_string("key_column", None, "The column of each row's key; default: "
                        "<file>:<line>.")
    flags.DEFINE_bool("has_header", None, "Whether TSV/CSV files start with a header; "
                      "default: when a column is given by name.")
    flags.DEFINE_integer("min_batch_size", 1, "Smallest batch Beam gives the model.")
    flags.DEFINE_integer("max_batch_size", 64, "Largest batch Beam gives the model.")
    flags.DEFINE_integer("num_shards", 0, "Number of output files; 0 lets the runner "
                         "choose.")
    flags.DEFINE_bool("overwrite_output", False, "Replace the output files of an earlier "
                      "run with the same --output_file.")
    beam_flags.define_runner_flag(__name__)
    flags.mark_flags_as_required(["export_dir", "input_file", "output_file",
                                  "text_a_column"])


def run(argv: list[str]) -> None:
    """Checks the flags, the model and the first input row, then runs the pipeline to
    the end."""
    # Loads Beam (when installed): only once the command runs, not for --help.
    from bert_tf.beam import prediction, text_rows

    arguments = beam_flags.beam_arguments(argv) or [f"--runner={DEFAULT_RUNNER}"]

    spec = text_rows.InputSpec(
        text_columns=tuple(column for column in (FLAGS.text_a_column, FLAGS.text_b_column)
                           if column is not None),
        key_column=FLAGS.key_column,
        file_format=None if FLAGS.input_format == "auto" else FLAGS.input_format,
        has_header=FLAGS.has_header)
    written = prediction.predict_files(
        FLAGS.export_dir, FLAGS.input_file, FLAGS.output_file, spec, arguments,
        min_batch_size=FLAGS.min_batch_size, max_batch_size=FLAGS.max_batch_size,
        num_shards=FLAGS.num_shards, overwrite=FLAGS.overwrite_output)
    logging.info("Wrote %d predictions to %d file(s): %s", written.rows, len(written.files),
                 ", ".join(written.files))


def main() -> None:
    """The command (`python bulk_predict.py`)."""
    command.run_command(__name__, define_flags, run, pass_unknown=True)
