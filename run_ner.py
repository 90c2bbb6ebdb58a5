"""Fine-tunes BERT for named-entity recognition on CoNLL-format data.

    python run_ner.py --do_train=true --do_eval=true --do_predict=true \
      --data_dir=conll2003 --vocab_file=cased_L-12_H-768_A-12/vocab.txt \
      --bert_config_file=cased_L-12_H-768_A-12/bert_config.json \
      --init_checkpoint=cased_L-12_H-768_A-12/bert_model.ckpt --do_lower_case=false \
      --max_seq_length=128 --train_batch_size=32 --learning_rate=5e-5 \
      --num_train_epochs=3.0 --output_dir=/tmp/ner_output/

--data_dir holds `train.txt`, `dev.txt` (or `valid.txt`, or CoNLL-2003's `eng.testa`)
and `test.txt`: one word per line, the word first and its tag last, a blank line
after each sentence (see `bert_tf/tasks/ner/conll.py`). Tags may be IOB1 (as CoNLL-2003
ships), IOB2, IOBES or BILOU (--label_scheme, detected by default). The labels come
from the training file and are saved in --output_dir, so evaluation or prediction runs
without --do_train reuse them.

Each word's tag is learned and predicted at its first WordPiece. A sentence longer
than a window is split into overlapping windows (--doc_stride), never truncated: every
word gets exactly one prediction. --document_context fills windows with the
neighbouring sentences of the document, as the BERT paper did for CoNLL-2003.
--use_crf adds a linear-chain CRF over the words' labels.

--do_eval writes entity-level precision, recall and F1 (overall and per type, as
conlleval counts them) and token accuracy to eval_results.txt; --do_predict writes
test_predictions.txt, `word gold predicted` per line in the test file's tag scheme,
which conlleval reads. Re-running the same command after the process died resumes
from the last checkpoint in --output_dir.
"""

import os

import keras
import numpy as np
import tensorflow as tf
from absl import flags, logging

from bert_tf.cli import flags as fine_tuning_flags
from bert_tf.cli import app as cli
from bert_tf.serving import export
from bert_tf.training import fine_tuning
from bert_tf.tasks.ner import objectives as ner_objectives
from bert_tf.tasks.ner import predictions as ner_predictions
from bert_tf import io as outputs
from bert_tf.text import tokenization
from bert_tf.training import trainer as training
from bert_tf.tasks.ner import conll
from bert_tf.tasks.ner import dataset as ner_dataset
from bert_tf.tasks.ner import features as ner_features
from bert_tf.errors import UserInputError
from bert_tf.modeling import BertCrfTokenClassifier, BertTokenClassifier

FLAGS = flags.FLAGS
RUN_KIND = "run_ner.py"

fine_tuning_flags.define_flags()
flags.DEFINE_enum("label_scheme", "auto", ["auto", *conll.SCHEMES], "Tag scheme of the "
                  "data files; 'auto' detects it in each file. Predictions are written in "
                  "the test file's scheme.")
flags.DEFINE_integer("doc_stride", None, "How many WordPieces apart the overlapping "
                     "windows of a sentence longer than --max_seq_length start. Default: "
                     "half a window.")
flags.DEFINE_bool("document_context", False, "Fill each window with the neighbouring "
                  "sentences of the same document (only the sentence's own words are "
                  "labelled).")
flags.DEFINE_bool("use_crf", False, "Add a linear-chain CRF on the token logits "
                  "(trained by its likelihood, decoded by Viterbi).")
flags.DEFINE_integer("max_words_per_request", export.DEFAULT_MAX_WORDS_PER_REQUEST,
                     "With --export_dir: the most words one text (one row of a batch) sent "
                     "to the exported model may hold; a longer one is refused with an error "
                     "giving its word count and this limit.", lower_bound=1)

PREDICTIONS = "test_predictions.txt"
PRIMARY_METRIC = "eval_f1"


def validate_ner_flags() -> None:
    """Checks the flags of this script that need neither data nor model."""
    size = FLAGS.max_seq_length - 2
    if FLAGS.doc_stride is not None and not 1 <= FLAGS.doc_stride <= size:
        raise UserInputError(f"--doc_stride={FLAGS.doc_stride} must be between 1 and "
                             f"--max_seq_length - 2 = {size}.")


def task_from(train_file: conll.ConllFile | None, saved: dict | None) -> dict:
    """The task to run: labels (IOB2, from the training file), the training file's tag
    scheme and whether the model has a CRF (`saved` itself when it is to be reused).

    Raises:
      UserInputError: if --output_dir holds a model of other labels or head, or there
        is neither training data nor a saved task.
    """
    if train_file is None:
        if saved is None:
            # A model fine-tuned elsewhere: its labels are those of the training file.
            train_file = conll.read_split(FLAGS.data_dir, "train", FLAGS.label_scheme)
        else:
            if FLAGS["use_crf"].present and FLAGS.use_crf != saved["use_crf"]:
                raise UserInputError(
                    f"--use_crf={FLAGS.use_crf}, but the model in --output_dir "
                    f"{FLAGS.output_dir} was trained with --use_crf={saved['use_crf']}; "
                    "leave out --use_crf to use the saved setting.")
            return saved
    task = {"task": "ner", "labels": conll.label_list(train_file.sentences),
            "scheme": train_file.scheme, "use_crf": FLAGS.use_crf}
    if saved is not None and (saved["labels"], saved["use_crf"]) != (task["labels"],
                                                                      task["use_crf"]):
        raise UserInputError(
            f"--output_dir {FLAGS.output_dir} holds a model trained with labels "
            f"{saved['labels']} and --use_crf={saved['use_crf']}, but this run has "
            f"{task['labels']} and --use_crf={task['use_crf']}; use a new --output_dir.")
    return task


def main(argv: list[str]) -> None:
    """Trains, evaluates and predicts as the flags say; see the module docstring."""
    del argv
    fine_tuning_flags.validate_flags()
    validate_ner_flags()
    saved = fine_tuning_flags.saved_task(RUN_KIND)
    keras.utils.set_random_seed(FLAGS.seed)
    config, vocab_file = fine_tuning_flags.model_files()
    tokenizer = tokenization.FullTokenizer(vocab_file, do_lower_case=FLAGS.do_lower_case)
    # Every file is read (and checked) before any training.
    train_file = (conll.read_split(FLAGS.data_dir, "train", FLAGS.label_scheme)
                  if FLAGS.do_train else None)
    dev_file = (conll.read_split(FLAGS.data_dir, "dev", FLAGS.label_scheme)
                if FLAGS.do_eval or FLAGS.early_stopping_patience else None)
    test_file = (conll.read_split(FLAGS.data_dir, "test", FLAGS.label_scheme)
                 if FLAGS.do_predict else None)
    task = task_from(train_file, saved)
    labels = task["labels"]
    label_map = {label: index for index, label in enumerate(labels)}
    trim = fine_tuning_flags.dynamic_padding()

    def features_of(conll_file: conll.ConllFile) -> ner_features.NerFeatures:
        features = ner_features.convert_documents(
            conll_file.documents, tokenizer, label_map, FLAGS.max_seq_length,
            FLAGS.doc_stride, FLAGS.document_context)
        windows_per_sentence = np.bincount(features.mapping.sentence_index,
                                           minlength=len(conll_file.sentences))
        logging.info("%s (%s): %d sentences, %d words, %d windows (%d sentences longer "
                     "than one window).", conll_file.path, conll_file.scheme,
                     len(conll_file.sentences), int(features.label_weights.sum()),
                     len(features.input_ids), int(np.sum(windows_per_sentence > 1)))
        return features

    def window_logits(model, features: ner_features.NerFeatures,
                      batch_size: int) -> np.ndarray:
        """float32 [N, max_seq_length, num_labels], in window order."""
        dataset = ner_dataset.ner_dataset(features.arrays(), batch_size, is_training=False,
                                          trim_padding=trim)
        batches = training.predict(strategy, model, dataset)
        padded = [np.pad(batch, ((0, 0), (0, FLAGS.max_seq_length - batch.shape[1]),
                                 (0, 0))) for batch in batches]
        return np.concatenate(padded)[:len(features.input_ids)]

    def tags_of(model, conll_file: conll.ConllFile, features: ner_features.NerFeatures,
                batch_size: int) -> tuple[list[list[str]], float]:
        """The predicted IOB2 tags of every word, and the loss per word."""
        logits = window_logits(model, features, batch_size)
        crf = model.crf if task["use_crf"] else None
        loss = ner_objectives.evaluation_loss(logits, features.label_ids,
                                              features.label_weights, crf)
        window_labels = ner_objectives.decode(logits, features.label_weights, crf)
        return ner_predictions.sentence_tags(window_labels, features.mapping,
                                             conll_file.sentences, labels), loss

    strategy = fine_tuning_flags.strategy_from_flags()
    train_features = features_of(train_file) if train_file is not None else None
    dev_features = features_of(dev_file) if dev_file is not None else None
    test_features = features_of(test_file) if test_file is not None else None
    num_train_steps = 1
    if train_features is not None:
        num_train_steps = max(1, int(len(train_features.input_ids)
                                     / FLAGS.train_batch_size * FLAGS.num_train_epochs))
    model_class = BertCrfTokenClassifier if task["use_crf"] else BertTokenClassifier
    trainer = fine_tuning_flags.build_trainer(
        strategy, lambda: model_class(config, len(labels)),
        lambda model: ner_objectives.token_classification_loss_fn(
            model.crf if task["use_crf"] else None),
        num_train_steps, initialize_missing=("output_", "bert/pooler/", "crf/"),
        run_kind=RUN_KIND)
    model = trainer.model
    # Every input is read and checked: only now is anything written.
    if task is not saved:
        fine_tuning.write_task_info(FLAGS.output_dir, task, RUN_KIND)

    def evaluate(model) -> dict:
        predicted, loss = tags_of(model, dev_file, dev_features, FLAGS.eval_batch_size)
        scores, report = ner_predictions.entity_scores(
            dev_file, predicted, ner_predictions.file_scheme(dev_file, task["scheme"]))
        logging.info("Dev set %s:\n%s", dev_file.path, report)
        return {"eval_loss": loss, "loss": loss, **scores}

    def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
        return ner_dataset.ner_dataset(
            train_features.arrays(),
            context.get_per_replica_batch_size(FLAGS.train_batch_size),
            is_training=True, seed=FLAGS.seed, input_context=context, trim_padding=trim)

    if FLAGS.do_train:
        logging.info("Training on %d windows for %d steps (batch %d).",
                     len(train_features.input_ids), num_train_steps,
                     FLAGS.train_batch_size)
    fine_tuning_flags.train_or_restore(trainer, dataset_fn, num_train_steps, evaluate,
                                       PRIMARY_METRIC)

    if FLAGS.do_eval:
        results = {**evaluate(model), "global_step": trainer.step}
        outputs.write_eval_results(FLAGS.output_dir, results)
        logging.info("Eval results: %s", results)
    if FLAGS.do_predict:
        predicted, _ = tags_of(model, test_file, test_features, FLAGS.predict_batch_size)
        path = outputs.write_atomically(
            os.path.join(FLAGS.output_dir, PREDICTIONS),
            ner_predictions.conll_lines(test_file, predicted,
                                        ner_predictions.file_scheme(test_file,
                                                                    task["scheme"])))
        logging.info("Wrote predictions for %d sentences to %s", len(predicted), path)
    if FLAGS.export_dir:
        version = export.export_token_classifier(
            model, FLAGS.export_dir, vocab_file=vocab_file,
            do_lower_case=FLAGS.do_lower_case, max_seq_length=FLAGS.max_seq_length,
            label_list=labels, doc_stride=FLAGS.doc_stride,
            max_words_per_request=FLAGS.max_words_per_request)
        logging.info("Exported the SavedModel to %s", version)


if __name__ == "__main__":
    cli.run(main)
