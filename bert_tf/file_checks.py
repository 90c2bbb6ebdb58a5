"""Checks of the files and folders a script is given, made before any work starts, and
reading of text files as UTF-8 with errors that name the file and the byte.

Every check raises `UserInputError` with one sentence naming the path and the
`argument` it was given as, worded by the caller: a library function names its own
argument (`input_file`), a script its flag (`--input_file`).
`describe_file_error` turns the file-system errors of Python and of TensorFlow's
`gfile` (`"<path>; Permission denied"`) into such a sentence; `bert_tf.cli.app` uses it
for errors that only show up during the work (a disk that fills up, a file-size limit).

TensorFlow is imported inside the functions: `create_pretraining_data.py`'s worker
processes import this module and must not load it.
"""

import codecs
import errno
import os
import re
import sys
from typing import Callable, Iterable, Iterator

from bert_tf.errors import UserInputError

# How much of an input file `check_utf8_head` reads before the work starts; the rest is
# checked as it is read.
HEAD_BYTES = 1 << 16

# The file-system errors worth one sentence instead of a traceback, by the text the C
# library gives them (`strerror`, which TensorFlow's messages carry too), with what to do.
_FILE_ERRORS = {
    errno.ENOENT: "check the path",
    errno.EACCES: "choose a location you may write to, or fix its permissions",
    errno.EPERM: "choose a location you may write to, or fix its permissions",
    errno.EROFS: "choose a location on a writable file system",
    errno.ENOSPC: "free some space or write elsewhere",
    errno.EDQUOT: "free some space or write elsewhere",
    errno.EFBIG: ("the file system or the process's file-size limit (ulimit -f) allows no "
                  "larger file; write elsewhere or raise the limit"),
    errno.EISDIR: "give a file, not a directory",
    errno.ENOTDIR: "a part of the path is a file, not a directory",
}
_STRERROR_HINTS = {os.strerror(code): hint for code, hint in _FILE_ERRORS.items()}
# TensorFlow's file errors read "<path>; <strerror>", sometimes after a
# "{{function_node ...}}" prefix and before an " [Op:SaveV2]" suffix.
_TF_FILE_ERROR = re.compile(r"^(?:\{\{[^}]*\}\}\s*)?(?P<path>.+?); (?P<reason>"
                            + "|".join(map(re.escape, _STRERROR_HINTS)) + r")\b")


def describe_file_error(error: BaseException) -> str | None:
    """One sentence for a file-system error (path, what went wrong, what to do), or None
    for any other error, which must keep its traceback.

    Understood: `OSError`s with one of the errnos above (and `FileNotFoundError`s raised
    with a message of their own), and TensorFlow `OpError`s whose message is a `gfile`
    or checkpoint-writing failure, such as `"out/x.tmp; File too large [Op:SaveV2]"`.
    """
    if isinstance(error, FileNotFoundError) and error.errno is None:
        return str(error)
    found = _file_error(error)
    if found is None:
        return None
    where, reason = found
    return f"{where + ': ' if where else ''}{reason}; {_STRERROR_HINTS[reason]}."


def _file_error(error: BaseException) -> tuple[str | None, str] | None:
    """(path or None, strerror) of a file-system error; None for any other error."""
    if isinstance(error, OSError):
        if error.errno not in _FILE_ERRORS:
            return None
        return error.filename, os.strerror(error.errno)
    tf = sys.modules.get("tensorflow")  # Not loaded: no TensorFlow error to look at.
    if tf is None or not isinstance(error, tf.errors.OpError):
        return None
    match = _TF_FILE_ERROR.match(error.message or "")
    return None if match is None else (match.group("path"), match.group("reason"))


def check_input_file(path: str, argument: str) -> None:
    """Raises `UserInputError` unless `path` is an existing file (not a directory)."""
    import tensorflow as tf

    if not tf.io.gfile.exists(path):
        raise UserInputError(f"{argument} {path!r} does not exist.")
    if tf.io.gfile.isdir(path):
        raise UserInputError(f"{argument} {path!r} is a directory; give a file.")


def check_writable_directory(directory: str, argument: str,
                             keep_created: bool = True) -> None:
    """Creates `directory` if needed and writes and removes an empty file in it, so that
    an unwritable folder stops a script before its work, not at its first save.

    Args:
      directory: the folder (local or `gs://`).
      argument: what named it (e.g. `--output_dir`), for the message.
      keep_created: keep the folders this check had to create; False removes them
        again, for scripts that create their output folder only once every input is
        checked (so a failed run leaves nothing).

    Raises:
      UserInputError: naming `argument` and `directory`, if either step fails.
    """
    import tensorflow as tf

    directory = directory or "."
    if tf.io.gfile.exists(directory) and not tf.io.gfile.isdir(directory):
        raise UserInputError(f"{argument}: {directory!r} is a file, not a folder; choose a "
                             "folder to write to.")
    created = _topmost_missing(directory)
    probe = os.path.join(directory, f".write-test-{os.getpid()}")
    try:
        tf.io.gfile.makedirs(directory)
        with tf.io.gfile.GFile(probe, "w") as writer:
            writer.write("")
        tf.io.gfile.remove(probe)
    except (tf.errors.OpError, OSError) as error:
        found = _file_error(error)
        reason = (": ".join(filter(None, found)) if found
                  else (str(error).splitlines() or [type(error).__name__])[0])
        raise UserInputError(f"{argument}: cannot write to {directory!r} ({reason}); choose a "
                             "folder you can write to.") from error
    finally:
        if created is not None and not keep_created and tf.io.gfile.isdir(created):
            tf.io.gfile.rmtree(created)


def _topmost_missing(directory: str) -> str | None:
    """The highest folder on `directory`'s path that does not exist yet, if any."""
    import tensorflow as tf

    missing = None
    path = directory.rstrip("/")
    while path and not path.endswith(":/") and not tf.io.gfile.exists(path):
        missing = path
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return missing


def check_output_file(path: str, argument: str, overwrite: bool,
                      overwrite_argument: str | None = None) -> None:
    """Refuses an output path that is a directory, or an existing file unless
    `overwrite`; then checks that its folder can be written (`check_writable_directory`).

    Args:
      path: the output file.
      argument: what named it (e.g. `--output_file`), for the message.
      overwrite: whether an existing file may be replaced.
      overwrite_argument: what the message tells to pass to allow that; by default
        worded as `argument` is: `--overwrite_output` beside a flag (`--output_file`),
        `overwrite=True` beside an argument (`output_file`).

    Raises:
      UserInputError: naming `argument` and `path`.
    """
    import tensorflow as tf

    if tf.io.gfile.isdir(path):
        raise UserInputError(f"{argument} {path!r} is a directory; give a file name.")
    if tf.io.gfile.exists(path) and not overwrite:
        if overwrite_argument is None:
            overwrite_argument = ("--overwrite_output" if argument.startswith("--")
                                  else "overwrite=True")
        raise UserInputError(f"{argument} {path!r} already exists; choose another name or "
                             f"pass {overwrite_argument}.")
    check_writable_directory(os.path.dirname(path), argument)


def expand_text_files(patterns: str, argument: str, allow_empty_files: bool = False,
                      ) -> list[str]:
    """The files named by comma-separated paths and globs (local or `gs://`), each
    checked to be an existing file whose first bytes are UTF-8 text (`check_utf8_head`;
    the rest is checked as it is read). Empty parts (`a.txt,,b.txt`) are skipped.

    Args:
      patterns: e.g. `corpus/*.txt,extra.txt`.
      argument: what named them (e.g. `--input_file`), for the message.
      allow_empty_files: accept files of no bytes; otherwise each one is refused, as
        the text a corpus needs.

    Raises:
      UserInputError: naming `argument` and the pattern or file at fault.
    """
    import tensorflow as tf

    files = []
    for pattern in filter(None, (part.strip() for part in patterns.split(","))):
        matches = sorted(tf.io.gfile.glob(pattern))
        if not matches:
            raise UserInputError(f"{argument}: {pattern!r} matches no file.")
        for path in matches:
            check_input_file(path, argument)
            if not allow_empty_files and tf.io.gfile.stat(path).length == 0:
                raise UserInputError(f"{argument}: {path!r} is empty; it needs one sentence "
                                     "per line, documents separated by blank lines.")
            check_utf8_head(path, argument)
        files += matches
    if not files:
        raise UserInputError(f"{argument} is empty.")
    return files


def decode_utf8(data: bytes, path: str, argument: str, offset: int = 0,
                final: bool = True) -> str:
    """`data` decoded as UTF-8 text.

    Args:
      data: bytes read from `path`, starting at byte `offset` of the file.
      path, argument: named in the error (`argument` as in `check_input_file`).
      offset: where `data` starts in the file, so that the error gives the file's byte.
      final: False when `data` may end inside a character (a file's first bytes only).

    Raises:
      UserInputError: on a byte that is not UTF-8, or a NUL byte (UTF-16 text, even
        without a byte-order mark, and binary files have them; text files do not),
        naming the file and the byte offset of the first offending byte.
    """
    try:
        text = (data.decode("utf-8") if final
                else codecs.getincrementaldecoder("utf-8")().decode(data, final=False))
    except UnicodeDecodeError as error:
        what = "is not valid UTF-8"
        if offset + error.start == 0 and data[:2] in (codecs.BOM_UTF16_LE,
                                                      codecs.BOM_UTF16_BE):
            what = "starts a UTF-16 byte-order mark"
        raise _not_utf8(path, argument, offset + error.start, data[error.start],
                        what) from error
    nul = data.find(b"\0")
    if nul >= 0:
        raise _not_utf8(path, argument, offset + nul, 0, "is a NUL byte")
    return text


def _not_utf8(path: str, argument: str, offset: int, value: int,
              what: str) -> UserInputError:
    return UserInputError(
        f"{argument} {path!r} is not UTF-8 text: byte {offset} (0x{value:02x}) {what}; "
        "convert it to UTF-8 (e.g. iconv -f UTF-16 -t UTF-8) or leave out binary files.")


def check_utf8_head(path: str, argument: str, size: int = HEAD_BYTES) -> None:
    """Checks that the first `size` bytes of `path` are UTF-8 text (see `decode_utf8`):
    a UTF-16 or binary file is refused before any work, the rest as it is read."""
    import tensorflow as tf

    with tf.io.gfile.GFile(path, "rb") as reader:
        head = reader.read(size)
    decode_utf8(head, path, argument, final=len(head) < size)


def read_utf8_lines(path: str, argument: str) -> Iterator[str]:
    """The lines of a UTF-8 text file, newline kept, each checked by `decode_utf8`."""
    import tensorflow as tf

    offset = 0
    with tf.io.gfile.GFile(path, "rb") as reader:
        for line in reader:
            yield decode_utf8(line, path, argument, offset)
            offset += len(line)


def read_text(path: str, not_decodable: Callable[[int], Exception],
              encoding: str = "utf-8") -> str:
    """The whole of the file `path` decoded with `encoding`.

    Raises:
      The exception `not_decodable(line)` makes, `line` being the 1-based line of the
      first byte that is not `encoding` (so the message can point the user to it).
    """
    import tensorflow as tf

    with tf.io.gfile.GFile(path, "rb") as reader:
        raw = reader.read()
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as error:
        raise not_decodable(raw[:error.start].count(b"\n") + 1) from error


def read_utf8_files(paths: Iterable[str], argument: str) -> Iterator[str]:
    """The lines of several files in turn, newline stripped (see `read_utf8_lines`)."""
    for path in paths:
        for line in read_utf8_lines(path, argument):
            yield line.rstrip("\n")
