"""The scripts' entry point: one line for errors the user can fix, tracebacks for bugs;
a command that ends at once still leaves its output and logs complete."""

import os
import subprocess
import sys
import textwrap

import pytest
import tensorflow as tf

from bert_tf.cli import app as cli
from bert_tf.errors import TrainingError, UserInputError
from tests.conftest import REPO_ROOT


def _exit_message(error: Exception) -> str:
    def main(argv):
        raise error

    with pytest.raises(SystemExit) as exit_info:
        cli.guard(main)([])
    return exit_info.value.code


def test_user_and_training_errors_are_one_line():
    assert _exit_message(UserInputError("--layers='x' must be integers.")) == (
        "error: --layers='x' must be integers.")
    assert _exit_message(TrainingError("The loss became NaN at step 3.")) == (
        "error: The loss became NaN at step 3.")


def test_a_save_that_meets_the_file_size_limit_is_one_line_naming_the_file():
    error = tf.errors.OutOfRangeError(None, None, (
        "{{function_node __wrapped__SaveV2_dtypes_1_device_/job:localhost/replica:0/task:0/"
        "device:CPU:0}} out/model.ckpt-5_temp/part-00000-of-00001.data-00000-of-00001."
        "tempstate99; File too large [Op:SaveV2]"))
    assert _exit_message(error) == (
        "error: out/model.ckpt-5_temp/part-00000-of-00001.data-00000-of-00001.tempstate99: "
        "File too large; the file system or the process's file-size limit (ulimit -f) "
        "allows no larger file; write elsewhere or raise the limit.")


def test_a_full_disk_is_one_line_naming_the_file():
    error = OSError(28, "No space left on device", "records/train.tfrecord")
    assert _exit_message(error) == ("error: records/train.tfrecord: No space left on "
                                    "device; free some space or write elsewhere.")


@pytest.mark.parametrize("error", [
    KeyError("input_ids"), ValueError("shapes (3,) and (4,) differ"),
    tf.errors.InvalidArgumentError(None, None, "indices[0,3] = 120 is not in [0, 99)"),
])
def test_bugs_keep_their_traceback(error):
    def main(argv):
        raise error

    with pytest.raises(type(error)) as raised:
        cli.guard(main)([])
    assert raised.value is error


def test_ending_at_once_flushes_output_and_logs_and_skips_clean_up(tmp_path):
    # Output to a pipe is block-buffered (unless PYTHONUNBUFFERED is set, so it is
    # not): it arrives only if it is flushed; an atexit handler stands for the
    # interpreter's clean-up, which is skipped.
    program = tmp_path / "command.py"
    program.write_text(textwrap.dedent("""
        import atexit, sys
        from absl import logging
        from bert_tf.cli import app

        def main(argv):
            atexit.register(lambda: print("clean-up ran"))
            logging.info("Done: 3 instances")
            sys.stdout.write("result without a newline")

        app.run(main, exit_when_done=True)
    """))
    result = subprocess.run([sys.executable, str(program)], capture_output=True, text=True,
                            env={**{name: value for name, value in os.environ.items()
                                    if name != "PYTHONUNBUFFERED"},
                                 "PYTHONPATH": str(REPO_ROOT)})
    assert result.returncode == 0, result.stderr
    assert result.stdout == "result without a newline"
    assert result.stderr.strip().splitlines()[-1].endswith("Done: 3 instances")


def test_tensorflow_text_only_import_keeps_keras_optional_packages_out_but_importable(
        tmp_path):
    # A fresh interpreter: the in-graph tokenizer and Keras work after the import, the
    # optional packages were not loaded by it, and they import and work afterwards.
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff",
                                "##able", "cafe"]) + "\n")
    program = textwrap.dedent(f"""
        import sys
        from bert_tf.cli import lean_import

        lean_import.import_tensorflow_text_only()
        loaded = sorted(name for name in lean_import.OPTIONAL_PACKAGES if name in sys.modules)
        print("loaded by the import:", loaded)
        import tensorflow as tf
        from bert_tf.text.graph_tokenization import InGraphTokenizer
        tokens = InGraphTokenizer({str(vocab)!r}, True).tokenize(tf.constant(["Unaffable CAFÉ"]))
        print("tokens:", tokens.flat_values.numpy().tolist())
        import keras
        print("dense:", keras.layers.Dense(3)(tf.ones([1, 2])).shape.as_list())
        import scipy.special, sklearn.metrics
        print("f1:", sklearn.metrics.f1_score([0, 1, 1], [0, 1, 0]), scipy.special.expit(0.0))
    """)
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "loaded by the import: []", "tokens: [4, 5, 6, 7]", "dense: [1, 3]",
        "f1: 0.6666666666666666 0.5"]


def test_tensorflow_text_only_import_leaves_a_process_with_tensorflow_as_it_is():
    from bert_tf.cli import lean_import

    before = dict(sys.modules)
    lean_import.import_tensorflow_text_only()
    assert dict(sys.modules) == before
