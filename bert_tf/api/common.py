"""What the API's task models share: the pre-trained files they start from and the run
options `fit` makes of them, the folder `save` writes (Google-named weights,
`bert_config.json`, `vocab.txt`, the task file and the API's settings) and reading it
back, the output-folder rule of `fit`, and runs whose progress is shown."""

import dataclasses
import os
import tempfile

import tensorflow as tf
from absl import logging

from bert_tf import checkpoints, console
from bert_tf import io as outputs
from bert_tf.configs import BertConfig
from bert_tf.errors import InvalidArgumentError, UserInputError
from bert_tf.tasks import runner
from bert_tf.tasks.base import FineTuningOptions, Task, TaskInfo

CHECKPOINT_NAME = "bert_model.ckpt"
CONFIG_NAME = "bert_config.json"
VOCAB_NAME = "vocab.txt"


@dataclasses.dataclass
class PretrainedFiles:
    """The model files an API model starts from and reads text with.

    Attributes:
      init_checkpoint: the weights `fit` starts from.
      config: the model's configuration.
      vocab_file: its WordPiece vocabulary.
      do_lower_case: its casing.
      max_seq_length: the longest model input (a window), special tokens included.
    """

    init_checkpoint: str
    config: BertConfig
    vocab_file: str
    do_lower_case: bool
    max_seq_length: int

    def run_options(self, output_dir: str, **run) -> FineTuningOptions:
        """A run on these files (the config lies beside the checkpoint, found as the
        scripts find it), with the options `run` gives."""
        return FineTuningOptions(
            output_dir=output_dir, init_checkpoint=self.init_checkpoint,
            vocab_file=self.vocab_file, do_lower_case=self.do_lower_case,
            max_seq_length=self.max_seq_length, **run)

    def fit_options(self, output_dir: str, *, evaluate: bool, epochs: float,
                    batch_size: int, learning_rate: float, warmup_proportion: float,
                    early_stopping_patience: int, seed: int, **more) -> FineTuningOptions:
        """The run `fit` makes: training (and evaluation), progress every 10 steps,
        checkpoints every 100."""
        return self.run_options(
            output_dir, do_train=True, do_eval=evaluate, train_batch_size=batch_size,
            eval_batch_size=batch_size, predict_batch_size=batch_size,
            learning_rate=learning_rate, num_train_epochs=epochs,
            warmup_proportion=warmup_proportion,
            early_stopping_patience=early_stopping_patience, seed=seed, log_steps=10,
            save_checkpoints_steps=100, iterations_per_loop=10, **more)

    def check(self) -> None:
        """Checks the files against each other and `max_seq_length`, as the scripts do.

        Raises:
          UserInputError: naming the file or argument.
        """
        runner.model_files(self.run_options(tempfile.gettempdir()))


def is_saved(path: str, settings_file: str) -> bool:
    """Whether `path` is a folder an API model's `save` wrote."""
    return tf.io.gfile.exists(os.path.join(path, settings_file))


def read_saved(path: str, settings_file: str,
               info_class: type[TaskInfo]) -> tuple[dict, TaskInfo, BertConfig]:
    """The settings, task file and config of the saved folder `path`.

    Raises:
      UserInputError: naming the file, if one is missing or damaged.
    """
    settings = outputs.read_json(
        os.path.join(path, settings_file), dict,
        lambda error: UserInputError(f"{path}/{settings_file} is damaged ({error}); "
                                     "save the model again."))
    info = info_class.read(path)
    if info is None:
        raise UserInputError(f"{path} lacks its task file (task_info.json); save the "
                             "model again.")
    return settings, info, BertConfig.from_json_file(os.path.join(path, CONFIG_NAME))


def save_folder(directory: str, model, config: BertConfig, vocab_file: str,
                info: TaskInfo, settings_file: str, settings: dict) -> str:
    """Writes a fitted model into the new or empty folder `directory`.

    Raises:
      InvalidArgumentError: naming `directory` if it holds files.
    """
    if tf.io.gfile.exists(directory) and tf.io.gfile.listdir(directory):
        raise InvalidArgumentError("directory", directory, "holds files: save into a new "
                                   "or empty folder.")
    tf.io.gfile.makedirs(directory)
    checkpoints.save_google_checkpoint(model, os.path.join(directory, CHECKPOINT_NAME))
    config.to_json_file(os.path.join(directory, CONFIG_NAME))
    tf.io.gfile.copy(vocab_file, os.path.join(directory, VOCAB_NAME))
    info.write(directory)
    outputs.write_json_atomically(os.path.join(directory, settings_file), settings)
    return directory


# The folder layouts `save` writes: bert_tf's (which `from_pretrained` and the scripts
# read) and Hugging Face's (`checkpoints.save_hugging_face`).
SAVE_FORMATS = ("bert_tf", "hugging_face")


def check_save_format(save_format: str) -> None:
    """Raises InvalidArgumentError unless `save_format` is one of `SAVE_FORMATS`."""
    if save_format not in SAVE_FORMATS:
        raise InvalidArgumentError("format", save_format, "must be one of "
                                   f"{', '.join(SAVE_FORMATS)}.")


def output_dir_for_fit(output_dir: str | None, resume: bool) -> str:
    """`output_dir`, or a new temporary folder when None.

    Raises:
      InvalidArgumentError: naming `output_dir` if it holds files and not `resume`.
    """
    if output_dir is None:
        return tempfile.mkdtemp(prefix="bert_tf_")
    if tf.io.gfile.exists(output_dir) and tf.io.gfile.listdir(output_dir) and not resume:
        raise InvalidArgumentError("output_dir", output_dir, "holds files: pass "
                                   "resume=True to go on from its checkpoints, or a new "
                                   "folder.")
    return output_dir


class ProgressBar:
    """Keras' progress bar (steps, ETA, loss) over a training run, for notebooks and
    terminals: `runner.run`'s `on_progress`."""

    def __init__(self):
        self._bar = None

    def __call__(self, step: int, num_steps: int, metrics: dict) -> None:
        if self._bar is None:
            import keras  # Drawn only when a run trains.
            self._bar = keras.utils.Progbar(num_steps, stateful_metrics=list(metrics))
        self._bar.update(step, [(name, value) for name, value in metrics.items()
                                if name in ("loss", "learning_rate")])


def run_shown(task: Task, options: FineTuningOptions) -> runner.RunResult:
    """`runner.run` with a progress bar, its INFO lines (progress, ETA, scores) shown,
    as a notebook hides them otherwise, and TensorFlow's own INFO lines not."""
    console.hide_tensorflow_info()
    verbosity = logging.get_verbosity()
    logging.set_verbosity(logging.INFO)
    try:
        return runner.run(task, options, on_progress=ProgressBar())
    finally:
        logging.set_verbosity(verbosity)
