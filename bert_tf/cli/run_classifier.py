"""Fine-tunes BERT on a sequence classification task, as Google's `run_classifier.py`.

    python run_classifier.py --task_name=MRPC --do_train=true --do_eval=true \
      --data_dir=glue_data/MRPC --vocab_file=uncased_L-12_H-768_A-12/vocab.txt \
      --bert_config_file=uncased_L-12_H-768_A-12/bert_config.json \
      --init_checkpoint=uncased_L-12_H-768_A-12/bert_model.ckpt --max_seq_length=128 \
      --train_batch_size=32 --learning_rate=2e-5 --num_train_epochs=3.0 \
      --output_dir=/tmp/mrpc_output/

(or `bert-run-classifier` with the same flags, once the package is installed).

Tasks: Google's (cola, mnli, mrpc, xnli), the rest of GLUE (sst-2, qnli, qqp, rte,
sts-b, wnli) and user data without code (`--task_name=tsv` or `csv` with
`--text_a_column`, `--text_b_column`, `--label_column`). Re-running the same command
after the process died resumes from the last checkpoint in --output_dir.

Texts longer than --max_seq_length: `--long_input_strategy=head` (Google's
truncation, the default), `tail`, `head_tail` (--head_tokens from the start, the rest
from the end) or `windows` (--doc_stride apart, logits pooled by --window_pooling);
training, evaluation, prediction and the export all read them so.
"""

from absl import flags

from bert_tf.cli import command
from bert_tf.cli import flags as fine_tuning_flags
from bert_tf.tasks import runner
from bert_tf.tasks.classification import data as classification_data
from bert_tf.tasks.classification import task as classification_task
from bert_tf.tasks.classification.task import ClassificationOptions, ClassificationTask
from bert_tf.text import long_inputs

FLAGS = flags.FLAGS


def define_flags() -> None:
    """Registers the shared fine-tuning flags and the classifier's own (Google's names
    and defaults)."""
    fine_tuning_flags.define_flags()
    flags.DEFINE_string("task_name", None, "The task: " + ", ".join(
        sorted(classification_data.PROCESSORS)) + ".")
    flags.DEFINE_string("text_a_column", None, "tsv/csv tasks: the column (header name or "
                        "0-based index) holding the text.")
    flags.DEFINE_string("text_b_column", None, "tsv/csv tasks: the column of the second "
                        "text of a pair task (leave out for single texts).")
    flags.DEFINE_string("label_column", None, "tsv/csv tasks: the column of the label.")
    flags.DEFINE_string("class_weights", None, "Comma-separated loss weight per label, in "
                        "the order of the label list (for imbalanced data); or 'balanced' "
                        "for weights inversely proportional to the training label "
                        "frequencies.")
    flags.DEFINE_enum("long_input_strategy", None, list(long_inputs.STRATEGIES),
                      "What a text longer than --max_seq_length keeps: its head (Google's "
                      "truncation), its tail, head_tail, or all of it in windows. Default: "
                      "what the model in --output_dir was trained with, else head.")
    flags.DEFINE_integer("head_tokens", None, "head_tail: pieces kept from the start "
                         f"(default {long_inputs.DEFAULT_HEAD_TOKENS}); the rest come "
                         "from the end.")
    flags.DEFINE_integer("doc_stride", None, "windows: how many WordPieces apart the "
                         "windows of a long text start (default: half a window).")
    flags.DEFINE_enum("window_pooling", None, list(long_inputs.POOLINGS), "windows: how "
                      "the logits of a text's windows combine (default mean).")
    flags.DEFINE_enum("train_windows", classification_task.ALL_WINDOWS,
                      list(classification_task.TRAIN_WINDOWS), "windows: train on every "
                      "window of a text with its label (all), or on one window per text, "
                      "drawn anew each epoch (sample).")
    flags.mark_flags_as_required(["task_name"])


def run(argv: list[str]) -> None:
    """Trains, evaluates, predicts and exports as the flags say; see the docstring."""
    del argv
    task = ClassificationTask(ClassificationOptions(
        task_name=FLAGS.task_name, text_a_column=FLAGS.text_a_column,
        text_b_column=FLAGS.text_b_column, label_column=FLAGS.label_column,
        class_weights=FLAGS.class_weights, long_input_strategy=FLAGS.long_input_strategy,
        head_tokens=FLAGS.head_tokens, doc_stride=FLAGS.doc_stride,
        window_pooling=FLAGS.window_pooling, train_windows=FLAGS.train_windows))
    runner.run(task, fine_tuning_flags.fine_tuning_options(), argument_prefix="--")


def main() -> None:
    """The command: `python run_classifier.py ...` or `bert-run-classifier ...`."""
    command.run_command(__name__, define_flags, run)
