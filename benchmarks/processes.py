"""Running a command as a benchmark measures it: wall seconds and the peak memory of
its process tree; counting the records it wrote; the flags both pre-training data
scripts (ours and Google's) get in the benchmarks."""

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


def pretraining_data_flags(vocab_file: str, dupe_factor: int) -> list[str]:
    """Google's defaults for create_pretraining_data.py (both implementations take
    them), with an uncased `vocab_file` and `dupe_factor`."""
    return [f"--vocab_file={vocab_file}", "--do_lower_case=True", "--max_seq_length=128",
            "--max_predictions_per_seq=20", "--masked_lm_prob=0.15", "--random_seed=12345",
            f"--dupe_factor={dupe_factor}"]
