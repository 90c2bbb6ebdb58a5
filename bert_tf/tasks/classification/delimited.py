"""Reading delimited text files (TSV, CSV) as Google's `run_classifier.py` reads
them, and the one-line messages for their errors (file, line, what to fix).

TSV is read with `csv.reader`, a tab delimiter and no quote character (a `"` is an
ordinary character), local or `gs://` paths.
"""

import csv
from typing import Sequence

import tensorflow as tf

from bert_tf.errors import UserInputError


def read_rows(path: str, delimiter: str = "\t",
              quotechar: str | None = None) -> list[tuple[int, list[str]]]:
    """Reads a delimited text file into `(line, cells)` pairs, `line` 1-based (where
    the row starts). Blank lines are skipped; a UTF-8 byte-order mark is dropped.

    Raises:
      UserInputError: if the file does not exist, is not UTF-8, or is malformed CSV.
    """
    if not tf.io.gfile.exists(path):
        raise UserInputError(f"{path} does not exist.")
    rows = []
    with tf.io.gfile.GFile(path, "r") as reader:
        rows_reader = csv.reader(reader, delimiter=delimiter, quotechar=quotechar,
                                 quoting=csv.QUOTE_NONE if quotechar is None
                                 else csv.QUOTE_MINIMAL)
        start = 1
        try:
            for cells in rows_reader:
                if cells:
                    rows.append((start, cells))
                start = rows_reader.line_num + 1
        except csv.Error as error:
            raise UserInputError(f"{path}, line {start}: {error}. Check the quoting of "
                                 "that line.") from None
        except UnicodeDecodeError:
            raise UserInputError(f"{path}, line {start}: the file is not UTF-8 text; "
                                 "save it as UTF-8.") from None
    if rows and rows[0][1][0].startswith("\ufeff"):
        rows[0][1][0] = rows[0][1][0][1:]
    return rows


def parse_column(column: str | int) -> str | int:
    """A column as given by a user: an int or a string of digits is a 0-based index,
    any other non-empty string a header name (or a JSON field).

    Raises:
      UserInputError: for an empty name, a negative index or another type.
    """
    if isinstance(column, str) and column.strip().isdigit():
        return int(column)
    if isinstance(column, bool) or not isinstance(column, (str, int)) or column == "":
        raise UserInputError(f"A column is a header name or a 0-based index, not "
                             f"{column!r}.")
    if isinstance(column, int) and column < 0:
        raise UserInputError(f"Column index {column} is negative; columns count from 0.")
    return column


def missing_file_error(path: str, task: str, file_name: str,
                        hint: str = "") -> UserInputError:
    return UserInputError(f"{path} does not exist: the data directory of task {task!r} "
                          f"must hold {file_name}{hint}. Check the data directory.")


def column_count_error(path: str, line: int, count: int, expected: int,
                        reason: str, delimiter: str) -> UserInputError:
    separator = "tab" if delimiter == "\t" else repr(delimiter)
    fix = ("a text must not contain a tab or a line break" if delimiter == "\t" else
           'quote a text that contains a comma, a quote or a line break ("a, b")')
    return UserInputError(f"{path}, line {line}: {count} columns, expected {expected} "
                          f"({reason}). Columns are {separator}-separated: {fix}.")


def unknown_label_error(path: str, line: int, label: str,
                         labels: Sequence[str]) -> UserInputError:
    return UserInputError(f"{path}, line {line}: unknown label {label!r}; the labels are "
                          f"{list(labels)}. Fix the label, or check that the file belongs "
                          "to this task.")
