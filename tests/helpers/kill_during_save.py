"""Runs a script and kills its process with SIGKILL (as `kill -9`) in the middle of
saving the checkpoint of step STEP: after the `.data` file got its final name, before
the `.index` file did. What is left is what a crash or a power cut there leaves.

Usage: python tests/helpers/kill_during_save.py STEP SCRIPT.py --flag=value ...
(SCRIPT may itself be a helper, e.g. run_with_logical_cpus.py.)
"""

import os
import runpy
import signal
import sys

import tensorflow as tf

target = f"model.ckpt-{int(sys.argv[1])}.index"
rename = tf.io.gfile.rename


def rename_or_die(source: str, destination: str, overwrite: bool = False) -> None:
    """`tf.io.gfile.rename`, except that the process dies instead of giving the
    checkpoint of STEP its index."""
    if os.path.basename(destination) == target:
        os.kill(os.getpid(), signal.SIGKILL)
    rename(source, destination, overwrite=overwrite)


tf.io.gfile.rename = rename_or_die
sys.argv = sys.argv[2:]
# As `python SCRIPT.py` does: the script's folder first on the path (for its siblings).
sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[0])))
runpy.run_path(sys.argv[0], run_name="__main__")
