"""What every top-level script shares: running `main` with clean error reporting."""

import sys
from typing import Callable

from absl import app, flags

from bert_tf import console
from bert_tf.errors import InvalidArgumentError, TrainingError, UserInputError
from bert_tf.file_checks import describe_file_error


def guard(main: Callable[[list[str]], None]) -> Callable[[list[str]], None]:
    """`main`, exiting with one line `error: ...` instead of a traceback on user-input
    and training errors, and on file-system errors (a missing file, a folder that
    cannot be written, a full disk or a file-size limit met during the work), which
    name the path. Any other error keeps its traceback: it is a bug to report."""

    def guarded_main(argv: list[str]) -> None:
        try:
            main(argv)
        except InvalidArgumentError as error:  # Named as the flag of the same name.
            sys.exit(f"error: {error.as_flag()}")
        except (UserInputError, TrainingError) as error:
            sys.exit(f"error: {error}")
        except Exception as error:  # Re-raised below unless it is about a file.
            message = describe_file_error(error)
            if message is None:
                raise
            sys.exit(f"error: {message}")

    return guarded_main


def run(main: Callable[[list[str]], None], pass_unknown: bool = False) -> None:
    """`absl.app.run(main)` with `guard`'s error reporting, and TensorFlow's own INFO
    lines kept off the console (`bert_tf.console`). With `pass_unknown`, arguments
    that are not flags of the program reach `main` in its `argv` instead of failing
    the parse (a Beam pipeline's options, `bert_tf.cli.beam_flags`)."""
    console.hide_tensorflow_info()
    app.run(guard(main), flags_parser=_parse_known_flags if pass_unknown
            else app.parse_flags_with_usage)


def _parse_known_flags(argv: list[str]) -> list[str]:
    """Parses the program's flags in `argv`, as absl does; returns the program name and
    the arguments that are not its flags."""
    try:
        return flags.FLAGS(argv, known_only=True)
    except flags.Error as error:
        sys.stderr.write(f"FATAL Flags parsing error: {error}\n"
                         "Pass --helpshort or --helpfull to see help on flags.\n")
        sys.exit(1)
