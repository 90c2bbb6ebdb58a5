"""What every top-level script shares: running `main` with clean error reporting."""

import os
import sys
from typing import Callable

from absl import app, flags, logging

from bert_tf import console
from bert_tf.errors import InvalidArgumentError, TrainingError, UserInputError
from bert_tf.file_checks import describe_file_error


def guard(main: Callable[[list[str]], None], exit_when_done: bool = False,
          ) -> Callable[[list[str]], None]:
    """`main`, exiting with one line `error: ...` instead of a traceback on user-input
    and training errors, and on file-system errors (a missing file, a folder that
    cannot be written, a full disk or a file-size limit met during the work), which
    name the path. Any other error keeps its traceback: it is a bug to report.

    With `exit_when_done`, a `main` that returns ends the process at once
    (`exit_now`)."""

    def guarded_main(argv: list[str]) -> None:
        try:
            main(argv)
            if exit_when_done:
                exit_now()
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


def exit_now() -> None:
    """Ends the process with status 0 once the logs and the console are flushed,
    skipping the interpreter's clean-up: with TensorFlow loaded that takes over a
    second (its runtime's threads and libraries are torn down one by one). Only for a
    command whose outputs are all closed and renamed by then."""
    logging.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def run(main: Callable[[list[str]], None], pass_unknown: bool = False,
        exit_when_done: bool = False) -> None:
    """`absl.app.run(main)` with `guard`'s error reporting, and TensorFlow's own INFO
    lines kept off the console (`bert_tf.console`). With `pass_unknown`, arguments
    that are not flags of the program reach `main` in its `argv` instead of failing
    the parse (a Beam pipeline's options, `bert_tf.cli.beam_flags`); with
    `exit_when_done`, the process ends as soon as `main` returns (`exit_now`)."""
    console.hide_tensorflow_info()
    app.run(guard(main, exit_when_done), flags_parser=_parse_known_flags if pass_unknown
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
