"""run_squad.py end to end on a tiny model: learning SQuAD 1.1 and 2.0 style data,
Google's three prediction files, scores as the official scripts compute them
(tf-models' copies as the reference), the export answering as the script predicted,
clear errors, resuming; and the span loss. (The Hugging Face QA head loading into
`BertSpanExtractor` is in tests/test_hugging_face_checkpoints.py.)"""

import json
import random
import sys

import numpy as np
import pytest
import tensorflow as tf

from bert_tf.tasks.squad import objectives
from tests.conftest import REPO_ROOT, SAMPLE_VOCAB
from tests.conftest import assert_same_weights, error_lines, kill_and_resume_fine_tuning
from tests.conftest import eval_results as _results
from tests.conftest import run_command

PLACES = ["eastbrook", "harbour", "valley", "village", "town", "city", "quarry", "square"]
DAYS = ["saturday", "tuesday", "midday", "evenings", "mornings"]
FILLER = ("the river mill bridge bread flour water market children library people time "
          "day yeast salt dough bakes walked sells farmers wheat barley oven church "
          "clock fog hills path school sea station summer tea trains walkers weather").split()
MAX_SEQ_LENGTH = 40
WHERE, WHEN = "where did it happen ?", "when did it happen ?"


def _paragraph(rng: random.Random, index: int, unanswerable: bool) -> dict:
    """Filler words with "in PLACE" (asked "where") or "on DAY" (asked "when")
    inserted, or, for an unanswerable question, neither; every 5th passage is too long
    for one window. The answer is the word after "in" or "on": a tiny model learns
    that much in a few hundred steps."""
    words = rng.choices(FILLER, k=rng.randint(30, 50) if index % 5 == 4
                        else rng.randint(4, 14))
    where = rng.random() < 0.5
    answer_word = rng.choice(PLACES if where else DAYS)
    if not unanswerable:
        words[rng.randrange(len(words) + 1):0] = ["in" if where else "on", answer_word]
    context = " ".join(words)
    qas = {"id": f"q{index}", "question": WHERE if where else WHEN}
    if unanswerable:
        qas.update(answers=[], is_impossible=True)
    else:
        position = words.index(answer_word)
        start = len(" ".join(words[:position])) + 1
        assert context[start:start + len(answer_word)] == answer_word
        qas["answers"] = [{"text": answer_word, "answer_start": start}]
    return {"context": context, "qas": [qas]}


def _write_squad(path, count: int, seed: int, version_2: bool = False):
    rng = random.Random(seed)
    paragraphs = [_paragraph(rng, index, version_2 and index % 3 == 0)
                  for index in range(count)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": "2.0" if version_2 else "1.1", "data": [
        {"title": "tiny", "paragraphs": paragraphs}]}), encoding="utf-8")
    return path


def _command(data_dir, output_dir, model_files, *flags, runner=()) -> list[str]:
    return [sys.executable, *runner, str(REPO_ROOT / "run_squad.py"),
            f"--output_dir={output_dir}", f"--vocab_file={SAMPLE_VOCAB}",
            f"--bert_config_file={model_files / 'bert_config.json'}",
            f"--init_checkpoint={model_files / 'bert_model.ckpt'}",
            f"--train_file={data_dir / 'train.json'}",
            f"--predict_file={data_dir / 'dev.json'}",
            f"--max_seq_length={MAX_SEQ_LENGTH}", "--doc_stride=12", "--max_query_length=8",
            "--train_batch_size=16", "--predict_batch_size=8", "--learning_rate=3e-3",
            "--log_steps=50", "--iterations_per_loop=50", *flags]


def _run(data_dir, output_dir, model_files, *flags, check=True):
    return run_command(_command(data_dir, output_dir, model_files, *flags), check=check)


def _dataset(path) -> list:
    return json.loads(path.read_text())["data"]


@pytest.mark.parametrize("version_2", [False, True], ids=["squad_1.1", "squad_2.0"])
def test_tiny_model_learns_and_writes_googles_files(tmp_path, model_files, version_2):
    squad_lib_tools = pytest.importorskip("official.nlp.tools.squad_evaluate_v2_0")
    from official.nlp.tools import squad_evaluate_v1_1
    data = tmp_path / "data"
    _write_squad(data / "train.json", 300, seed=1, version_2=version_2)
    dev = _write_squad(data / "dev.json", 40, seed=2, version_2=version_2)
    output = tmp_path / "out"
    flags = ["--version_2_with_negative"] if version_2 else []
    result = _run(data, output, model_files, "--do_train", "--do_eval", "--do_predict",
                  "--num_train_epochs=30", "--save_checkpoints_steps=10000", *flags)
    results = _results(output)
    questions = [qa for paragraph in _dataset(dev)[0]["paragraphs"] for qa in paragraph["qas"]]
    # Google's files: indent 4, one entry per question in file order.
    predictions_text = (output / "predictions.json").read_text()
    predictions = json.loads(predictions_text)
    assert predictions_text == json.dumps(predictions, indent=4) + "\n"
    assert list(predictions) == [qa["id"] for qa in questions]
    nbest = json.loads((output / "nbest_predictions.json").read_text())
    assert list(nbest) == list(predictions)
    for qas_id, entries in nbest.items():
        assert all(list(entry) == ["text", "probability", "start_logit", "end_logit"]
                   for entry in entries)
        assert sum(entry["probability"] for entry in entries) == pytest.approx(1.0)
        scores = [entry["start_logit"] + entry["end_logit"] for entry in entries]
        if not version_2:
            assert entries[0]["text"] == predictions[qas_id]
            assert scores == sorted(scores, reverse=True)
    assert "windows" in result.stderr
    if version_2:
        null_odds = json.loads((output / "null_odds.json").read_text())
        assert list(null_odds) == list(predictions)
        expected = squad_lib_tools.evaluate(_dataset(dev), predictions, null_odds)
        # tf-models' copy of evaluate-v2.0.py calls the best-threshold scores final_*.
        for name, reference in (("best_exact", "final_exact"), ("best_f1", "final_f1"),
                                ("best_exact_thresh", "final_exact_thresh"),
                                ("best_f1_thresh", "final_f1_thresh"),
                                *((name, name) for name in ("exact", "f1", "HasAns_exact",
                                                            "HasAns_f1", "NoAns_exact",
                                                            "NoAns_f1"))):
            assert results[name] == pytest.approx(expected[reference], abs=1e-6), name
        assert results["exact_match"] == pytest.approx(expected["exact"], abs=1e-6)
        # Unanswerable questions are learned: most get "" (about 90 in practice).
        assert results["NoAns_exact"] >= 70 and results["HasAns_f1"] >= 70, results
    else:
        assert not (output / "null_odds.json").exists()
        expected = squad_evaluate_v1_1.evaluate(_dataset(dev), predictions)
        # tf-models' copy of evaluate-v1.1.py gives fractions, not percentages.
        assert results["exact_match"] == pytest.approx(100 * expected["exact_match"],
                                                       abs=1e-6)
        assert results["f1"] == pytest.approx(100 * expected["final_f1"], abs=1e-6)
        # The answer is the word after "in" or "on": about 95 in practice, where
        # always answering the first word would score about 0.
        assert results["exact_match"] >= 80, results
    info = json.loads((output / "task_info.json").read_text())
    assert info == {"version": 2, "run_kind": "run_squad.py",
                    "version_2_with_negative": version_2}


def test_prediction_alone_reuses_the_checkpoint_and_the_export_answers_alike(
        tmp_path, model_files):
    import tensorflow_text  # noqa: F401  Registers the ops the SavedModel uses.
    data = tmp_path / "data"
    _write_squad(data / "train.json", 80, seed=1)
    dev = _write_squad(data / "dev.json", 20, seed=3)
    output, export_dir = tmp_path / "out", tmp_path / "export"
    _run(data, output, model_files, "--do_train", "--num_train_epochs=3")
    # No training file needed to predict and export with the saved model.
    (data / "train.json").unlink()
    _run(data, output, model_files, "--do_predict", f"--export_dir={export_dir}")
    predictions = json.loads((output / "predictions.json").read_text())
    paragraphs = _dataset(dev)[0]["paragraphs"]
    pairs = [(qa["question"], paragraph["context"], qa["id"])
             for paragraph in paragraphs for qa in paragraph["qas"]]
    (version,) = list(export_dir.iterdir())
    serve = tf.saved_model.load(str(version)).signatures["serving_default"]
    served = serve(question=tf.constant([question for question, _, _ in pairs]),
                   context=tf.constant([context for _, context, _ in pairs]))
    answers = [answer.decode() for answer in served["answer"].numpy()]
    assert answers == [predictions[qas_id] for _, _, qas_id in pairs]
    for (_, context, _), answer, start, end in zip(
            pairs, answers, served["start_char"].numpy(), served["end_char"].numpy()):
        assert context[start:end] == answer


def _error(tmp_path, model_files, data, *flags) -> str:
    result = _run(data, tmp_path / "out", model_files, *flags, check=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1, result.stderr[-2000:]
    assert not (tmp_path / "out").exists()  # Nothing written before the check.
    return lines[0]


def test_bad_input_is_one_clear_line_before_any_training(tmp_path, model_files):
    data = tmp_path / "data"
    train = _write_squad(data / "train.json", 10, seed=1)
    _write_squad(data / "dev.json", 5, seed=2)
    message = _error(tmp_path, model_files, data, "--do_train", "--max_query_length=37")
    assert "--max_seq_length=40" in message or "--max_query_length=37" in message

    message = _error(tmp_path, model_files, data, "--do_predict", "--predict_file=")
    assert "--predict_file" in message

    text = train.read_text()
    train.write_text(text[:200] + "}" + text[200:])
    message = _error(tmp_path, model_files, data, "--do_train")
    assert str(train) in message and "line 1" in message

    dev = _write_squad(data / "dev.json", 5, seed=2, version_2=True)
    _write_squad(data / "train.json", 10, seed=1)
    message = _error(tmp_path, model_files, data, "--do_train", "--do_eval",
                     "--version_2_with_negative=false")
    assert str(dev) in message


def test_killed_run_resumes_with_dropout_to_the_same_weights(tmp_path, model_files):
    data = tmp_path / "data"
    _write_squad(data / "train.json", 60, seed=1)
    straight, killed, _ = kill_and_resume_fine_tuning(
        _command, data, model_files, tmp_path, ["--num_train_epochs=6",
                                                "--train_batch_size=8"])
    last = tf.train.latest_checkpoint(str(straight))
    assert int(last.rsplit("-", 1)[1]) > 15
    assert_same_weights(last, tf.train.latest_checkpoint(str(killed)))


def test_span_loss_is_the_mean_of_start_and_end_cross_entropy():
    rng = np.random.default_rng(0)
    start_logits, end_logits = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    starts, ends = np.array([0, 2, 4]), np.array([1, 2, 4])
    real = np.array([1.0, 1.0, 0.0])  # The last row only fills the batch.

    def cross_entropy(logits, targets):
        log_probabilities = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        return -log_probabilities[np.arange(len(targets)), targets]

    expected = np.sum((cross_entropy(start_logits, starts) + cross_entropy(end_logits, ends))
                      / 2 * real) / 3
    loss = objectives.span_loss_fn()(
        {"start_logits": tf.constant(start_logits, tf.float32),
         "end_logits": tf.constant(end_logits, tf.float32)},
        {"start_positions": tf.constant(starts), "end_positions": tf.constant(ends),
         "is_real_example": tf.constant(real, tf.float32)})
    assert float(loss["loss"]) == pytest.approx(expected, rel=1e-5)
    hits = (start_logits.argmax(-1) == starts) * real
    assert float(loss["start_correct"]) == hits.sum() and float(loss["start_count"]) == 2
