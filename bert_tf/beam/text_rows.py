"""Rows of texts from TSV, CSV and JSON-lines files, for bulk prediction
(`bert_tf.beam.prediction`): each with its key and where it comes from.

A TSV file is read as Google's `run_classifier.py` reads one (tab-separated, no quote
character), a CSV file with `"` quoting (a quoted text may span lines); a header is
there when a column is named (`has_header` says so for indexes only). A JSON lines
file holds one object per line, columns being its fields. Blank lines are skipped and
a UTF-8 byte-order mark is dropped. A row the reader cannot use (a missing column, a
text that is not UTF-8 or not a string, bad JSON) raises a `UserInputError` naming the
file and the line.
"""

import csv
import dataclasses
import json
import os
from typing import Any, Iterator

from bert_tf.errors import UserInputError

FORMATS = ("tsv", "csv", "jsonl")
EXTENSIONS = {".tsv": "tsv", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}

# A row is (key, texts, where): the key written out, the texts in the order of the
# signature's inputs, and "<file>, line <line>" for messages.
Row = tuple[Any, tuple[str, ...], str]


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """How rows are read from the input files.

    Attributes:
      text_columns: the column of each of the model's text inputs, in order: a header
        name or JSON field, or a 0-based index (an int, or a string of digits) of a
        TSV/CSV column.
      key_column: the column of each row's key; None: `"<file>:<line>"`.
      file_format: one of `FORMATS` for every file; None: by each file's extension
        (`EXTENSIONS`).
      has_header: whether TSV/CSV files start with a header; None: when a column is
        named. Named columns need one.
    """

    text_columns: tuple[str | int, ...]
    key_column: str | int | None = None
    file_format: str | None = None
    has_header: bool | None = None

    def __post_init__(self):
        """Turns digit strings into indexes; checks the format and the columns.

        Raises:
          UserInputError: for an unknown format, a negative index or an empty name,
            or names when the files are said to have no header.
        """
        # run_classifier.py's reading of a column (its module loads TensorFlow, which
        # this one leaves to the readers).
        from bert_tf.tasks.classification.delimited import parse_column

        object.__setattr__(self, "text_columns", tuple(map(parse_column, self.text_columns)))
        if self.key_column is not None:
            object.__setattr__(self, "key_column", parse_column(self.key_column))
        if self.file_format is not None and self.file_format not in FORMATS:
            raise UserInputError(f"input_format {self.file_format!r} is not one of "
                                 f"{', '.join(FORMATS)} (or auto).")
        if self.has_header is False and self._named():
            raise UserInputError(f"Columns {self._named()} are header names, but the files "
                                 "are said to have no header (has_header); give 0-based "
                                 "column indexes.")

    def columns(self) -> list[str | int]:
        """The text columns, then the key column if there is one."""
        return [*self.text_columns, *([] if self.key_column is None else [self.key_column])]

    def _named(self) -> list[str]:
        return [column for column in self.columns() if isinstance(column, str)]

    def header(self) -> bool:
        """Whether a TSV/CSV file's first row is a header."""
        return bool(self._named()) if self.has_header is None else self.has_header


def file_format(path: str, spec: InputSpec) -> str:
    """The format `path` is read in: `spec`'s, or its extension's.

    Raises:
      UserInputError: for an unknown extension when `spec` names no format, or
        indexed columns for JSON lines.
    """
    found = spec.file_format
    if found is None:
        found = EXTENSIONS.get(os.path.splitext(path)[1].lower())
        if found is None:
            raise UserInputError(f"input_file {path!r}: cannot tell its format from its "
                                 f"extension ({', '.join(EXTENSIONS)}); give input_format.")
    indexes = [column for column in spec.columns() if isinstance(column, int)]
    if found == "jsonl" and indexes:
        raise UserInputError(f"input_file {path!r} is JSON lines, whose columns are fields: "
                             f"give field names, not the indexes {indexes}.")
    return found


def read_rows(source: tuple[str, str], spec: InputSpec) -> Iterator[Row]:
    """The rows of one input file, `source` = (path, format), as `spec` reads them.

    Raises:
      UserInputError: naming the file and line of the first row that cannot be read.
    """
    path, found_format = source
    if found_format == "jsonl":
        yield from _json_rows(path, spec)
    else:
        yield from _delimited_rows(path, found_format, spec)


def _utf8_lines(path: str) -> Iterator[str]:
    """The lines of `path` (newlines kept), decoded as UTF-8, a byte-order mark dropped.

    Raises:
      UserInputError: naming the first line that is not UTF-8.
    """
    import tensorflow as tf

    with tf.io.gfile.GFile(path, "rb") as reader:
        for number, data in enumerate(reader, 1):
            try:
                line = data.decode("utf-8")
            except UnicodeDecodeError as error:
                raise UserInputError(
                    f"{path}, line {number}: not UTF-8 text (byte 0x{data[error.start]:02x} "
                    f"at column {error.start + 1}); save the file as UTF-8.") from None
            yield line[1:] if number == 1 and line.startswith("\ufeff") else line


def _json_rows(path: str, spec: InputSpec) -> Iterator[Row]:
    """The rows of a JSON lines file: one object per non-blank line."""
    for number, line in enumerate(_utf8_lines(path), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line.rstrip())  # The newline would move the error's column.
        except json.JSONDecodeError as error:
            raise UserInputError(f"{path}, line {number}: not JSON ({error.msg}, column "
                                 f"{error.colno}); write one JSON object per line.") from None
        if not isinstance(value, dict):
            raise UserInputError(f"{path}, line {number}: a JSON {type(value).__name__}, "
                                 "not an object; write one object per line, with the "
                                 "texts as fields.")
        fields = [_json_field(value, column, path, number) for column in spec.columns()]
        for column, text in zip(spec.text_columns, fields):
            if not isinstance(text, str):
                raise UserInputError(f"{path}, line {number}: field {column!r} is "
                                     f"{json.dumps(text)}, not a string; give the text as "
                                     "a JSON string.")
        key = f"{path}:{number}"
        if spec.key_column is not None:
            key = fields[-1]
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise UserInputError(f"{path}, line {number}: key field "
                                     f"{spec.key_column!r} is {json.dumps(key)}; give each "
                                     "row a string or an integer as its key.")
        yield key, tuple(fields[:len(spec.text_columns)]), f"{path}, line {number}"


def _json_field(value: dict, column: str | int, path: str, number: int) -> Any:
    if column not in value:
        raise UserInputError(f"{path}, line {number}: no field {column!r} (the fields are "
                             f"{sorted(value)}); check the column names.")
    return value[column]


def _delimited_rows(path: str, found_format: str, spec: InputSpec) -> Iterator[Row]:
    """The rows of a TSV or CSV file; every row must have as many cells as the first
    (header or not), as `run_classifier.py`'s reader wants."""
    from bert_tf.tasks.classification.delimited import column_count_error

    delimiter, quotechar = ("\t", None) if found_format == "tsv" else (",", '"')
    # Strict: an unclosed quote would otherwise swallow the rest of the file as a text.
    reader = csv.reader(_utf8_lines(path), delimiter=delimiter, quotechar=quotechar,
                        quoting=csv.QUOTE_NONE if quotechar is None else csv.QUOTE_MINIMAL,
                        strict=True)
    header = spec.header()
    columns = width = reason = None
    start = 1
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1  # A row may span lines (CSV).
            if not cells:
                continue
            if columns is None:
                columns = _resolve_columns(spec, cells if header else None, path, line)
                width = len(cells)
                reason = f"as the {'header' if header else 'first row'} on line {line} has"
                _check_width(columns, spec, width, path, line)
                if header:
                    continue
            if len(cells) != width:
                raise column_count_error(path, line, len(cells), width, reason, delimiter)
            key = f"{path}:{line}" if spec.key_column is None else cells[columns[-1]]
            texts = tuple(cells[index] for index in columns[:len(spec.text_columns)])
            yield key, texts, f"{path}, line {line}"
    except csv.Error as error:
        raise UserInputError(f"{path}, line {start}: {error}. Check the quoting of that "
                             "line.") from None


def _resolve_columns(spec: InputSpec, header: list[str] | None, path: str,
                     line: int) -> list[int]:
    """The index of each of `spec.columns()` in a file with `header` (None: none)."""
    indexes = []
    for column in spec.columns():
        if isinstance(column, str):
            if column not in header:
                raise UserInputError(f"{path}, line {line}: column {column!r} is not in the "
                                     f"header {header}; use one of those names, or a "
                                     "0-based column index.")
            column = header.index(column)
        indexes.append(column)
    return indexes


def _check_width(columns: list[int], spec: InputSpec, width: int, path: str,
                 line: int) -> None:
    for name, index in zip(spec.columns(), columns):
        if index >= width:
            raise UserInputError(f"{path}, line {line}: {width} columns, but column {name} "
                                 f"needs at least {index + 1}; check the column settings "
                                 "and the file's delimiter.")
