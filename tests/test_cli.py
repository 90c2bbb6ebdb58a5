"""The scripts' entry point: one line for errors the user can fix, tracebacks for bugs."""

import pytest
import tensorflow as tf

from bert_tf.cli import app as cli
from bert_tf.errors import TrainingError, UserInputError


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
