"""Sequence-classification examples: task readers with the API of Google's
`run_classifier.py` processors, and their conversion to model features.

Every GLUE task is read from the files as GLUE distributes them (Google's processors
for CoLA, MNLI, MRPC and XNLI, with its column choices and guids), and the `tsv` and
`csv` tasks read the user's own files, configured by column names or indexes.
Labels are strings (`get_labels()` lists them, in the order of the classifier's
outputs); STS-B is a regression (`is_regression`, float labels, `get_labels()` None).
Test splits carry no labels: their examples have `label` None (Google put a
placeholder label there).

Files are read as Google reads them: `csv.reader` with a tab delimiter and no quote
character for TSV (a `"` is an ordinary character), local or `gs://` paths.
"""

import csv
import dataclasses
import os
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf.text import packing as encoding
from bert_tf.errors import UserInputError

TRAIN, DEV, TEST = "train", "dev", "test"


@dataclasses.dataclass
class InputExample:
    """One example: a text or a text pair, and its label.

    Attributes:
      guid: a unique id for bookkeeping, e.g. `train-12`.
      text_a: the first (or only) text, untokenized.
      text_b: the second text of a pair task, else None.
      label: a label string of `get_labels()`, a float for a regression task, or None
        (test examples).
    """

    guid: str
    text_a: str
    text_b: str | None = None
    label: str | float | None = None


class DataProcessor:
    """Reads one task's train, dev and test examples (the API of Google's processors)."""

    is_regression = False

    def get_train_examples(self, data_dir: str) -> list[InputExample]:
        """The training examples in `data_dir`."""
        raise NotImplementedError()

    def get_dev_examples(self, data_dir: str) -> list[InputExample]:
        """The development (evaluation) examples in `data_dir`."""
        raise NotImplementedError()

    def get_test_examples(self, data_dir: str) -> list[InputExample]:
        """The test (prediction) examples in `data_dir`; their labels are None."""
        raise NotImplementedError()

    def get_labels(self) -> list[str] | None:
        """The labels, in the order of the classifier's outputs; None for regression."""
        raise NotImplementedError()


# ---------------------------------------------------------------------------- reading


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


def _missing_file_error(path: str, task: str, file_name: str,
                        hint: str = "") -> UserInputError:
    return UserInputError(f"{path} does not exist: the data directory of task {task!r} "
                          f"must hold {file_name}{hint}. Check the data directory.")


def _column_count_error(path: str, line: int, count: int, expected: int,
                        reason: str, delimiter: str) -> UserInputError:
    separator = "tab" if delimiter == "\t" else repr(delimiter)
    fix = ("a text must not contain a tab or a line break" if delimiter == "\t" else
           'quote a text that contains a comma, a quote or a line break ("a, b")')
    return UserInputError(f"{path}, line {line}: {count} columns, expected {expected} "
                          f"({reason}). Columns are {separator}-separated: {fix}.")


def _unknown_label_error(path: str, line: int, label: str,
                         labels: Sequence[str]) -> UserInputError:
    return UserInputError(f"{path}, line {line}: unknown label {label!r}; the labels are "
                          f"{list(labels)}. Fix the label, or check that the file belongs "
                          "to this task.")


# ---------------------------------------------------------------------- GLUE and XNLI


@dataclasses.dataclass(frozen=True)
class _Split:
    """Where one split's examples are in a task's file (0-based column indexes)."""

    file_name: str
    set_type: str      # the guid prefix
    text_a: int
    text_b: int | None = None
    label: int | None = None  # None: the split has no labels
    guid: int | None = None   # column holding the example's id; None: the row index
    has_header: bool = True
    num_columns: int | None = None  # the column count of a file without a header


class GlueProcessor(DataProcessor):
    """A task read from GLUE's files: subclasses declare the labels and, per split,
    the file and its columns.

    Every row must have as many columns as the header (or `num_columns` for a file
    without one), except for tasks that set `skip_malformed_rows` (QQP, whose released
    files hold a few broken rows): those rows are skipped and counted in the log.
    """

    task_name = ""
    labels: tuple[str, ...] | None = ()
    splits: dict[str, _Split] = {}
    skip_malformed_rows = False

    def get_train_examples(self, data_dir: str) -> list[InputExample]:
        """See base class."""
        return self._read(data_dir, TRAIN)

    def get_dev_examples(self, data_dir: str) -> list[InputExample]:
        """See base class."""
        return self._read(data_dir, DEV)

    def get_test_examples(self, data_dir: str) -> list[InputExample]:
        """See base class."""
        return self._read(data_dir, TEST)

    def get_labels(self) -> list[str] | None:
        """See base class."""
        return None if self.labels is None else list(self.labels)

    def _file_name(self, split: _Split) -> str:
        return split.file_name

    def _keep(self, split_name: str, cells: list[str]) -> bool:
        """Whether a well-formed row becomes an example (XNLI filters by language)."""
        return True

    def _label(self, cell: str, path: str, line: int) -> str | float:
        """The label of a row, checked against the task's labels."""
        if self.labels is not None and cell not in self.labels:
            raise _unknown_label_error(path, line, cell, self.labels)
        return cell

    def _read(self, data_dir: str, split_name: str) -> list[InputExample]:
        split = self.splits[split_name]
        file_name = self._file_name(split)
        path = os.path.join(data_dir, file_name)
        if not tf.io.gfile.exists(path):
            raise _missing_file_error(path, self.task_name, file_name,
                                      " (the task's folder as GLUE distributes it)")
        rows = read_rows(path)
        needed = 1 + max(index for index in (split.text_a, split.text_b, split.label,
                                             split.guid) if index is not None)
        if split.has_header and rows:
            expected, reason = len(rows[0][1]), f"as the header on line {rows[0][0]} has"
            if expected < needed:
                raise UserInputError(
                    f"{path}, line {rows[0][0]}: the header has {expected} columns, but "
                    f"task {self.task_name!r} reads column {needed} (1-based) of its "
                    f"{file_name}. Is this the task's {file_name} as GLUE distributes it?")
        else:
            expected = split.num_columns
            reason = f"the {self.task_name} {file_name} of GLUE has {expected}"
        examples, skipped = [], 0
        for index, (line, cells) in enumerate(rows):
            if index == 0 and split.has_header:
                continue
            if len(cells) != expected:
                if self.skip_malformed_rows:
                    skipped += 1
                    continue
                raise _column_count_error(path, line, len(cells), expected, reason, "\t")
            if not self._keep(split_name, cells):
                continue
            guid = cells[split.guid] if split.guid is not None else index
            examples.append(InputExample(
                guid=f"{split.set_type}-{guid}",
                text_a=cells[split.text_a],
                text_b=None if split.text_b is None else cells[split.text_b],
                label=None if split.label is None else self._label(cells[split.label],
                                                                   path, line)))
        if skipped:
            logging.warning("%s: skipped %d malformed rows (not %d columns).", path,
                            skipped, expected)
        return examples


_BINARY = ("0", "1")
_NLI = ("contradiction", "entailment", "neutral")
_ENTAILMENT = ("entailment", "not_entailment")


class ColaProcessor(GlueProcessor):
    """CoLA: single sentences, acceptable (1) or not (0); train/dev have no header."""

    task_name = "cola"
    labels = _BINARY
    splits = {
        TRAIN: _Split("train.tsv", "train", text_a=3, label=1, has_header=False,
                      num_columns=4),
        DEV: _Split("dev.tsv", "dev", text_a=3, label=1, has_header=False, num_columns=4),
        TEST: _Split("test.tsv", "test", text_a=1),
    }


class MnliProcessor(GlueProcessor):
    """MultiNLI, matched development and test sets (`dev_matched.tsv`)."""

    task_name = "mnli"
    labels = _NLI
    splits = {
        # The label is the last column (gold_label): 12 columns in train, 16 in dev.
        TRAIN: _Split("train.tsv", "train", text_a=8, text_b=9, label=-1, guid=0),
        DEV: _Split("dev_matched.tsv", "dev_matched", text_a=8, text_b=9, label=-1,
                    guid=0),
        TEST: _Split("test_matched.tsv", "test", text_a=8, text_b=9, guid=0),
    }


class MnliMismatchedProcessor(MnliProcessor):
    """MultiNLI with the mismatched development and test sets (`dev_mismatched.tsv`)."""

    task_name = "mnli-mm"
    splits = {
        TRAIN: MnliProcessor.splits[TRAIN],
        DEV: _Split("dev_mismatched.tsv", "dev_mismatched", text_a=8, text_b=9,
                    label=-1, guid=0),
        TEST: _Split("test_mismatched.tsv", "test_mismatched", text_a=8, text_b=9,
                     guid=0),
    }


class MrpcProcessor(GlueProcessor):
    """MRPC: sentence pairs, paraphrase (1) or not (0)."""

    task_name = "mrpc"
    labels = _BINARY
    splits = {
        TRAIN: _Split("train.tsv", "train", text_a=3, text_b=4, label=0),
        DEV: _Split("dev.tsv", "dev", text_a=3, text_b=4, label=0),
        TEST: _Split("test.tsv", "test", text_a=3, text_b=4),
    }


class Sst2Processor(GlueProcessor):
    """SST-2: single sentences, positive (1) or negative (0) sentiment."""

    task_name = "sst-2"
    labels = _BINARY
    splits = {
        TRAIN: _Split("train.tsv", "train", text_a=0, label=1),
        DEV: _Split("dev.tsv", "dev", text_a=0, label=1),
        TEST: _Split("test.tsv", "test", text_a=1, guid=0),
    }


class QnliProcessor(GlueProcessor):
    """QNLI: question and sentence, whether the sentence answers the question."""

    task_name = "qnli"
    labels = _ENTAILMENT
    splits = {
        TRAIN: _Split("train.tsv", "train", text_a=1, text_b=2, label=3, guid=0),
        DEV: _Split("dev.tsv", "dev", text_a=1, text_b=2, label=3, guid=0),
        TEST: _Split("test.tsv", "test", text_a=1, text_b=2, guid=0),
    }


class QqpProcessor(GlueProcessor):
    """QQP: question pairs, duplicate (1) or not (0). Rows of the wrong width (a few
    in the released train and dev files) are skipped."""

    task_name = "qqp"
    labels = _BINARY
    skip_malformed_rows = True
    splits = {
        TRAIN: _Split("train.tsv", "train", text_a=3, text_b=4, label=5, guid=0),
        DEV: _Split("dev.tsv", "dev", text_a=3, text_b=4, label=5, guid=0),
        TEST: _Split("test.tsv", "test", text_a=1, text_b=2, guid=0),
    }


class RteProcessor(GlueProcessor):
    """RTE: sentence pairs, entailment or not."""

    task_name = "rte"
    labels = _ENTAILMENT
    splits = {
        TRAIN: _Split("train.tsv", "train", text_a=1, text_b=2, label=3, guid=0),
        DEV: _Split("dev.tsv", "dev", text_a=1, text_b=2, label=3, guid=0),
        TEST: _Split("test.tsv", "test", text_a=1, text_b=2, guid=0),
    }


class WnliProcessor(RteProcessor):
    """WNLI: sentence pairs, entailment (1) or not (0)."""

    task_name = "wnli"
    labels = _BINARY


class StsbProcessor(GlueProcessor):
    """STS-B: sentence pairs scored 0-5 for similarity; a regression task."""

    task_name = "sts-b"
    labels = None
    is_regression = True
    splits = {
        TRAIN: _Split("train.tsv", "train", text_a=7, text_b=8, label=9, guid=0),
        DEV: _Split("dev.tsv", "dev", text_a=7, text_b=8, label=9, guid=0),
        TEST: _Split("test.tsv", "test", text_a=7, text_b=8, guid=0),
    }

    def _label(self, cell: str, path: str, line: int) -> float:
        try:
            return float(cell)
        except ValueError:
            raise UserInputError(f"{path}, line {line}: the score {cell!r} is not a "
                                 "number; STS-B scores are numbers from 0 to 5.") from None


class XnliProcessor(GlueProcessor):
    """XNLI as Google reads it: training data from the machine-translated MultiNLI
    (`multinli/multinli.train.{language}.tsv`), dev and test from `xnli.dev.tsv` and
    `xnli.test.tsv`, keeping the rows of `language`. Test examples keep their labels
    (XNLI publishes them)."""

    task_name = "xnli"
    labels = _NLI
    splits = {
        TRAIN: _Split("multinli/multinli.train.{language}.tsv", "train", text_a=0,
                      text_b=1, label=2),
        DEV: _Split("xnli.dev.tsv", "dev", text_a=6, text_b=7, label=1),
        TEST: _Split("xnli.test.tsv", "test", text_a=6, text_b=7, label=1),
    }

    def __init__(self, language: str = "zh"):
        """`language`: the XNLI language code to train and evaluate on, e.g. "de"."""
        self.language = language

    def _file_name(self, split: _Split) -> str:
        return split.file_name.format(language=self.language)

    def _keep(self, split_name: str, cells: list[str]) -> bool:
        # xnli.dev.tsv and xnli.test.tsv hold all languages; column 0 names it.
        return split_name == TRAIN or cells[0] == self.language

    def _label(self, cell: str, path: str, line: int) -> str:
        # The translated MultiNLI training files spell this label differently.
        return super()._label("contradiction" if cell == "contradictory" else cell,
                              path, line)


# ----------------------------------------------------------------- the user's own data


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
        self.columns = {"text_a": _column_spec(text_a_column),
                        "text_b": None if text_b_column is None else _column_spec(text_b_column),
                        "label": _column_spec(label_column)}
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
                raise _missing_file_error(path, self.file_format, file_name, hint)
            self._train_cache = (data_dir, *self._read(data_dir, TRAIN))
        return self._train_cache[1], self._train_cache[2]

    def _read(self, data_dir: str, split_name: str) -> tuple[list[InputExample], bool]:
        path, file_name = self._path(data_dir, split_name)
        if not tf.io.gfile.exists(path):
            raise _missing_file_error(path, self.file_format, file_name)
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
                raise _column_count_error(path, line, len(cells), len(first), reason,
                                          self._delimiter)
            label = None
            if split_name != TEST:
                label = cells[columns["label"]]
                if not label:
                    raise UserInputError(f"{path}, line {line}: the label cell (column "
                                         f"{columns['label']}) is empty; give every row a "
                                         "label.")
                if known is not None and label not in known:
                    raise _unknown_label_error(path, line, label, known)
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


def _column_spec(spec: str | int) -> str | int:
    """An int or a digit string is a 0-based index; any other string a header name."""
    if isinstance(spec, bool) or not isinstance(spec, (str, int)):
        raise UserInputError(f"A column is a header name or a 0-based index, not {spec!r}.")
    if isinstance(spec, str) and spec.strip().isdigit():
        return int(spec)
    if isinstance(spec, int) and spec < 0:
        raise UserInputError(f"Column index {spec} is negative; columns count from 0.")
    return spec


def _resolve_column(spec: str | int, header: list[str] | None, role: str, path: str,
                    line: int) -> int:
    if isinstance(spec, int):
        return spec
    if spec not in header:
        raise UserInputError(f"{path}, line {line}: {role}_column {spec!r} is not in the "
                             f"header {header}. Use one of those names, or a 0-based "
                             "column index.")
    return header.index(spec)


# ----------------------------------------------------------------------- the registry


PROCESSORS: dict[str, Callable[..., DataProcessor]] = {
    "cola": ColaProcessor,
    "mnli": MnliProcessor,
    "mnli-mm": MnliMismatchedProcessor,
    "mrpc": MrpcProcessor,
    "xnli": XnliProcessor,
    "sst-2": Sst2Processor,
    "qnli": QnliProcessor,
    "qqp": QqpProcessor,
    "rte": RteProcessor,
    "sts-b": StsbProcessor,
    "wnli": WnliProcessor,
    "tsv": lambda **options: GenericProcessor(file_format="tsv", **options),
    "csv": lambda **options: GenericProcessor(file_format="csv", **options),
}
GENERIC_TASKS = ("tsv", "csv")


def get_processor(task_name: str, data_dir: str | None = None, language: str | None = None,
                  text_a_column: str | int | None = None,
                  text_b_column: str | int | None = None,
                  label_column: str | int | None = None, has_header: bool | None = None,
                  labels: Sequence[str] | None = None) -> DataProcessor:
    """The processor of `task_name` (case-insensitive, as Google's script).

    Args:
      task_name: a key of `PROCESSORS`.
      data_dir: the data directory; needed by the `tsv`/`csv` tasks (labels).
      language: XNLI only: the language code (default "zh", as Google's).
      text_a_column, text_b_column, label_column, has_header, labels: `tsv`/`csv`
        only, see `GenericProcessor`.

    Raises:
      UserInputError: for an unknown task, a missing column of a `tsv`/`csv` task, or
        an option that the task does not take.
    """
    name = task_name.lower()
    if name not in PROCESSORS:
        raise UserInputError(f"Unknown task {task_name!r}; the tasks are "
                             f"{', '.join(sorted(PROCESSORS))}.")
    generic = {"text_a_column": text_a_column, "text_b_column": text_b_column,
               "label_column": label_column, "has_header": has_header, "labels": labels}
    if name in GENERIC_TASKS:
        if text_a_column is None or label_column is None:
            raise UserInputError(f"Task {name!r} needs text_a_column and label_column "
                                 "(each a header name or a 0-based column index).")
        if data_dir is None:
            raise UserInputError(f"Task {name!r} needs the data directory.")
        return PROCESSORS[name](data_dir=data_dir, **generic)
    given = [option for option, value in generic.items() if value is not None]
    if given:
        raise UserInputError(f"{', '.join(given)} apply only to the tsv and csv tasks, not "
                             f"to {name!r}.")
    if name == "xnli":
        return XnliProcessor("zh" if language is None else language)
    if language is not None:
        raise UserInputError(f"language applies only to the xnli task, not to {name!r}.")
    return PROCESSORS[name]()


# ------------------------------------------------------------------ feature conversion


def convert_examples_to_features(examples: Sequence[InputExample],
                                 label_list: Sequence[str] | None, max_seq_length: int,
                                 tokenizer, is_regression: bool = False,
                                 ) -> tuple[dict[str, np.ndarray], int]:
    """Tokenizes and packs examples as Google's `convert_single_example`.

    Each example becomes `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]`, the pair truncated
    from the end of the longer text (`encoding.truncate_seq_pair`), a single text cut
    at `max_seq_length - 2` tokens; an empty `text_b` makes a single-text input, as in
    Google's code.

    Args:
      examples: the examples; one without a label (test) gets label id 0.
      label_list: the labels (label id = position); None for regression.
      max_seq_length: the padded length (at least 3).
      tokenizer: a `FullTokenizer` (anything with `tokenize` and
        `convert_tokens_to_ids`).
      is_regression: float labels instead of label ids.

    Returns:
      `(features, num_truncated)`: features `input_ids`, `input_mask`, `segment_ids`
      int32 [N, max_seq_length] and `label_ids` [N] (int32, or float32 for
      regression); `num_truncated` counts the examples that lost tokens.

    Raises:
      UserInputError: if an example's label is not in `label_list` (or, for
        regression, not a number), or `max_seq_length` is below 3.
    """
    if max_seq_length < 3:
        raise UserInputError(f"max_seq_length is {max_seq_length}; it must be at least 3 "
                             "([CLS] text [SEP]).")
    count = len(examples)
    input_ids = np.zeros((count, max_seq_length), np.int32)
    input_mask = np.zeros((count, max_seq_length), np.int32)
    segment_ids = np.zeros((count, max_seq_length), np.int32)
    label_ids = np.zeros((count,), np.float32 if is_regression else np.int32)
    label_map = {label: index for index, label in enumerate(label_list or ())}
    num_truncated = 0
    for row, example in enumerate(examples):
        tokens_a = tokenizer.tokenize(example.text_a)
        tokens_b = tokenizer.tokenize(example.text_b) if example.text_b else None
        tokens_b = tokens_b or None  # Google: a text B without tokens makes a single text.
        room = max_seq_length - (2 if tokens_b is None else 3)
        if len(tokens_a) + len(tokens_b or ()) > room:
            num_truncated += 1
        packed = encoding.pack(tokens_a, tokens_b, max_seq_length,
                               tokenizer.convert_tokens_to_ids)
        input_ids[row] = packed.input_ids
        input_mask[row] = packed.input_mask
        segment_ids[row] = packed.segment_ids
        if example.label is not None:
            label_ids[row] = _label_id(example, label_map, is_regression)
    return ({"input_ids": input_ids, "input_mask": input_mask, "segment_ids": segment_ids,
             "label_ids": label_ids}, num_truncated)


def _label_id(example: InputExample, label_map: dict[str, int],
              is_regression: bool) -> float | int:
    if is_regression:
        try:
            return float(example.label)
        except ValueError:
            raise UserInputError(f"Example {example.guid}: the label {example.label!r} is "
                                 "not a number, as a regression task needs.") from None
    if example.label not in label_map:
        raise UserInputError(f"Example {example.guid}: label {example.label!r} is not in "
                             f"the label list {list(label_map)}.")
    return label_map[example.label]
