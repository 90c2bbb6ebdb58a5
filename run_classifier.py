"""Fine-tunes BERT on a sequence classification task, as Google's `run_classifier.py`.

    python run_classifier.py --task_name=MRPC --do_train=true --do_eval=true \
      --data_dir=glue_data/MRPC --vocab_file=uncased_L-12_H-768_A-12/vocab.txt \
      --bert_config_file=uncased_L-12_H-768_A-12/bert_config.json \
      --init_checkpoint=uncased_L-12_H-768_A-12/bert_model.ckpt --max_seq_length=128 \
      --train_batch_size=32 --learning_rate=2e-5 --num_train_epochs=3.0 \
      --output_dir=/tmp/mrpc_output/

Tasks: Google's (cola, mnli, mrpc, xnli), the rest of GLUE (sst-2, qnli, qqp, rte,
sts-b, wnli) and user data without code (`--task_name=tsv` or `csv` with
`--text_a_column`, `--text_b_column`, `--label_column`). Re-running the same command
after the process died resumes from the last checkpoint in --output_dir.
"""

import keras
import numpy as np
import tensorflow as tf
from absl import flags, logging

from bert_tf.cli import flags as fine_tuning_flags
from bert_tf.tasks.classification import objectives as classification_objectives
from bert_tf.cli import app as cli
from bert_tf.serving import export
from bert_tf.training import fine_tuning
from bert_tf.tasks.classification import metrics
from bert_tf import io as outputs
from bert_tf.text import tokenization
from bert_tf.training import trainer as training
from bert_tf.tasks.classification import data as classification_data
from bert_tf.tasks.classification import dataset as classification_dataset
from bert_tf.errors import UserInputError
from bert_tf.modeling import BertClassifier

FLAGS = flags.FLAGS
RUN_KIND = "run_classifier.py"

fine_tuning_flags.define_flags()
flags.DEFINE_string("task_name", None, "The task: " + ", ".join(
    sorted(classification_data.PROCESSORS)) + ".")
flags.DEFINE_string("text_a_column", None, "tsv/csv tasks: the column (header name or "
                    "0-based index) holding the text.")
flags.DEFINE_string("text_b_column", None, "tsv/csv tasks: the column of the second text "
                    "of a pair task (leave out for single texts).")
flags.DEFINE_string("label_column", None, "tsv/csv tasks: the column of the label.")
flags.DEFINE_string("class_weights", None, "Comma-separated loss weight per label, in the "
                    "order of the label list (for imbalanced data); or 'balanced' for "
                    "weights inversely proportional to the training label frequencies.")
flags.mark_flags_as_required(["task_name"])

def class_weights(text: str | None, labels: np.ndarray, num_labels: int) -> list[float] | None:
    """Parses --class_weights ('w0,w1,...' or 'balanced')."""
    if not text:
        return None
    if text == "balanced":
        counts = np.bincount(labels.astype(np.int64), minlength=num_labels).astype(float)
        return [len(labels) / (num_labels * max(count, 1.0)) for count in counts]
    try:
        weights = [float(part) for part in text.split(",")]
    except ValueError as error:
        raise UserInputError(f"--class_weights={text!r}: give numbers separated by commas, "
                             "or 'balanced'.") from error
    if len(weights) != num_labels or min(weights) < 0:
        raise UserInputError(f"--class_weights={text!r}: need {num_labels} non-negative "
                             "weights, one per label in the label list's order.")
    return weights


def main(argv: list[str]) -> None:
    """Trains, evaluates, predicts and exports as the flags say; see the docstring."""
    del argv
    fine_tuning_flags.validate_flags()
    saved = fine_tuning_flags.saved_task(RUN_KIND)
    keras.utils.set_random_seed(FLAGS.seed)
    config, vocab_file = fine_tuning_flags.model_files()
    tokenizer = tokenization.FullTokenizer(vocab_file, do_lower_case=FLAGS.do_lower_case)
    generic = FLAGS.task_name.lower() in classification_data.GENERIC_TASKS
    processor = classification_data.get_processor(
        FLAGS.task_name, data_dir=FLAGS.data_dir, text_a_column=FLAGS.text_a_column,
        text_b_column=FLAGS.text_b_column, label_column=FLAGS.label_column,
        # Without training data, a user task's labels are the ones it was trained with.
        labels=saved["labels"] if generic and saved and not FLAGS.do_train else None)
    train_examples = (processor.get_train_examples(FLAGS.data_dir) if FLAGS.do_train
                      else None)
    if saved is not None and not FLAGS.do_train:
        task = saved
    else:
        task = {"task_name": FLAGS.task_name.lower(), "labels": processor.get_labels(),
                "is_regression": processor.is_regression,
                "pair": any(example.text_b is not None for example in train_examples or [])}
        if saved is not None and saved["labels"] != task["labels"]:
            raise UserInputError(
                f"--output_dir {FLAGS.output_dir} holds a model trained with labels "
                f"{saved['labels']}, but the data has {task['labels']}; use a new "
                "--output_dir.")
    num_labels = 1 if task["is_regression"] else len(task["labels"])
    trim = fine_tuning_flags.dynamic_padding()

    def features_of(examples, split: str) -> dict:
        features, truncated = classification_data.convert_examples_to_features(
            examples, task["labels"], FLAGS.max_seq_length, tokenizer,
            is_regression=task["is_regression"])
        logging.info("%s: %d examples, %d truncated to --max_seq_length=%d.", split,
                     len(examples), truncated, FLAGS.max_seq_length)
        return features

    def ordered_dataset(features: dict, batch_size: int) -> tf.data.Dataset:
        return classification_dataset.classification_dataset(
            features, batch_size, is_training=False, trim_padding=trim)

    def predict_logits(model, features: dict, batch_size: int) -> np.ndarray:
        batches = training.predict(strategy, model, ordered_dataset(features, batch_size))
        return np.concatenate(batches)[:len(features["label_ids"])]

    strategy = fine_tuning_flags.strategy_from_flags()
    num_train_steps = 1
    if train_examples is not None:
        num_train_steps = max(1, int(len(train_examples) / FLAGS.train_batch_size
                                     * FLAGS.num_train_epochs))
    dev_features = (features_of(processor.get_dev_examples(FLAGS.data_dir), "dev")
                    if FLAGS.do_eval or FLAGS.early_stopping_patience else None)

    def evaluate(model) -> dict:
        logits = predict_logits(model, dev_features, FLAGS.eval_batch_size)
        labels = dev_features["label_ids"]
        loss = classification_objectives.evaluation_loss(logits, labels)
        predictions = logits[:, 0] if task["is_regression"] else logits.argmax(-1)
        results = {"eval_loss": loss, "loss": loss,
                   **metrics.task_metrics(task["task_name"], predictions, labels)}
        if not task["is_regression"]:
            logging.info("Dev set:\n%s", metrics.classification_report(
                predictions, labels, task["labels"]))
        return results

    train_features = features_of(train_examples, "train") if train_examples else None
    test_features = (features_of(processor.get_test_examples(FLAGS.data_dir), "test")
                     if FLAGS.do_predict else None)
    weights = (class_weights(FLAGS.class_weights, train_features["label_ids"], num_labels)
               if train_features is not None and not task["is_regression"] else None)
    trainer = fine_tuning_flags.build_trainer(
        strategy, lambda: BertClassifier(config, num_labels),
        lambda model: classification_objectives.classification_loss_fn(num_labels, weights),
        num_train_steps, initialize_missing=("output_", "bert/pooler/"), run_kind=RUN_KIND)
    model = trainer.model
    # Every input is read and checked: only now is anything written.
    if task is not saved:
        fine_tuning.write_task_info(FLAGS.output_dir, task, RUN_KIND)

    def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
        return classification_dataset.classification_dataset(
            train_features, context.get_per_replica_batch_size(FLAGS.train_batch_size),
            is_training=True, seed=FLAGS.seed, input_context=context, trim_padding=trim)

    if FLAGS.do_train:
        logging.info("Training on %d examples for %d steps (batch %d).",
                     len(train_examples), num_train_steps, FLAGS.train_batch_size)
    fine_tuning_flags.train_or_restore(trainer, dataset_fn, num_train_steps, evaluate,
                                       metrics.primary_metric(task["task_name"]))

    if FLAGS.do_eval:
        results = {**evaluate(model), "global_step": trainer.step}
        outputs.write_eval_results(FLAGS.output_dir, results)
        logging.info("Eval results: %s", results)
    if FLAGS.do_predict:
        logits = predict_logits(model, test_features, FLAGS.predict_batch_size)
        rows = (logits if task["is_regression"]
                else classification_objectives.softmax(logits))
        path = outputs.write_test_results(FLAGS.output_dir, rows)
        logging.info("Wrote %d predictions to %s", len(rows), path)
    if FLAGS.export_dir:
        version = export.export_classifier(
            model, FLAGS.export_dir, vocab_file=vocab_file,
            do_lower_case=FLAGS.do_lower_case, max_seq_length=FLAGS.max_seq_length,
            label_list=None if task["is_regression"] else task["labels"],
            pair=task["pair"])
        logging.info("Exported the SavedModel to %s", version)


if __name__ == "__main__":
    cli.run(main)
