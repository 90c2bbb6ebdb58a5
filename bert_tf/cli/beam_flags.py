"""The `--runner` flag of the scripts that also run as an Apache Beam pipeline; Beam's
own options follow it on the command line, as Beam's examples take them:

    python create_pretraining_data.py --input_file=... --output_file=... \
      --runner=DataflowRunner --project=P --region=us-central1 \
      --temp_location=gs://B/tmp --extra_package=dist/bert_tf-0.1.0-py3-none-any.whl
"""

from absl import flags

from bert_tf.errors import UserInputError

FLAGS = flags.FLAGS


def define_runner_flag(module_name: str) -> None:
    """Registers `--runner` for the command module `module_name`."""
    flags.DEFINE_string(
        "runner", None, "Run as an Apache Beam pipeline on this runner (FnApiRunner, "
        "DataflowRunner, FlinkRunner, SparkRunner, ...); Beam's options for it follow on "
        "the command line. Without it, the local path runs.", module_name=module_name)


def beam_arguments(argv: list[str]) -> list[str] | None:
    """The arguments for Beam (`--runner=...` and what absl did not know), or None
    without --runner.

    Raises:
      UserInputError: for arguments absl does not know when there is no --runner.
    """
    unknown = argv[1:]
    if FLAGS.runner is None:
        if unknown:
            raise UserInputError(f"Unknown arguments {' '.join(unknown)}: flags this "
                                 "command does not take (Beam's options need --runner).")
        return None
    return [f"--runner={FLAGS.runner}", *unknown]
