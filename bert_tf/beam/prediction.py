"""Bulk prediction with an exported classifier or NER SavedModel, as an Apache Beam
pipeline: texts from files in, one JSON line of predictions per input row out.

    files (TSV, CSV, JSON lines; local or gs://)
      -> rows (key, texts)            one reader per file, keeps each row's line number
      -> Reshuffle                    spreads the rows over the workers
      -> RunInference(SavedModelHandler)   batches formed by Beam, model loaded once a worker
      -> JSON lines                   `<output_prefix>-SSSSS-of-NNNNN.jsonl`

Rows. A TSV file is read as Google's `run_classifier.py` reads one (tab-separated, no
quote character), a CSV file with `"` quoting (a quoted text may span lines); a header
is there when a column is named (`has_header` says so for indexes only). A JSON lines
file holds one object per line, columns being its fields. Blank lines are skipped and
a UTF-8 byte-order mark is dropped. Each file is read whole by one worker, so that
every row keeps its line number and a CSV header or a quoted line break is read right
(Beam's `ReadFromText` splits files at byte offsets and counts no lines); the rows are
then spread over all workers, where the model's work is. A row the reader cannot use
(a missing column, a text that is not UTF-8 or not a string, bad JSON) fails the run
with a `UserInputError` naming the file and the line.

Keys. Each output line starts with the input row's key: the value of `key_column`, or
else `"<file>:<line>"` (the file as its pattern matched it, the 1-based line where the
row starts). Keys are not checked to be unique.

Outputs, one JSON object per line, in no particular order (join them by key):

    classification  {"key": ..., "label": "yes", "probabilities": [0.1, 0.9]}
    regression      {"key": ..., "score": 3.2}
    NER             {"key": ..., "words": [...], "tags": [...],
                     "entities": [{"type": "PER", "start": 3, "end": 5}, ...]}

(NER: the words as the model split the text, their tags, and each entity's type and
words `start` to `end`, end excluded, as the SavedModel's `serving_default` returns
them.) The files are Beam's `WriteToText` shards, `<output_prefix>-00000-of-00002.jsonl`
and so on, `num_shards` of them (by default as many as the runner chooses).

The model handler. RunInference is driven by `SavedModelHandler`, a subclass of Beam's
generic `ModelHandler`, not by Beam's TensorFlow handler (`tensorflow_inference.
TFModelHandlerTensor`), which cannot serve these models: (1) its module imports
`tensorflow_hub` (and with it `tf_keras`), and tensorflow_hub 0.16 needs
`pkg_resources`, which current setuptools no longer ships, so the import fails;
(2) its loader is `tf.keras.models.load_model`, which under Keras 3 refuses a
SavedModel ("Keras 3 only supports V3 `.keras` files"); (3) its inference stacks one
tensor per element and calls the model with it, while our signature takes named string
inputs (`text_a`, `text_b`) and returns a dict. Overriding both the loader and the
inference would leave nothing of it but that import. The handler here loads the
version with `tf.saved_model.load` (after `tensorflow_text`, which registers the
tokenizer's ops), once per worker process, and calls its `serving_default` on each
batch Beam forms (`min_batch_size` to `max_batch_size` rows).
"""

import csv
import dataclasses
import importlib
import json
import os
import re
from typing import Any, Iterable, Iterator, Sequence

from bert_tf.beam.options import import_beam, run_pipeline
from bert_tf.errors import InvalidArgumentError, UserInputError

FORMATS = ("tsv", "csv", "jsonl")
EXTENSIONS = {".tsv": "tsv", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
OUTPUT_SUFFIX = ".jsonl"
SERVING_DEFAULT = "serving_default"  # bert_tf.serving.SERVING_DEFAULT, without TensorFlow.
EXPORT_INFO_FILE = "export_info.json"
# The tasks whose raw-text signature this pipeline serves, by `export_info.json`'s task.
TASKS = ("classification", "regression", "token_classification")
DEFAULT_MAX_BATCH_SIZE = 64

# A row is (key, texts, where): the key written out, the texts in the order of the
# signature's inputs, and "<file>, line <line>" for messages.
Row = tuple[Any, tuple[str, ...], str]

try:
    from apache_beam.ml.inference.base import ModelHandler
except ImportError:
    # Beam is an optional extra: without it this module still imports (as every module
    # of the package must), and `predict_files` says how to install it.
    ModelHandler = object

# The NER signature's refusal of a long text (bert_tf.serving.token_classifier).
_TOO_MANY_WORDS = re.compile(r"Row (?P<row>\d+) of the batch has (?P<words>\d+) words, "
                             r"more than the (?P<limit>\d+) words")


# ------------------------------------------------------------------------- the model


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What the pipeline needs to know of an exported model.

    Attributes:
      version_dir: the SavedModel's version folder.
      task: `export_info.json`'s task, one of `TASKS`.
      inputs: the names of `serving_default`'s string inputs, in order (`text_a`
        [, `text_b`] for a classifier, `text` for NER).
    """

    version_dir: str
    task: str
    inputs: tuple[str, ...]


def read_model_info(export_dir: str) -> ModelInfo:
    """The model of `export_dir`: an export folder (its newest version is used) or one
    of its version folders, as `bert_tf.serving` writes them.

    Raises:
      UserInputError: naming `export_dir`, for a folder without a SavedModel, without
        `export_info.json`, of another task, or without the raw-text signature.
    """
    import tensorflow as tf

    gfile = tf.io.gfile
    if not gfile.isdir(export_dir):
        raise UserInputError(f"export_dir {export_dir!r} is not a folder; give the folder "
                             "an export wrote (run_classifier.py or run_ner.py "
                             "--export_dir), or one of its version folders.")
    version_dir = export_dir
    if not gfile.exists(os.path.join(export_dir, "saved_model.pb")):
        versions = [name.rstrip("/") for name in gfile.listdir(export_dir)]
        versions = sorted((name for name in versions if name.isdigit()), key=int)
        if not versions:
            raise UserInputError(f"export_dir {export_dir!r} holds no SavedModel (no "
                                 "saved_model.pb, no version folder); give the folder an "
                                 "export wrote, or one of its version folders.")
        version_dir = os.path.join(export_dir, versions[-1])
    info_path = os.path.join(version_dir, EXPORT_INFO_FILE)
    if not gfile.exists(info_path):
        raise UserInputError(f"export_dir: {version_dir!r} has no {EXPORT_INFO_FILE}; give "
                             "a model exported by bert_tf (run_classifier.py or run_ner.py "
                             "--export_dir).")
    with gfile.GFile(info_path) as reader:
        info = json.load(reader)
    task = info.get("task")
    if task not in TASKS:
        raise UserInputError(f"export_dir: {version_dir!r} is a {task} model; bulk "
                             f"prediction serves {', '.join(TASKS)} models.")
    signature = info.get("signatures", {}).get(SERVING_DEFAULT)
    if signature is None:
        raise UserInputError(f"export_dir: {version_dir!r} has no {SERVING_DEFAULT} "
                             "signature (it was exported for ids only); export it again "
                             "with the raw-text signature.")
    return ModelInfo(version_dir=version_dir, task=task, inputs=tuple(signature["inputs"]))


class SavedModelHandler(ModelHandler):
    """Runs a bert_tf SavedModel's `serving_default` on batches of rows, for Beam's
    `RunInference` (see the module docstring for why not Beam's TensorFlow handler).

    Elements are `Row`s; each result is a `PredictionResult` of the row and its outputs
    (numpy values by output name, this row's slice of each).
    """

    def __init__(self, version_dir: str, input_names: Sequence[str],
                 min_batch_size: int = 1, max_batch_size: int = DEFAULT_MAX_BATCH_SIZE):
        """Keeps the model's place and input names; batches of `min_batch_size` to
        `max_batch_size` rows."""
        super().__init__(min_batch_size=min_batch_size, max_batch_size=max_batch_size)
        self._version_dir = version_dir
        self._input_names = tuple(input_names)

    def load_model(self):
        """The loaded SavedModel (once per worker process: RunInference shares it)."""
        import tensorflow as tf

        importlib.import_module("tensorflow_text")  # Registers the tokenizer's ops.
        # The loaded object, not its signature: the signature alone does not keep the
        # variables alive.
        return tf.saved_model.load(self._version_dir)

    def run_inference(self, batch: Sequence[Row], model,
                      inference_args: dict[str, Any] | None = None) -> Iterable:
        """The outputs of `serving_default` for each row of `batch`: a
        `PredictionResult` of each row and its outputs.

        Raises:
          UserInputError: for a text longer than the NER model takes, naming its row.
        """
        import tensorflow as tf
        from apache_beam.ml.inference.base import PredictionResult

        inputs = {name: tf.constant([texts[index] for _, texts, _ in batch], tf.string)
                  for index, name in enumerate(self._input_names)}
        try:
            outputs = model.signatures[SERVING_DEFAULT](**inputs)
        except tf.errors.InvalidArgumentError as error:
            raise _batch_error(error, batch) from None
        arrays = {name: value.numpy() for name, value in outputs.items()}
        return [PredictionResult(row, {name: array[index] for name, array in arrays.items()})
                for index, row in enumerate(batch)]

    def get_metrics_namespace(self) -> str:
        """The namespace of RunInference's metrics for this handler."""
        return "bert_tf_bulk_predict"


def _batch_error(error: Exception, batch: Sequence[Row]) -> Exception:
    """A UserInputError naming the row for the NER model's refusal of a long text;
    `error` itself for any other."""
    found = _TOO_MANY_WORDS.search(str(error))
    if found is None:
        return error
    where = batch[int(found.group("row"))][2]
    return UserInputError(f"{where}: the text has {found.group('words')} words, more than "
                          f"the {found.group('limit')} words per text the model takes "
                          "(its max_words_per_request); split it into shorter texts.")


def prediction_line(result, task: str) -> str:
    """The output line (JSON, no newline) of one RunInference result (a
    `PredictionResult`) of `task`."""
    (key, _, _), outputs = result.example, result.inference
    record = {"key": key}
    if task == "regression":
        record["score"] = float(outputs["score"])
    elif task == "classification":
        record["label"] = outputs["label"].decode("utf-8")
        record["probabilities"] = [float(value) for value in outputs["probabilities"]]
    else:
        words, entities = int(outputs["num_words"]), int(outputs["num_entities"])
        record["words"] = [word.decode("utf-8") for word in outputs["words"][:words]]
        record["tags"] = [tag.decode("utf-8") for tag in outputs["tags"][:words]]
        record["entities"] = [
            {"type": kind.decode("utf-8"), "start": int(start), "end": int(end)}
            for kind, start, end in zip(outputs["entity_types"][:entities],
                                        outputs["entity_starts"][:entities],
                                        outputs["entity_ends"][:entities])]
    return json.dumps(record, ensure_ascii=False)


# -------------------------------------------------------------------------- the rows


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
        object.__setattr__(self, "text_columns", tuple(map(_column, self.text_columns)))
        if self.key_column is not None:
            object.__setattr__(self, "key_column", _column(self.key_column))
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


def _column(column: str | int) -> str | int:
    """A column as `InputSpec` keeps it: an int index, or a name."""
    if isinstance(column, str) and column.strip().isdigit():
        return int(column)
    if isinstance(column, bool) or not isinstance(column, (str, int)) or column == "":
        raise UserInputError(f"A column is a header name or a 0-based index, not "
                             f"{column!r}.")
    if isinstance(column, int) and column < 0:
        raise UserInputError(f"Column index {column} is negative; columns count from 0.")
    return column


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
            if isinstance(key, bool) or not isinstance(key, (str, int, float)):
                raise UserInputError(f"{path}, line {number}: key field "
                                     f"{spec.key_column!r} is {json.dumps(key)}; give each "
                                     "row a string or a number as its key.")
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
            if cells and columns is None:
                columns = _resolve_columns(spec, cells if header else None, path, start)
                width = len(cells)
                reason = f"as the {'header' if header else 'first row'} on line {start} has"
                _check_width(columns, spec, width, path, start)
                if header:
                    cells = []  # Read, not predicted.
            if cells:
                if len(cells) != width:
                    raise column_count_error(path, start, len(cells), width, reason,
                                             delimiter)
                key = f"{path}:{start}" if spec.key_column is None else cells[columns[-1]]
                texts = tuple(cells[index] for index in columns[:len(spec.text_columns)])
                yield key, texts, f"{path}, line {start}"
            start = reader.line_num + 1
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


# ---------------------------------------------------------------------- the pipeline


def input_files(patterns: str) -> list[str]:
    """The files of comma-separated paths and globs (local or gs://), in order, each
    checked to be a file whose first bytes are UTF-8 text.

    Raises:
      UserInputError: naming the pattern that matches nothing or the file at fault.
    """
    from bert_tf import file_checks

    return file_checks.expand_text_files(patterns, "input_file", allow_empty_files=True)


def check_inputs(files: Sequence[str], spec: InputSpec, model: ModelInfo,
                 ) -> list[tuple[str, str]]:
    """Checks what can be checked before the pipeline runs: the columns against the
    model's inputs, each file's format, and the first row of the first file that has
    one; returns the (path, format) of each file.

    Raises:
      UserInputError: naming the argument, file or line at fault.
    """
    if len(spec.text_columns) != len(model.inputs):
        wanted = ("text_a_column and text_b_column" if len(model.inputs) == 2
                  else "text_a_column alone")
        raise UserInputError(
            f"The model at {model.version_dir!r} takes {' and '.join(model.inputs)}, but "
            f"{len(spec.text_columns)} text column(s) are given; give {wanted}.")
    sources = [(path, file_format(path, spec)) for path in files]
    for source in sources:
        if next(read_rows(source, spec), None) is not None:
            break
    else:
        raise UserInputError(f"input_file: {', '.join(files)} hold no rows to predict.")
    return sources


def output_files(output_prefix: str) -> list[str]:
    """The files a run with `output_prefix` writes (or wrote before)."""
    import tensorflow as tf

    return sorted(tf.io.gfile.glob(f"{output_prefix}-*-of-*{OUTPUT_SUFFIX}"))


def check_output(output_prefix: str, overwrite: bool) -> None:
    """Refuses an output prefix whose files exist, unless `overwrite` (then removes
    them, so no stale shard of an earlier run is left beside the new ones), and checks
    that its folder can be written.

    Raises:
      UserInputError: naming `output_file`.
    """
    import tensorflow as tf

    from bert_tf import file_checks

    if not output_prefix or output_prefix.endswith("/") or tf.io.gfile.isdir(output_prefix):
        example = os.path.join(output_prefix or ".", "predictions")
        raise UserInputError(f"output_file {output_prefix!r} is a folder; give a path "
                             f"prefix, e.g. {example!r}.")
    existing = output_files(output_prefix)
    if existing and not overwrite:
        raise UserInputError(f"output_file {output_prefix!r}: {existing[0]!r} already "
                             "exists; choose another prefix or pass --overwrite_output.")
    file_checks.check_writable_directory(os.path.dirname(output_prefix), "output_file")
    for path in existing:
        tf.io.gfile.remove(path)


def _check_batching(min_batch_size: int, max_batch_size: int, num_shards: int) -> None:
    if min_batch_size < 1:
        raise InvalidArgumentError("min_batch_size", min_batch_size, "must be at least 1.")
    if max_batch_size < min_batch_size:
        raise InvalidArgumentError("max_batch_size", max_batch_size,
                                   f"must be at least min_batch_size ({min_batch_size}).")
    if num_shards < 0:
        raise InvalidArgumentError("num_shards", num_shards,
                                   "must be 0 (the runner chooses) or more.")


def build(pipeline, sources: Sequence[tuple[str, str]], spec: InputSpec, model: ModelInfo,
          output_prefix: str, min_batch_size: int = 1,
          max_batch_size: int = DEFAULT_MAX_BATCH_SIZE, num_shards: int = 0) -> None:
    """Adds the bulk prediction's steps to `pipeline` (see the module docstring)."""
    beam = import_beam()
    from apache_beam.ml.inference.base import RunInference

    handler = SavedModelHandler(model.version_dir, model.inputs, min_batch_size,
                                max_batch_size)
    _ = (pipeline
         | "Files" >> beam.Create(list(sources))
         | "ReadRows" >> beam.FlatMap(read_rows, spec)
         # Without it each file's rows would stay on the worker that read it.
         | "Spread" >> beam.Reshuffle()
         | "Predict" >> RunInference(handler)
         | "Format" >> beam.Map(prediction_line, model.task)
         | "Write" >> beam.io.WriteToText(output_prefix, file_name_suffix=OUTPUT_SUFFIX,
                                          num_shards=num_shards))


def predict_files(export_dir: str, input_patterns: str, output_prefix: str, spec: InputSpec,
                  arguments: list[str], min_batch_size: int = 1,
                  max_batch_size: int = DEFAULT_MAX_BATCH_SIZE, num_shards: int = 0,
                  overwrite: bool = False) -> list[str]:
    """Predicts every row of the input files with the model of `export_dir`, as a
    Beam pipeline run to the end; returns the output files.

    Args:
      export_dir: an export folder (its newest version is used) or a version folder.
      input_patterns: comma-separated paths and globs, local or gs://.
      output_prefix: the output files' path prefix (`<prefix>-SSSSS-of-NNNNN.jsonl`).
      spec: how rows are read.
      arguments: Beam's command-line options (`--runner=...` and the runner's own).
      min_batch_size, max_batch_size: the bounds of the batches Beam forms.
      num_shards: how many output files; 0 lets the runner choose.
      overwrite: replace the files of an earlier run with the same prefix.

    Raises:
      UserInputError: for anything the user can fix, found before the run (arguments,
        model, the first row) or during it (a row that cannot be read, named by file
        and line).
      InvalidArgumentError: for batch sizes or a shard count out of range.
    """
    import_beam()
    _check_batching(min_batch_size, max_batch_size, num_shards)
    model = read_model_info(export_dir)
    sources = check_inputs(input_files(input_patterns), spec, model)
    import tensorflow as tf

    directory = os.path.dirname(output_prefix) or "."
    new_directory = not tf.io.gfile.exists(directory)
    check_output(output_prefix, overwrite)
    before = set(_temporary_folders(output_prefix))
    try:
        run_pipeline(lambda pipeline: build(pipeline, sources, spec, model, output_prefix,
                                            min_batch_size, max_batch_size, num_shards),
                     arguments)
    except BaseException:
        # A failed run leaves nothing: no temporary shards, no empty output folder.
        for folder in set(_temporary_folders(output_prefix)) - before:
            tf.io.gfile.rmtree(folder)
        if (new_directory and tf.io.gfile.isdir(directory)
                and not tf.io.gfile.listdir(directory)):
            tf.io.gfile.rmtree(directory)
        raise
    return output_files(output_prefix)


def _temporary_folders(output_prefix: str) -> list[str]:
    """The folders where `WriteToText` keeps the files of an unfinished run."""
    import tensorflow as tf

    directory, name = os.path.split(output_prefix)
    return tf.io.gfile.glob(os.path.join(directory, f"beam-temp-{name}-*"))

