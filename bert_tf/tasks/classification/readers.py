"""Every classification task's reader by name: the GLUE tasks, XNLI, and the user's
own `tsv`/`csv` files (`get_processor`)."""

from typing import Callable, Sequence

from bert_tf.errors import UserInputError
from bert_tf.tasks.classification.examples import DataProcessor
from bert_tf.tasks.classification.glue import (ColaProcessor, MnliMismatchedProcessor,
                                               MnliProcessor, MrpcProcessor, QnliProcessor,
                                               QqpProcessor, RteProcessor, Sst2Processor,
                                               StsbProcessor, WnliProcessor, XnliProcessor)
from bert_tf.tasks.classification.user_tasks import GenericProcessor


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
