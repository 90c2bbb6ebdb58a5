"""Files written atomically: under a temporary name unique to the writer, then
renamed, so a killed run leaves no half-written file and a failed one no temporary
file; and the result files Google's scripts write in `--output_dir`."""

import json
import os
import uuid
from typing import Any, Callable, Iterable, Sequence

import tensorflow as tf

EVAL_RESULTS = "eval_results.txt"
TEST_RESULTS = "test_results.tsv"


def write_atomically(path: str, lines: Iterable[str]) -> str:
    """Writes `lines` (each ending in a newline) to `path` via a temporary file, which
    is removed if writing fails (a full disk, or an error while `lines` are made): an
    existing `path` then stays as it was."""
    temporary = temporary_path(path)
    try:
        with tf.io.gfile.GFile(temporary, "w") as writer:
            for line in lines:
                writer.write(line)
        tf.io.gfile.rename(temporary, path, overwrite=True)
    except BaseException:
        if tf.io.gfile.exists(temporary):
            tf.io.gfile.remove(temporary)
        raise
    return path


def temporary_path(path: str) -> str:
    """A name beside `path` that no other writer (process or machine) picks:
    `path.tmp-<random hex>`. For writers that must name their file themselves."""
    return f"{path}.tmp-{uuid.uuid4().hex}"


def write_json_atomically(path: str, value: Any, indent: int | None = 1) -> str:
    """Writes `value` as JSON (ending in a newline) to `path`, atomically."""
    return write_atomically(path, [json.dumps(value, indent=indent) + "\n"])


def read_json(path: str, parse: Callable[[Any], Any],
              not_readable: Callable[[Exception], Exception]) -> Any:
    """`parse(value)` of the JSON `value` in the file `path` (one of those this project
    writes with `write_json_atomically`), or None if there is no such file.

    Raises:
      The exception `not_readable(error)` makes, from the `error` of a file that is not
      JSON or of `parse` (ValueError, KeyError, TypeError or AttributeError: a value
      of another shape than `parse` reads).
    """
    if not tf.io.gfile.exists(path):
        return None
    try:
        with tf.io.gfile.GFile(path) as reader:
            return parse(json.load(reader))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise not_readable(error) from error


def write_eval_results(output_dir: str, results: dict) -> str:
    """`eval_results.txt`: one `key = value` line per result, keys sorted, as Google's."""
    return write_atomically(os.path.join(output_dir, EVAL_RESULTS),
                            (f"{key} = {results[key]}\n" for key in sorted(results)))


def write_test_results(output_dir: str, rows: Iterable[Sequence[float]],
                       name: str = TEST_RESULTS) -> str:
    """`test_results.tsv`: one tab-separated line of values (class probabilities) per
    example, in input order, as Google's `run_classifier.py --do_predict`."""
    return write_atomically(os.path.join(output_dir, name),
                            ("\t".join(str(float(value)) for value in row) + "\n"
                             for row in rows))
