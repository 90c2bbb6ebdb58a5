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
"""

from absl import flags

from bert_tf.cli import command
from bert_tf.cli import flags as fine_tuning_flags
from bert_tf.tasks import runner
from bert_tf.tasks.classification import data as classification_data
from bert_tf.tasks.classification.task import ClassificationOptions, ClassificationTask

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
    flags.mark_flags_as_required(["task_name"])


def run(argv: list[str]) -> None:
    """Trains, evaluates, predicts and exports as the flags say; see the docstring."""
    del argv
    task = ClassificationTask(ClassificationOptions(
        task_name=FLAGS.task_name, text_a_column=FLAGS.text_a_column,
        text_b_column=FLAGS.text_b_column, label_column=FLAGS.label_column,
        class_weights=FLAGS.class_weights))
    runner.run(task, fine_tuning_flags.fine_tuning_options(), argument_prefix="--")


def main() -> None:
    """The command: `python run_classifier.py ...` or `bert-run-classifier ...`."""
    command.run_command(__name__, define_flags, run)
