"""run_ner.py end to end on tiny models (learning, predictions for every word in CoNLL
format, eval-only runs, clear errors, resuming, the task file), and its pieces: losses,
input, CRF checkpoint names. One file of ~400 lines: a split would build the
module-scoped tiny model (`model_files`) once per file."""

import collections
import json
import random
import sys

import numpy as np
import pytest
import tensorflow as tf

from bert_tf import checkpoints
from bert_tf.configs import BertConfig
from bert_tf.errors import InvalidArgumentError, UserInputError
from bert_tf.modeling import BertClassifier, BertCrfTokenClassifier
from bert_tf.tasks.base import FineTuningOptions
from bert_tf.tasks.ner import conll
from bert_tf.tasks.ner import dataset as ner_dataset
from bert_tf.tasks.ner import entity_metrics
from bert_tf.tasks.ner import objectives as ner_objectives
from bert_tf.tasks.ner.task import NerInfo, NerOptions, NerTask
from bert_tf.text.tokenization import FullTokenizer
from bert_tf.training import optimization
from bert_tf.training.checkpoints import RECORD, TrainingCheckpoints
from tests.conftest import REPO_ROOT, SAMPLE_VOCAB
from tests.conftest import TINY_BERT as TINY
from tests.conftest import assert_same_weights, kill_and_resume_fine_tuning
from tests.conftest import checkpoint_weights as _weights
from tests.conftest import error_lines, run_command
from tests.conftest import eval_results as _results

# One pool for people and places: only the word before a name tells which it is.
NAMES = ["Tom", "Anna", "Ashby", "Fenwick", "Carter", "Westford", "Marsh", "Hale"]
FILLER = ("the river mill bridge bread flour water market village children library "
          "people time day yeast salt dough bakes walked sells").split()
MAX_SEQ_LENGTH = 24


def _sentence(rng: random.Random, long: bool) -> list[tuple[str, str]]:
    """Filler words with 'mr NAME [NAME]' (a person) and 'in NAME' (a place) inserted;
    IOB2 tags."""
    parts: list[list[tuple[str, str]]] = [[(word, "O")] for word in
                                          rng.sample(FILLER, 12 if long else 4)]
    for _ in range(4 if long else rng.randint(1, 2)):
        if rng.random() < 0.5:
            names = rng.sample(NAMES, rng.choice([1, 1, 2]))
            entity = [("mr", "O"), (names[0], "B-PER")] + [(n, "I-PER") for n in names[1:]]
        else:
            entity = [("in", "O"), (rng.choice(NAMES), "B-LOC")]
        parts.insert(rng.randrange(len(parts) + 1), entity)
    return [pair for part in parts for pair in part]


def _write_conll(path, rng: random.Random, count: int, scheme: str) -> None:
    """`count` sentences in `scheme`, a -DOCSTART- line before every 8, and every 10th
    sentence too long for one window of MAX_SEQ_LENGTH."""
    lines = []
    for index in range(count):
        if index % 8 == 0:
            lines += ["-DOCSTART- -X- -X- O", ""]
        pairs = _sentence(rng, long=index % 10 == 9)
        tags = conll.from_iob2([tag for _, tag in pairs], scheme)
        lines += [f"{word} NN {tag}" for (word, _), tag in zip(pairs, tags)] + [""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_task(directory, counts=(("train", 400), ("dev", 60), ("test", 45)),
                test_scheme="iobes"):
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    for split, count in counts:
        _write_conll(directory / f"{split}.txt", rng, count,
                     test_scheme if split == "test" else "iob2")
    return directory


def _command(data_dir, output_dir, model_files, *flags, runner=()) -> list[str]:
    return [sys.executable, *runner, str(REPO_ROOT / "run_ner.py"), f"--data_dir={data_dir}",
            f"--output_dir={output_dir}", f"--vocab_file={SAMPLE_VOCAB}",
            f"--bert_config_file={model_files / 'bert_config.json'}",
            f"--init_checkpoint={model_files / 'bert_model.ckpt'}",
            f"--max_seq_length={MAX_SEQ_LENGTH}", "--train_batch_size=16",
            "--eval_batch_size=8", "--predict_batch_size=8", "--learning_rate=3e-3",
            "--log_steps=25", "--iterations_per_loop=25", *flags]


def _run(data_dir, output_dir, model_files, *flags, check=True):
    return run_command(_command(data_dir, output_dir, model_files, *flags), check=check)


def _word_lookup_f1(data) -> float:
    """Dev F1 of tagging each word with its most frequent training tag: what a model
    gets without context."""
    counts = collections.defaultdict(collections.Counter)
    for sentence in conll.read_split(str(data), "train").sentences:
        for word, tag in zip(sentence.words, sentence.tags):
            counts[word][tag] += 1
    dev = conll.read_split(str(data), "dev").sentences
    predicted = [[counts[word].most_common(1)[0][0] if counts[word] else "O"
                  for word in sentence.words] for sentence in dev]
    return entity_metrics.evaluate([s.tags for s in dev], predicted)["f1"]


@pytest.mark.parametrize("crf_flags", [
    ["--save_checkpoints_steps=10000"],
    # Evaluates every 300 steps and keeps the best weights (CRF included) in best/.
    ["--use_crf", "--document_context", "--save_checkpoints_steps=300",
     "--early_stopping_patience=10"]], ids=["softmax", "crf_document_context_best"])
def test_tiny_model_learns_and_predicts_every_word_once(tmp_path, model_files, crf_flags):
    data = _write_task(tmp_path / "data")
    output = tmp_path / "out"
    result = _run(data, output, model_files, "--do_train", "--do_eval", "--do_predict",
                  "--num_train_epochs=40", *crf_flags)
    results = _results(output)
    baseline = _word_lookup_f1(data)
    assert baseline < 0.5
    # About 0.9 in practice; the dev set has about 100 entities.
    assert results["eval_f1"] >= 0.8 and results["eval_f1"] > baseline + 0.3, results
    assert results["eval_f1_PER"] >= 0.7 and results["eval_f1_LOC"] >= 0.85
    assert results["eval_accuracy"] >= 0.95
    assert set(results) >= {"eval_precision", "eval_recall", "eval_loss", "loss",
                            "global_step", "eval_precision_LOC", "eval_recall_PER"}
    assert results["eval_loss"] < 0.5
    assert "processed" in result.stderr and "FB1:" in result.stderr  # conlleval report.
    info = json.loads((output / "task_info.json").read_text())
    use_crf = "--use_crf" in crf_flags
    assert info == {"version": 2, "run_kind": "run_ner.py",
                    "labels": ["O", "B-LOC", "B-PER", "I-LOC", "I-PER"], "scheme": "iob2",
                    "use_crf": use_crf}
    if use_crf:
        best = json.loads((output / "best" / "best_metric.json").read_text())
        assert best["metric"] == "eval_f1"
        assert best["step"] % 300 == 0 or best["step"] == results["global_step"]
        assert "Using the best weights on the dev set" in result.stderr
        # The final evaluation is of the best weights, read back from best/.
        assert results["eval_f1"] == pytest.approx(best["value"], abs=1e-9)
    assert "sentences longer than one window" in result.stderr
    assert "(0 sentences longer" not in result.stderr  # The long ones got windows.

    # Every test word once, in order, `word gold predicted`, gold and predictions in
    # the test file's own scheme (IOBES), documents kept.
    test = conll.read_split(str(data), "test")
    text = (output / "test_predictions.txt").read_text()
    rows = [line.split() for line in text.splitlines() if line]
    assert {len(row) for row in rows} == {3}  # conlleval needs one column count.
    assert sum(row[0] == "-DOCSTART-" for row in rows) == len(test.documents)
    words = [row for row in rows if row[0] != "-DOCSTART-"]
    assert [row[0] for row in words] == [w for s in test.sentences for w in s.words]
    assert [row[1] for row in words] == [
        tag for s in test.sentences for tag in conll.from_iob2(s.tags, "iobes")]
    # Read back strictly as IOBES, the predicted column is well formed, with the same
    # sentences and documents, and mostly right.
    predicted = conll.read_conll(str(output / "test_predictions.txt"), "iobes")
    assert [len(d) for d in predicted.documents] == [len(d) for d in test.documents]
    assert [s.words for s in predicted.sentences] == [s.words for s in test.sentences]
    scores = entity_metrics.evaluate([s.tags for s in test.sentences],
                                     [s.tags for s in predicted.sentences])
    assert scores["f1"] >= 0.75

    if not use_crf:
        # Evaluation alone reuses the saved labels (no training file needed) and the
        # last checkpoint, and scores the same.
        (data / "train.txt").unlink()
        (output / "eval_results.txt").unlink()
        _run(data, output, model_files, "--do_eval")
        again = _results(output)
        assert again["eval_f1"] == results["eval_f1"]
        assert again["global_step"] == results["global_step"]


def _error(tmp_path, model_files, data, *flags) -> str:
    result = _run(data, tmp_path / "out", model_files, *flags, check=False)
    assert result.returncode != 0
    lines = error_lines(result.stderr)
    assert len(lines) == 1, result.stderr[-2000:]
    return lines[0]


def test_bad_input_is_one_clear_line(tmp_path, model_files):
    data = _write_task(tmp_path / "data", counts=(("train", 20), ("dev", 5)))
    text = (data / "train.txt").read_text().splitlines()
    text.insert(5, "lonely")
    (data / "train.txt").write_text("\n".join(text) + "\n")
    message = _error(tmp_path, model_files, data, "--do_train")
    assert f"{data / 'train.txt'}" in message and "line 6" in message
    assert "only one column" in message
    assert not (tmp_path / "out").exists()  # A failed run leaves no empty folder.

    (data / "train.txt").unlink()
    message = _error(tmp_path, model_files, data, "--do_eval")
    # No saved labels and no training file: the paths looked for are named.
    assert f"{data / 'train.txt'}" in message and "eng.train" in message

    _write_task(data, counts=(("train", 20),))
    (data / "dev.txt").unlink()
    message = _error(tmp_path, model_files, data, "--do_train", "--do_eval")
    assert f"{data / 'dev.txt'}" in message and f"{data / 'valid.txt'}" in message

    message = _error(tmp_path, model_files, data, "--do_train", "--doc_stride=30")
    assert "--doc_stride=30" in message and "22" in message


def predicted_sentences(path) -> list[list[list[str]]]:
    """The script's predictions file by sentence: each a list of its `word gold
    predicted` lines, split."""
    sentences, current = [], []
    for line in path.read_text().splitlines() + [""]:
        if line and not line.startswith("-DOCSTART-"):
            current.append(line.split())
        elif current:
            sentences.append(current)
            current = []
    return sentences


def test_export_tags_every_word_as_the_script_predicted(tmp_path, model_files):
    import tensorflow_text  # noqa: F401  Registers the ops the SavedModel uses.
    data = _write_task(tmp_path / "data", counts=(("train", 80), ("test", 30)))
    output, export_dir = tmp_path / "out", tmp_path / "export"
    _run(data, output, model_files, "--do_train", "--do_predict", "--num_train_epochs=2",
         f"--export_dir={export_dir}")
    sentences = predicted_sentences(output / "test_predictions.txt")
    (version,) = list(export_dir.iterdir())
    serve = tf.saved_model.load(str(version)).signatures["serve_words"]
    width = max(len(sentence) for sentence in sentences)
    words = [[word for word, _, _ in sentence] + [""] * (width - len(sentence))
             for sentence in sentences]
    served = serve(words=tf.constant(words))
    tags = served["tags"].numpy().astype(str)
    for row, sentence in enumerate(sentences):
        assert served["num_words"][row] == len(sentence)
        # The file is in the test file's scheme (IOBES), the SavedModel answers in
        # IOB2: compare the entities.
        assert conll.to_iob2(list(tags[row][:len(sentence)])) == conll.to_iob2(
            [predicted for _, _, predicted in sentence])


def test_killed_run_resumes_with_dropout_to_the_same_weights(tmp_path, model_files):
    # Dropout on (Google's 0.1); the killed run dies (SIGKILL) in the middle of saving
    # step 15, the uninterrupted one runs beside it.
    data = _write_task(tmp_path / "data", counts=(("train", 80),))
    straight, killed, _ = kill_and_resume_fine_tuning(_command, data, model_files, tmp_path,
                                                      ["--num_train_epochs=4"])
    last = tf.train.latest_checkpoint(str(straight))
    assert int(last.rsplit("-", 1)[1]) > 15
    final_straight, final_resumed = assert_same_weights(
        last, tf.train.latest_checkpoint(str(killed)))
    assert final_resumed["global_step"] == final_straight["global_step"]


def test_folder_of_a_classifier_run_is_refused_untouched(tmp_path, model_files):
    # As an earlier version of run_classifier.py left it: a record without the run kind,
    # a checkpoint, and its task_info.json without one.
    folder = tmp_path / "classifier"
    model = BertClassifier(BertConfig.from_dict(TINY), 2)
    optimizer = optimization.create_optimizer(1e-3, 10, 1)
    optimizer.build(model.trainable_variables)
    TrainingCheckpoints(str(folder), model, optimizer, 5, "run_classifier.py").save(10)
    (folder / RECORD).write_text(json.dumps({"steps": [10]}) + "\n")
    (folder / "task_info.json").write_text(json.dumps(
        {"task_name": "tsv", "labels": ["O", "B-PER"], "is_regression": False,
         "pair": False}))
    before = {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}
    data = _write_task(tmp_path / "data", counts=(("train", 20), ("dev", 5)))
    result = _run(data, folder, model_files, "--do_train", "--do_eval", check=False)
    errors = error_lines(result.stderr)
    assert len(errors) == 1, result.stderr[-2000:]
    assert "holds the task of a run_classifier.py run (task_info.json), and this is a " \
        "run_ner.py run" in errors[0] and str(folder) in errors[0]
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert {path.name: path.read_bytes() for path in folder.iterdir()
            if path.is_file()} == before


def _batch(seed: int = 0):
    """Random logits [3, 6, 4] with labels and word weights (one row all zero, as the
    padding rows of an evaluation batch)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(3, 6, 4)).astype(np.float32)
    labels = rng.integers(0, 4, size=(3, 6)).astype(np.int32)
    weights = np.array([[0, 1, 0, 1, 1, 0], [0, 1, 1, 1, 1, 1], [0] * 6], np.float32)
    return logits, labels, weights


def test_token_loss_counts_each_word_once_and_matches_evaluation_loss():
    logits, labels, weights = _batch()
    losses = ner_objectives.token_classification_loss_fn()(
        {"logits": tf.constant(logits)},
        {"label_ids": tf.constant(labels), "label_weights": tf.constant(weights)})
    log_probabilities = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = np.take_along_axis(log_probabilities, labels[..., None], -1)[..., 0]
    expected = -(picked * weights).sum() / weights.sum()
    np.testing.assert_allclose(losses["loss"], expected, rtol=1e-5)
    np.testing.assert_allclose(ner_objectives.evaluation_loss(logits, labels, weights),
                               expected, rtol=1e-5)
    correct = (logits.argmax(-1) == labels) * weights
    assert losses["token_count"] == 8 and losses["token_correct"] == correct.sum()


def test_crf_loss_is_the_negative_log_likelihood_per_word():
    from tests.conftest import crf_brute_force

    logits, labels, weights = _batch(1)
    model = BertCrfTokenClassifier(BertConfig.from_dict(TINY), 4)
    rng = np.random.default_rng(2)
    model.crf.transitions.assign(rng.normal(size=(4, 4)).astype(np.float32))
    for scores in (model.crf.start_transitions, model.crf.end_transitions):
        scores.assign(rng.normal(size=4).astype(np.float32))
    loss_fn = ner_objectives.token_classification_loss_fn(model.crf)
    losses = loss_fn({"logits": tf.constant(logits)},
                     {"label_ids": tf.constant(labels), "label_weights": tf.constant(weights)})
    # log p(gold tags of each row's words) by enumerating all 4^words tag paths of the
    # row (the row without words has one empty path, log p 0), not by the CRF's own
    # forward algorithm.
    log_likelihood, best_paths = [], []
    for row_logits, row_labels, row_weights in zip(logits, labels, weights):
        log_probs, best = crf_brute_force(model.crf, row_logits, row_weights)
        log_likelihood.append(log_probs[tuple(row_labels[row_weights > 0])])
        best_paths.append(best)
    expected = -np.sum(log_likelihood) / weights.sum()
    np.testing.assert_allclose(losses["loss"], expected, rtol=1e-5)
    np.testing.assert_allclose(
        ner_objectives.evaluation_loss(logits, labels, weights, model.crf), expected,
        rtol=1e-5)
    # Decoding is Viterbi on the word positions (the best path), not the argmax.
    decoded = ner_objectives.decode(logits, weights, model.crf)
    np.testing.assert_array_equal(decoded, model.crf.decode(logits, weights > 0).numpy())
    assert [tuple(row[row_weights > 0]) for row, row_weights in zip(decoded, weights)] == (
        best_paths)
    assert not decoded[weights == 0].any()


def test_crf_model_names_and_checkpoint_round_trip(tmp_path):
    config = BertConfig.from_dict(TINY)
    model = BertCrfTokenClassifier(config, 5)
    names = checkpoints.google_variable_map(model)
    assert {"crf/transitions", "crf/start_transitions", "crf/end_transitions",
            "output_weights", "output_bias"} <= set(names)
    assert names["crf/transitions"].shape == (5, 5)
    model.crf.transitions.assign(np.arange(25, dtype=np.float32).reshape(5, 5))
    path = checkpoints.save_google_checkpoint(model, str(tmp_path / "model.ckpt"))
    restored = BertCrfTokenClassifier(config, 5)
    checkpoints.load_checkpoint(restored, path)
    np.testing.assert_array_equal(restored.crf.transitions.numpy(),
                                  model.crf.transitions.numpy())
    inputs = {"input_ids": np.array([[2, 10, 11, 3, 0]], np.int32),
              "input_mask": np.array([[1, 1, 1, 1, 0]], np.int32),
              "segment_ids": np.zeros((1, 5), np.int32),
              "label_weights": np.array([[0, 1, 1, 0, 0]], np.float32)}
    outputs = restored(inputs, training=False)
    assert outputs["logits"].shape == (1, 5, 5) and outputs["tags"].shape == (1, 5)
    assert "tags" not in restored(inputs, training=True)


def test_ner_dataset_pads_evaluation_and_trims_every_sequence_feature():
    lengths = [5, 3, 7]
    features = {name: np.zeros((3, 10), np.int32) for name in
                ("input_ids", "input_mask", "segment_ids", "label_ids")}
    features["label_weights"] = np.zeros((3, 10), np.float32)
    for row, length in enumerate(lengths):
        features["input_mask"][row, :length] = 1
        features["input_ids"][row, :length] = np.arange(1, length + 1)
        features["label_ids"][row, 1:length - 1] = row + 1
        features["label_weights"][row, 1:length - 1] = 1
    batches = list(ner_dataset.ner_dataset(features, 2, is_training=False,
                                           trim_padding=True))
    assert [b["input_ids"].shape.as_list() for b in batches] == [[2, 5], [2, 7]]
    for name in ("input_mask", "segment_ids", "label_ids", "label_weights"):
        assert [b[name].shape[1] for b in batches] == [5, 7], name
    assert batches[1]["is_real_example"].numpy().tolist() == [1, 0]
    assert not batches[1]["label_weights"][1].numpy().any()  # The padding row.
    np.testing.assert_array_equal(batches[1]["label_ids"][0], features["label_ids"][2, :7])


@pytest.mark.parametrize("fields", [
    # As the previous version wrote it: no version, "task": "ner" to tell NER files;
    # the run kind was added later.
    {"task": "ner", "labels": ["O", "B-PER", "I-PER"], "scheme": "iob1", "use_crf": True},
    {"task": "ner", "labels": ["O", "B-PER", "I-PER"], "scheme": "iob1", "use_crf": True,
     "run_kind": "run_ner.py"},
    {"version": 2, "run_kind": "run_ner.py", "labels": ["O", "B-PER", "I-PER"],
     "scheme": "iob1", "use_crf": True}])
def test_task_file_of_each_version_is_read(tmp_path, fields):
    (tmp_path / "task_info.json").write_text(json.dumps(fields))
    assert NerInfo.read(str(tmp_path)) == NerInfo(labels=("O", "B-PER", "I-PER"),
                                                  scheme="iob1", use_crf=True)


@pytest.mark.parametrize("fields, message", [
    ({"task": "ner", "labels": ["O"], "use_crf": False},
     "lacks the field 'scheme' of a run_ner.py task"),
    # Version 2 no longer has "task".
    ({"version": 2, "run_kind": "run_ner.py", "task": "ner", "labels": ["O"],
      "scheme": "iob2", "use_crf": False},
     "holds the field 'task', which a run_ner.py task file does not have"),
    ({"version": 2, "run_kind": "run_ner.py", "labels": None, "scheme": "iob2",
      "use_crf": False}, "the field 'labels' is None, not of type")])
def test_a_damaged_task_file_is_one_error_naming_file_and_field(tmp_path, fields, message):
    (tmp_path / "task_info.json").write_text(json.dumps(fields))
    with pytest.raises(UserInputError) as raised:
        NerInfo.read(str(tmp_path))
    assert str(raised.value).startswith(str(tmp_path / "task_info.json"))
    assert message in str(raised.value)


def test_use_crf_is_the_saved_setting_unless_given_otherwise(tmp_path):
    data = _write_task(tmp_path / "data", counts=(("dev", 5),))
    saved = NerInfo(labels=("O", "B-LOC", "B-PER", "I-LOC", "I-PER"), scheme="iob2",
                    use_crf=True)
    options = FineTuningOptions(output_dir=str(tmp_path / "out"), data_dir=str(data),
                                do_eval=True, max_seq_length=MAX_SEQ_LENGTH)
    tokenizer = FullTokenizer(str(SAMPLE_VOCAB))
    for use_crf in (None, True):
        task = NerTask(NerOptions(use_crf=use_crf))
        assert task.prepare(options, tokenizer, saved) is saved
        assert len(task.features["dev"].input_ids) >= 5
    with pytest.raises(InvalidArgumentError) as raised:
        NerTask(NerOptions(use_crf=False)).prepare(options, tokenizer, saved)
    assert raised.value.as_flag() == (
        f"--use_crf=False does not match the model in {tmp_path / 'out'}, trained with "
        "use_crf=True; leave it out to use the saved setting.")
