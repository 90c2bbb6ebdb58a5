"""Checks of input files and output folders, UTF-8 reading, and the one-sentence form
of file-system errors."""

import errno
import os

import pytest
import tensorflow as tf

from bert_tf import file_checks
from bert_tf.errors import UserInputError

SAVE_TOO_LARGE = ("{{function_node __wrapped__SaveV2_dtypes_1_device_/job:localhost/"
                  "replica:0/task:0/device:CPU:0}} out/model.ckpt-9.data-00000-of-00001."
                  "tempstate1448; File too large [Op:SaveV2]")


@pytest.mark.parametrize("error, expected", [
    (tf.errors.OutOfRangeError(None, None, SAVE_TOO_LARGE),
     "out/model.ckpt-9.data-00000-of-00001.tempstate1448: File too large; the file system "
     "or the process's file-size limit (ulimit -f) allows no larger file; write elsewhere "
     "or raise the limit."),
    (tf.errors.ResourceExhaustedError(None, None, "/data/out.tfrecord; No space left on device"),
     "/data/out.tfrecord: No space left on device; free some space or write elsewhere."),
    (tf.errors.PermissionDeniedError(None, None, "/ro/eval_results.txt.tmp-7; Permission denied"),
     "/ro/eval_results.txt.tmp-7: Permission denied; choose a location you may write to, "
     "or fix its permissions."),
    (OSError(errno.EROFS, "Read-only file system", "/mnt/cd/vocab.txt"),
     "/mnt/cd/vocab.txt: Read-only file system; choose a location on a writable file system."),
    (PermissionError(errno.EACCES, "Permission denied", "/root/x"),
     "/root/x: Permission denied; choose a location you may write to, or fix its permissions."),
    (OSError(errno.ENOSPC, "No space left on device"),
     "No space left on device; free some space or write elsewhere."),
])
def test_file_system_errors_become_one_sentence_naming_the_path(error, expected):
    assert file_checks.describe_file_error(error) == expected


def test_real_gfile_error_is_understood(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(tf.errors.OpError) as error:
        with tf.io.gfile.GFile(str(tmp_path / "file" / "out.txt"), "w") as writer:
            writer.write("x")
    assert file_checks.describe_file_error(error.value) == (
        f"{tmp_path}/file/out.txt: Not a directory; a part of the path is a file, not a "
        "directory.")


@pytest.mark.parametrize("error", [
    ValueError("bad value"), KeyError("input_ids"), TypeError("not callable"),
    ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
    tf.errors.InvalidArgumentError(None, None, "indices[0,3] = 120 is not in [0, 99)"),
    tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape"),
    tf.errors.NotFoundError(None, None, "Op type not registered 'CaseFoldUTF8'"),
])
def test_other_errors_are_left_alone(error):
    """Programming errors, and TensorFlow errors that are not about a file, keep their
    traceback."""
    assert file_checks.describe_file_error(error) is None


def test_writable_directory_is_created_and_left_clean(tmp_path):
    folder = tmp_path / "new" / "folder"
    file_checks.check_writable_directory(str(folder), "--output_dir")
    assert folder.is_dir() and list(folder.iterdir()) == []


def test_writable_directory_can_leave_nothing_behind(tmp_path):
    folder = tmp_path / "new" / "folder"
    file_checks.check_writable_directory(str(folder), "--output_dir", keep_created=False)
    assert list(tmp_path.iterdir()) == []
    existing = tmp_path / "existing"
    existing.mkdir()
    file_checks.check_writable_directory(str(existing), "--output_dir", keep_created=False)
    assert existing.is_dir() and list(existing.iterdir()) == []


def _refusal(check, *arguments) -> str:
    """The message of the UserInputError with which `check(*arguments)` refuses."""
    with pytest.raises(UserInputError) as error:
        check(*arguments)
    return str(error.value)


def test_folder_under_a_file_is_refused(tmp_path):
    # Tests run as root, which writes through chmod; a parent that is a file cannot be
    # written by anyone.
    (tmp_path / "file").write_text("")
    message = _refusal(file_checks.check_writable_directory, str(tmp_path / "file" / "out"),
                       "--output_dir")
    assert message.startswith(f"--output_dir: cannot write to '{tmp_path}/file/out' (")
    assert message.endswith("choose a folder you can write to.")
    with pytest.raises(UserInputError, match="is a file, not a folder"):
        file_checks.check_writable_directory(str(tmp_path / "file"), "--output_dir")


def test_permission_denied_is_refused_before_work(tmp_path, monkeypatch):
    # Root writes through chmod, so the refusal of a read-only folder is simulated.
    def denied(path, mode="r"):
        raise tf.errors.PermissionDeniedError(None, None, f"{path}; Permission denied")

    monkeypatch.setattr(tf.io.gfile, "GFile", denied)
    assert _refusal(file_checks.check_writable_directory, str(tmp_path), "--output_dir") == (
        f"--output_dir: cannot write to '{tmp_path}' ({tmp_path}/.write-test-{os.getpid()}: "
        "Permission denied); choose a folder you can write to.")


def test_output_file_checks(tmp_path):
    with pytest.raises(UserInputError, match=f"--output_file '{tmp_path}' is a directory"):
        file_checks.check_output_file(str(tmp_path), "--output_file", overwrite=True)
    existing = tmp_path / "out.txt"
    existing.write_text("precious")
    with pytest.raises(UserInputError, match="already exists; choose another name or pass "
                                             "--overwrite_output"):
        file_checks.check_output_file(str(existing), "--output_file", overwrite=False)
    file_checks.check_output_file(str(existing), "--output_file", overwrite=True)
    assert existing.read_text() == "precious"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.txt"]


def test_input_file_checks(tmp_path):
    with pytest.raises(UserInputError, match=f"--vocab_file '{tmp_path}' is a directory"):
        file_checks.check_input_file(str(tmp_path), "--vocab_file")
    with pytest.raises(UserInputError, match="'nothing.txt' does not exist"):
        file_checks.check_input_file("nothing.txt", "--input_file")


@pytest.mark.parametrize("data, message", [
    ("hello\n".encode("utf-16"), "byte 0 (0xff) starts a UTF-16 byte-order mark"),
    ("hello\n".encode("utf-16-be"), "byte 0 (0x00) is a NUL byte"),
    ("hello\n".encode("utf-16-le"), "byte 1 (0x00) is a NUL byte"),
    ("café\n".encode("latin-1"), "byte 3 (0xe9) is not valid UTF-8"),
    (b"\xff\xd8\xff\xe0 JPEG", "byte 0 (0xff) is not valid UTF-8"),
    (b"text\n\x89PNG\r\n", "byte 5 (0x89) is not valid UTF-8"),
])
def test_text_that_is_not_utf8_is_refused_with_the_byte(tmp_path, data, message):
    path = tmp_path / "input.txt"
    path.write_bytes(data)
    assert _refusal(file_checks.check_utf8_head, str(path), "--input_file") == (
        f"--input_file '{path}' is not UTF-8 text: {message}; convert it to UTF-8 (e.g. "
        "iconv -f UTF-16 -t UTF-8) or leave out binary files.")


def test_head_may_end_inside_a_character_and_offsets_count_from_the_file(tmp_path):
    path = tmp_path / "input.txt"
    path.write_bytes("ab€".encode() + b"\xff")  # € is 3 bytes: 2 of them are in the head.
    file_checks.check_utf8_head(str(path), "--input_file", size=4)
    with pytest.raises(UserInputError, match=r"byte 5 \(0xff\)"):
        list(file_checks.read_utf8_lines(str(path), "--input_file"))
    lines = tmp_path / "lines.txt"
    # "first\n" is 6 bytes, "second é\n" 10, "third " 6: the cut-off é starts at 22.
    lines.write_bytes(b"first\nsecond \xc3\xa9\nthird \xc3\n")
    with pytest.raises(UserInputError, match=r"byte 22 \(0xc3\)"):
        list(file_checks.read_utf8_files([str(lines)], "--input_file"))
    lines.write_bytes(b"first\nsecond \xc3\xa9\n")
    assert list(file_checks.read_utf8_files([str(lines)], "--input_file")) == [
        "first", "second é"]
