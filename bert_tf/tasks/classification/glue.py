"""The GLUE tasks (and XNLI), read from their files as GLUE distributes them: a
declarative table of each task's labels and, per split, its file and columns
(Google's processors for CoLA, MNLI, MRPC and XNLI, with its column choices and
guids)."""

import dataclasses
import os

import tensorflow as tf
from absl import logging

from bert_tf.errors import UserInputError
from bert_tf.tasks.classification.delimited import (column_count_error,
                                                    missing_file_error, read_rows,
                                                    unknown_label_error)
from bert_tf.tasks.classification.examples import (DEV, TEST, TRAIN, DataProcessor,
                                                   InputExample)


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
            raise unknown_label_error(path, line, cell, self.labels)
        return cell

    def _read(self, data_dir: str, split_name: str) -> list[InputExample]:
        split = self.splits[split_name]
        file_name = self._file_name(split)
        path = os.path.join(data_dir, file_name)
        if not tf.io.gfile.exists(path):
            raise missing_file_error(path, self.task_name, file_name,
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
                raise column_count_error(path, line, len(cells), expected, reason, "\t")
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


def _tsv_splits(labelled: dict, test: dict) -> dict[str, _Split]:
    """The usual layout: `train.tsv` and `dev.tsv` with the `labelled` columns (`_Split`
    fields, the label's among them), `test.tsv` with the `test` columns."""
    return {TRAIN: _Split("train.tsv", "train", **labelled),
            DEV: _Split("dev.tsv", "dev", **labelled),
            TEST: _Split("test.tsv", "test", **test)}


# QNLI's, RTE's and WNLI's layout: the id, the two texts, then the label.
_ID_PAIR_LABEL_SPLITS = _tsv_splits(dict(text_a=1, text_b=2, label=3, guid=0),
                                    test=dict(text_a=1, text_b=2, guid=0))


class ColaProcessor(GlueProcessor):
    """CoLA: single sentences, acceptable (1) or not (0); train/dev have no header."""

    task_name = "cola"
    labels = _BINARY
    splits = _tsv_splits(dict(text_a=3, label=1, has_header=False, num_columns=4),
                         test=dict(text_a=1))


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
    splits = _tsv_splits(dict(text_a=3, text_b=4, label=0),
                         test=dict(text_a=3, text_b=4))


class Sst2Processor(GlueProcessor):
    """SST-2: single sentences, positive (1) or negative (0) sentiment."""

    task_name = "sst-2"
    labels = _BINARY
    splits = _tsv_splits(dict(text_a=0, label=1), test=dict(text_a=1, guid=0))


class QnliProcessor(GlueProcessor):
    """QNLI: question and sentence, whether the sentence answers the question."""

    task_name = "qnli"
    labels = _ENTAILMENT
    splits = _ID_PAIR_LABEL_SPLITS


class QqpProcessor(GlueProcessor):
    """QQP: question pairs, duplicate (1) or not (0). Rows of the wrong width (a few
    in the released train and dev files) are skipped."""

    task_name = "qqp"
    labels = _BINARY
    skip_malformed_rows = True
    splits = _tsv_splits(dict(text_a=3, text_b=4, label=5, guid=0),
                         test=dict(text_a=1, text_b=2, guid=0))


class RteProcessor(GlueProcessor):
    """RTE: sentence pairs, entailment or not."""

    task_name = "rte"
    labels = _ENTAILMENT
    splits = _ID_PAIR_LABEL_SPLITS


class WnliProcessor(RteProcessor):
    """WNLI: sentence pairs, entailment (1) or not (0)."""

    task_name = "wnli"
    labels = _BINARY


class StsbProcessor(GlueProcessor):
    """STS-B: sentence pairs scored 0-5 for similarity; a regression task."""

    task_name = "sts-b"
    labels = None
    is_regression = True
    splits = _tsv_splits(dict(text_a=7, text_b=8, label=9, guid=0),
                         test=dict(text_a=7, text_b=8, guid=0))

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
