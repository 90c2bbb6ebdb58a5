"""Running a pipeline: Beam's options from the arguments a script leaves to Beam, and
a run whose failure caused by the user's input reads as one line.

On this machine and in the tests the pipelines run on Beam's `FnApiRunner` (in
process, or with `--direct_num_workers=2 --direct_running_mode=multi_processing`):
since Beam 2.68 the `DirectRunner` first downloads the Prism runner, which fails
offline. `DataflowRunner`, `FlinkRunner` and `SparkRunner` take their usual options.
"""

import logging
import re
from typing import Callable

from bert_tf.errors import UserInputError

# A worker's UserInputError reaches the launcher inside Beam's own error, as text, or
# (in process) as itself; either way Beam adds the step: " [while running 'Documents']".
_WORKER_ERROR = re.compile(r"bert_tf\.errors\.(?:UserInputError|InvalidArgumentError): "
                           r"(?P<message>[^\n]+)")
_STEP_SUFFIX = re.compile(r"( \[while running '[^']*'\])+$")
_INSTALL_HINT = ("Apache Beam is not installed: pip install 'bert_tf[beam]' (and "
                 "'bert_tf[dataflow]' for Google Cloud Dataflow).")


def import_beam():
    """The `apache_beam` module, or a UserInputError saying how to install it."""
    try:
        import apache_beam
    except ImportError as error:
        raise UserInputError(_INSTALL_HINT) from error
    return apache_beam


def pipeline_options(arguments: list[str]):
    """Beam's `PipelineOptions` of command-line `arguments` (`--runner=...` and the
    runner's own options)."""
    beam = import_beam()
    return beam.options.pipeline_options.PipelineOptions(arguments)


def run_pipeline(build: Callable[[object], object], arguments: list[str]):
    """Builds a pipeline with `build(pipeline)` and runs it to the end with the options
    of `arguments`; returns Beam's `PipelineResult`.

    Raises:
      UserInputError: the first worker's UserInputError (bad input found while the
        pipeline ran), as its one-line message; other failures keep Beam's error.
    """
    beam = import_beam()
    # Beam logs every worker's start and stop at INFO; its warnings and errors stay.
    logging.getLogger("apache_beam").setLevel(logging.WARNING)
    pipeline = beam.Pipeline(options=pipeline_options(arguments))
    build(pipeline)
    try:
        result = pipeline.run()
        result.wait_until_finish()
    except Exception as error:
        if isinstance(error, UserInputError):
            message = str(error)
        else:
            found = _WORKER_ERROR.search(str(error))
            if found is None:
                raise
            message = found.group("message")
        raise UserInputError(_STEP_SUFFIX.sub("", message)) from error
    return result


def counters(result, namespace: str) -> dict[str, int]:
    """The counters of namespace `namespace` of a finished pipeline's `result`, summed
    over the steps that counted them (committed values; attempted ones on runners that
    commit none)."""
    beam = import_beam()
    query = result.metrics().query(
        beam.metrics.MetricsFilter().with_namespace(namespace))["counters"]
    totals: dict[str, int] = {}
    for counter in query:
        value = counter.committed if counter.committed is not None else counter.attempted
        totals[counter.key.metric.name] = totals.get(counter.key.metric.name, 0) + value
    return totals
