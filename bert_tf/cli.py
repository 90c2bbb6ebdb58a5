"""What every top-level script shares: running `main` with clean error reporting."""

import sys
from typing import Callable

from absl import app

from bert_tf.errors import TrainingError, UserInputError


def run(main: Callable[[list[str]], None]) -> None:
    """`absl.app.run(main)`, printing user-input and training errors as one line
    instead of a trace."""

    def guarded_main(argv: list[str]) -> None:
        try:
            main(argv)
        except (UserInputError, TrainingError, FileNotFoundError) as error:
            sys.exit(f"error: {error}")

    app.run(guarded_main)
