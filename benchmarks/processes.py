"""Running a command as a benchmark measures it: wall seconds and the peak memory of
its process tree; and counting the records it wrote."""

import os
import pathlib
import subprocess
import sys
import time

import psutil

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent


def run_measured(command: list[str]) -> tuple[float, int]:
    """Runs `command` in the repository; returns wall seconds and the peak RSS (bytes)
    of its process tree, sampled every 50 ms. Exits with its error if it fails."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    started = time.perf_counter()
    process = psutil.Popen(command, cwd=REPO_ROOT, env=environment,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while process.poll() is None:
        try:
            tree = [process, *process.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree))
        except psutil.NoSuchProcess:
            pass
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        sys.exit(f"{command[:3]} failed:\n{process.stderr.read().decode()[-3000:]}")
    return seconds, peak


def count_records(path: str) -> int:
    """The records of a TFRecord file."""
    import tensorflow as tf
    return sum(1 for _ in tf.data.TFRecordDataset(path))
