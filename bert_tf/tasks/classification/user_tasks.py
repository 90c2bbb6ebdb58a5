"""The `tsv` and `csv` tasks: the user's own train/dev/test files, columns chosen by
header name or 0-based index, the header detected, the labels read from the train
file unless given."""

import os
from typing import Sequence

import tensorflow as tf

from bert_tf.errors import UserInputError
from bert_tf.tasks.classification.delimited import (column_count_error,
                                                    missing_file_error, parse_column,
                                                    read_rows, unknown_label_error)
from bert_tf.tasks.classification.examples import (DEV, TEST, TRAIN, DataProcessor,
                                                   InputExample)


def _sorted_labels(labels: set[str]) -> list[str]:
    """Integer labels sorted by value ("2" before "10"), any others as strings."""
    try:
        return sorted(labels, key=lambda label: (int(label), label))
    except ValueError:
        return sorted(labels)


class GenericProcessor(DataProcessor):
    """The `tsv` and `csv` tasks: `train`, `dev` and `test` files (`.tsv` or `.csv`) of
    the user's own data, columns chosen by header name or 0-based index.

    Header detection: when a column is given by name, the first row must be a header
    holding that name. When all are indexes and `has_header` is None, the first row is
    a header if its label cell is not a label (for the train file: not a label of any
    other row; for dev and test: not in `get_labels()`); a test file without the label
    column is read like the train file.

    The labels are those of the train file, sorted (integers by value), unless given.
    Test files need not have the label column; a label there is ignored.
    """

    def __init__(self, data_dir: str, text_a_column: str | int, label_column: str | int,
                 text_b_column: str | int | None = None, file_format: str = "tsv",
                 has_header: bool | None = None, labels: Sequence[str] | None = None):
        """Configures the reader.

        Args:
          data_dir: the directory holding train/dev/test files; `get_labels()` reads the
            train file here when `labels` is not given.
          text_a_column, text_b_column, label_column: a header name, or a 0-based column
            index (an int or a string of digits). No `text_b_column`: single texts.
          file_format: "tsv" (tab-separated, no quoting, as Google's reader) or "csv"
            (comma-separated, `"` quoting).
          has_header: whether the files start with a header; None: detect (see above).
          labels: the label list, when it is not to be discovered from the train file.

        Raises:
          UserInputError: for an unknown `file_format`, an empty `labels`, a negative
            index, or column names with `has_header=False`.
        """
        if file_format not in ("tsv", "csv"):
            raise UserInputError(f"file_format must be 'tsv' or 'csv', not {file_format!r}.")
        if labels is not None and not labels:
            raise UserInputError("The label list is empty; give at least two labels.")
        self.data_dir = data_dir
        self.file_format = file_format
        self.columns = {"text_a": parse_column(text_a_column),
                        "text_b": None if text_b_column is None else parse_column(text_b_column),
                        "label": parse_column(label_column)}
        named = [spec for spec in self.columns.values() if isinstance(spec, str)]
        if named and has_header is False:
            raise UserInputError(f"Columns {named} are header names, but the files are "
                                 "said to have no header; give 0-based column indexes.")
        self.has_header = has_header
        self._delimiter = "\t" if file_format == "tsv" else ","
        self._quotechar = None if file_format == "tsv" else '"'
        self._labels = None if labels is None else [str(label) for label in labels]
        self._train_cache: tuple[str, list[InputExample], bool] | None = None

    def get_train_examples(self, data_dir: str) -> list[InputExample]:
        """See base class."""
        return self._train(data_dir)[0]

    def get_dev_examples(self, data_dir: str) -> list[InputExample]:
        """See base class."""
        return self._read(data_dir, DEV)[0]

    def get_test_examples(self, data_dir: str) -> list[InputExample]:
        """See base class."""
        return self._read(data_dir, TEST)[0]

    def get_labels(self) -> list[str]:
        """The given labels, or the sorted labels of `data_dir`'s train file.

        Raises:
          UserInputError: if no labels were given and the train file is missing.
        """
        if self._labels is not None:
            return list(self._labels)
        return _sorted_labels({example.label for example in self._train(self.data_dir)[0]})

    def _path(self, data_dir: str, split_name: str) -> tuple[str, str]:
        file_name = f"{split_name}.{self.file_format}"
        return os.path.join(data_dir, file_name), file_name

    def _train(self, data_dir: str) -> tuple[list[InputExample], bool]:
        """The train examples and whether the train file has a header (cached)."""
        if self._train_cache is None or self._train_cache[0] != data_dir:
            path, file_name = self._path(data_dir, TRAIN)
            if not tf.io.gfile.exists(path):
                hint = ("" if self._labels is not None else
                        " (the labels are read from it when they are not given)")
                raise missing_file_error(path, self.file_format, file_name, hint)
            self._train_cache = (data_dir, *self._read(data_dir, TRAIN))
        return self._train_cache[1], self._train_cache[2]

    def _read(self, data_dir: str, split_name: str) -> tuple[list[InputExample], bool]:
        path, file_name = self._path(data_dir, split_name)
        if not tf.io.gfile.exists(path):
            raise missing_file_error(path, self.file_format, file_name)
        rows = read_rows(path, self._delimiter, self._quotechar)
        if not rows:
            raise UserInputError(f"{path} is empty.")
        first_line, first = rows[0]
        has_header = self._has_header(data_dir, split_name, path, rows)
        header = first if has_header else None
        specs = dict(self.columns)
        if split_name == TEST:
            del specs["label"]  # Test labels are not read; the column may be absent.
        columns = {role: None if spec is None else _resolve_column(spec, header, role, path,
                                                                   first_line)
                   for role, spec in specs.items()}
        for role, index in columns.items():
            if index is not None and index >= len(first):
                raise UserInputError(
                    f"{path}, line {first_line}: {len(first)} columns, but {role}_column="
                    f"{index} needs at least {index + 1}. Check the column settings and "
                    f"that the file is {'tab' if self._delimiter == chr(9) else 'comma'}-"
                    "separated.")
        known = None if split_name == TRAIN and self._labels is None else self.get_labels()
        reason = (f"as the {'header' if has_header else 'first row'} on line {first_line} "
                  "has")
        examples = []
        for line, cells in rows[1:] if has_header else rows:
            if len(cells) != len(first):
                raise column_count_error(path, line, len(cells), len(first), reason,
                                          self._delimiter)
            label = None
            if split_name != TEST:
                label = cells[columns["label"]]
                if not label:
                    raise UserInputError(f"{path}, line {line}: the label cell (column "
                                         f"{columns['label']}) is empty; give every row a "
                                         "label.")
                if known is not None and label not in known:
                    raise unknown_label_error(path, line, label, known)
            text_b = None if columns["text_b"] is None else cells[columns["text_b"]]
            examples.append(InputExample(guid=f"{split_name}-{line}",
                                         text_a=cells[columns["text_a"]], text_b=text_b,
                                         label=label))
        return examples, has_header

    def _has_header(self, data_dir: str, split_name: str, path: str,
                    rows: list[tuple[int, list[str]]]) -> bool:
        if any(isinstance(spec, str) for spec in self.columns.values() if spec is not None):
            return True
        if self.has_header is not None:
            return self.has_header
        label_index = self.columns["label"]
        first = rows[0][1]
        if label_index >= len(first):
            if split_name != TEST:
                return False  # The column-count check reports this file.
            if self._labels is not None and not tf.io.gfile.exists(
                    self._path(data_dir, TRAIN)[0]):
                raise UserInputError(
                    f"{path}: cannot tell whether line {rows[0][0]} is a header (the file "
                    "has no label column and there is no train file to compare with); "
                    "say whether it is (has_header).")
            return self._train(data_dir)[1]
        if split_name == TRAIN and self._labels is None:
            labels = {cells[label_index] for _, cells in rows[1:]
                      if label_index < len(cells)}
        else:
            labels = set(self.get_labels())
        return first[label_index] not in labels


def _resolve_column(spec: str | int, header: list[str] | None, role: str, path: str,
                    line: int) -> int:
    if isinstance(spec, int):
        return spec
    if spec not in header:
        raise UserInputError(f"{path}, line {line}: {role}_column {spec!r} is not in the "
                             f"header {header}. Use one of those names, or a 0-based "
                             "column index.")
    return header.index(spec)
