"""Bulk prediction with an exported classifier or NER SavedModel, as an Apache Beam
pipeline: texts from files in, one JSON line of predictions per input row out.

    files (TSV, CSV, JSON lines; local or gs://)
      -> Reshuffle                    spreads the files over the workers
      -> rows (key, texts)            one reader per file, keeps each row's line number
      -> Reshuffle                    spreads the rows over the workers
      -> RunInference(SavedModelHandler)   batches formed by Beam, model loaded once a worker
      -> JSON lines                   `<output_prefix>-SSSSS-of-NNNNN.jsonl`

Rows come from `bert_tf.beam.text_rows` (TSV as `run_classifier.py` reads it, CSV,
JSON lines). Each file is read whole by one worker, so that every row keeps its line
number and a CSV header or a quoted line break is read right (Beam's `ReadFromText`
splits files at byte offsets and counts no lines); the rows are then spread over all
workers, where the model's work is. A row the reader cannot use fails the run with a
`UserInputError` naming the file and the line.

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

import dataclasses
import importlib
import json
import os
import re
from typing import Any, Iterable, Sequence

from bert_tf.beam.options import counters, import_beam, run_pipeline
from bert_tf.beam.text_rows import InputSpec, Row, file_format, read_rows
from bert_tf.errors import InvalidArgumentError, UserInputError

OUTPUT_SUFFIX = ".jsonl"
SERVING_DEFAULT = "serving_default"  # bert_tf.serving.SERVING_DEFAULT, without TensorFlow.
EXPORT_INFO_FILE = "export_info.json"
# The tasks whose raw-text signature this pipeline serves, by `export_info.json`'s task.
TASKS = ("classification", "regression", "token_classification")
DEFAULT_MAX_BATCH_SIZE = 64
# The Beam counter of the predictions written (`BulkPredictions.rows`).
NAMESPACE = "bert_tf"
ROWS_COUNTER = "bulk_predict_rows"

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
    from apache_beam.metrics import Metrics

    Metrics.counter(NAMESPACE, ROWS_COUNTER).inc()
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
         | "SpreadFiles" >> beam.Reshuffle()
         | "ReadRows" >> beam.FlatMap(read_rows, spec)
         # Without it each file's rows would stay on the worker that read it.
         | "SpreadRows" >> beam.Reshuffle()
         | "Predict" >> RunInference(handler)
         | "Format" >> beam.Map(prediction_line, model.task)
         | "Write" >> beam.io.WriteToText(output_prefix, file_name_suffix=OUTPUT_SUFFIX,
                                          num_shards=num_shards))


@dataclasses.dataclass(frozen=True)
class BulkPredictions:
    """What a run wrote: its output `files` and the number of `rows` predicted."""

    files: list[str]
    rows: int


def predict_files(export_dir: str, input_patterns: str, output_prefix: str, spec: InputSpec,
                  arguments: list[str], min_batch_size: int = 1,
                  max_batch_size: int = DEFAULT_MAX_BATCH_SIZE, num_shards: int = 0,
                  overwrite: bool = False) -> BulkPredictions:
    """Predicts every row of the input files with the model of `export_dir`, as a
    Beam pipeline run to the end.

    Args:
      export_dir: an export folder (its newest version is used) or a version folder.
      input_patterns: comma-separated paths and globs, local or gs://.
      output_prefix: the output files' path prefix (`<prefix>-SSSSS-of-NNNNN.jsonl`).
      spec: how rows are read.
      arguments: Beam's command-line options (`--runner=...` and the runner's own).
      min_batch_size, max_batch_size: the bounds of the batches Beam forms.
      num_shards: how many output files; 0 lets the runner choose.
      overwrite: replace the files of an earlier run with the same prefix.

    Returns:
      The output files and the number of rows predicted.

    Raises:
      UserInputError: for anything the user can fix, found before the run (arguments,
        model, the first row) or during it (a row that cannot be read, named by file
        and line).
      InvalidArgumentError: for batch sizes or a shard count out of range.
    """
    import tensorflow as tf

    import_beam()
    _check_batching(min_batch_size, max_batch_size, num_shards)
    model = read_model_info(export_dir)
    sources = check_inputs(input_files(input_patterns), spec, model)
    directory = os.path.dirname(output_prefix) or "."
    new_directory = not tf.io.gfile.exists(directory)
    check_output(output_prefix, overwrite)
    before = set(_temporary_folders(output_prefix))
    try:
        result = run_pipeline(lambda pipeline: build(
            pipeline, sources, spec, model, output_prefix, min_batch_size, max_batch_size,
            num_shards), arguments)
    except BaseException:
        # A failed run leaves nothing: no temporary shards, no empty output folder.
        for folder in set(_temporary_folders(output_prefix)) - before:
            tf.io.gfile.rmtree(folder)
        if (new_directory and tf.io.gfile.isdir(directory)
                and not tf.io.gfile.listdir(directory)):
            tf.io.gfile.rmtree(directory)
        raise
    rows = counters(result, NAMESPACE).get(ROWS_COUNTER, 0)
    return BulkPredictions(files=output_files(output_prefix), rows=rows)


def _temporary_folders(output_prefix: str) -> list[str]:
    """The folders where `WriteToText` keeps the files of an unfinished run."""
    import tensorflow as tf

    directory, name = os.path.split(output_prefix)
    return tf.io.gfile.glob(os.path.join(directory, f"beam-temp-{name}-*"))

