"""Running one of the scripts as a command: `python build_vocab.py ...` from a checkout
or the installed `bert-build-vocab ...` alike.

A command module (`bert_tf/cli/<script>.py`) has `define_flags()`, `run(argv)` (the
work, once absl has parsed the flags) and `main()`, which calls `run_command`. So the
flags exist only once the command runs: importing the module registers none.
"""

import sys
from typing import Callable

from absl import flags

from bert_tf.cli import app


def run_command(module_name: str, define_flags: Callable[[], None],
                run: Callable[[list[str]], None], pass_unknown: bool = False,
                exit_when_done: bool = False) -> None:
    """Registers the command's flags, then runs `run` under absl (`app.run`: errors the
    user can fix as one line).

    As when a script defined its flags itself, `--help` lists them (they become key
    flags of the program absl runs) after the command module's docstring, which absl
    prints as the usage (it reads it from the `__main__` module).

    Args:
      module_name: the command module's `__name__`; its flags and docstring are used.
      define_flags: registers the command's flags.
      run: the command's work, called with the arguments absl leaves.
      pass_unknown: give `run` the arguments that are not the command's flags (a
        Beam pipeline's options) instead of refusing them.
      exit_when_done: end the process as soon as `run` returns (`app.exit_now`).
    """
    define_flags()
    for flag in flags.FLAGS.get_flags_for_module(module_name):
        flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
    main_module = sys.modules["__main__"]
    main_module.__doc__ = sys.modules[module_name].__doc__
    app.run(run, pass_unknown, exit_when_done)
