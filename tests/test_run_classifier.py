"""run_classifier.py end to end on tiny models: learning, predictions in input order,
freezing, early stopping, user tasks, clear errors, resuming, the task file, and long
texts read in windows the same way by the script, later runs and the SavedModel."""

import json
import random
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from bert_tf import checkpoints
from bert_tf.configs import BertConfig
from bert_tf.errors import UserInputError
from bert_tf.modeling import BertClassifier, BertPretrainer
from bert_tf.tasks.classification import data as classification_data
from bert_tf.tasks.classification.task import ClassificationInfo
from bert_tf.text import tokenization
from bert_tf.training import optimization
from bert_tf.training.checkpoints import RECORD, TrainingCheckpoints
from tests.conftest import REPO_ROOT, SAMPLE_VOCAB
from tests.conftest import TINY_BERT as TINY
from tests.conftest import assert_same_weights, kill_and_resume_fine_tuning
from tests.conftest import checkpoint_weights as _weights
from tests.conftest import error_lines, run_command
from tests.conftest import eval_results as _results

FILLER = ("the river mill bridge bread flour water market village children library "
          "people time day line yeast salt dough").split()


def _write_task(directory, counts=(("train", 160), ("dev", 40), ("test", 23)), seed=0):
    """A keyword task: 'good' in the text means label 'yes', 'bad' means 'no'."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for split, count in counts:
        lines = ["text\tanswer"]
        for _ in range(count):
            label = rng.choice(["yes", "no"])
            words = rng.sample(FILLER, 5)
            words.insert(rng.randrange(6), "good" if label == "yes" else "bad")
            lines.append(" ".join(words) + "\t" + label)
        (directory / f"{split}.tsv").write_text("\n".join(lines) + "\n")
    return directory


def _command(data_dir, output_dir, model_files, *flags, runner=()) -> list[str]:
    return [sys.executable, *runner, str(REPO_ROOT / "run_classifier.py"), "--task_name=tsv",
            "--text_a_column=text", "--label_column=answer", f"--data_dir={data_dir}",
            f"--output_dir={output_dir}", f"--vocab_file={SAMPLE_VOCAB}",
            f"--bert_config_file={model_files / 'bert_config.json'}",
            f"--init_checkpoint={model_files / 'bert_model.ckpt'}",
            "--max_seq_length=24", "--train_batch_size=16", "--eval_batch_size=8",
            "--predict_batch_size=8", "--learning_rate=2e-3", "--log_steps=10",
            "--iterations_per_loop=10", *flags]


def _run(data_dir, output_dir, model_files, *flags, check=True):
    return run_command(_command(data_dir, output_dir, model_files, *flags), check=check)


def test_tiny_model_learns_and_predicts_every_test_example_in_order(tmp_path, model_files):
    data = _write_task(tmp_path / "data")
    output = tmp_path / "out"
    _run(data, output, model_files, "--do_train", "--do_eval", "--do_predict",
         "--num_train_epochs=6", "--save_checkpoints_steps=1000")
    results = _results(output)
    assert results["eval_accuracy"] >= 0.9  # Chance is about 0.5.
    assert results["global_step"] == int(160 / 16 * 6)
    assert set(results) >= {"eval_accuracy", "eval_loss", "loss", "global_step"}

    # 23 test examples (not a multiple of the batch of 8): one line each, in file order,
    # equal to an unbatched forward pass of the final checkpoint.
    rows = np.loadtxt(output / "test_results.tsv", delimiter="\t")
    assert rows.shape == (23, 2)
    np.testing.assert_allclose(rows.sum(axis=1), 1.0, atol=1e-5)
    info = json.loads((output / "task_info.json").read_text())
    assert info == {"version": 2, "run_kind": "run_classifier.py", "task_name": "tsv",
                    "labels": ["no", "yes"], "is_regression": False, "pair": False,
                    "long_input_strategy": "head", "head_tokens": 128, "doc_stride": None,
                    "window_pooling": "mean"}
    labels = info["labels"]
    processor = classification_data.get_processor(
        "tsv", data_dir=str(data), text_a_column="text", label_column="answer")
    examples = processor.get_test_examples(str(data))
    tokenizer = tokenization.FullTokenizer(str(SAMPLE_VOCAB), do_lower_case=True)
    features, _ = classification_data.convert_examples_to_features(
        examples, labels, 24, tokenizer)
    model = BertClassifier(BertConfig.from_dict(TINY), 2)
    checkpoints.load_checkpoint(model, tf.train.latest_checkpoint(str(output)))
    logits = model({name: features[name] for name in ("input_ids", "input_mask",
                                                       "segment_ids")})["logits"].numpy()
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(rows, expected, atol=1e-4)
    truth = [1 if "good" in example.text_a.split() else 0 for example in examples]
    assert np.mean(rows.argmax(axis=1) == truth) >= 0.9

    # The dev scores are TensorBoard scalars too, beside the training ones.
    scalars = _scalars(output / "eval")
    assert scalars["eval_accuracy"] == [(60, pytest.approx(results["eval_accuracy"]))]
    assert scalars["eval_loss"] == [(60, pytest.approx(results["eval_loss"], rel=1e-6))]
    assert _scalars(output / "train")["loss"]
    # ... and drawn, training loss beside dev loss, and the dev accuracy.
    image = tf.io.decode_png((output / "training_curves.png").read_bytes())
    assert image.shape[:2] == (350, 1000)

    # Training again in the same folder says, at WARNING, that there is nothing to do.
    again = _run(data, output, model_files, "--do_train", "--num_train_epochs=6")
    assert f"Resumed from {output}/model.ckpt-60 at step 60" in again.stderr
    assert "That run had finished (60 of 60 steps): nothing is trained; to train again, " \
           "use a new output folder." in again.stderr


def _scalars(log_dir) -> dict[str, list[tuple[int, float]]]:
    """The scalars TensorBoard reads from `log_dir`: name -> [(step, value)]."""
    from tensorboard.backend.event_processing import event_accumulator
    events = event_accumulator.EventAccumulator(
        str(log_dir), size_guidance={event_accumulator.TENSORS: 0})
    events.Reload()
    return {tag: [(event.step, float(tf.make_ndarray(event.tensor_proto)))
                  for event in events.Tensors(tag)] for tag in events.Tags()["tensors"]}


def _weights_before_and_after_an_epoch(tmp_path, model_files, flag: str) -> tuple[dict, dict]:
    """The initial weights and those after an epoch of training with `flag`."""
    data = _write_task(tmp_path / "data", counts=(("train", 32), ("dev", 8)))
    output = tmp_path / "out"
    _run(data, output, model_files, "--do_train", "--num_train_epochs=1", flag)
    return (_weights(model_files / "bert_model.ckpt"),
            _weights(tf.train.latest_checkpoint(str(output))))


def test_trainable_top_layers_leaves_the_rest_unchanged(tmp_path, model_files):
    before, after = _weights_before_and_after_an_epoch(tmp_path, model_files,
                                                       "--trainable_top_layers=1")
    for name, value in before.items():
        changed = not np.array_equal(after[name], value)
        should_change = name.startswith(("bert/encoder/layer_1/", "bert/pooler/"))
        assert changed == should_change, name
    assert "output_weights/adam_m" in after
    assert "bert/embeddings/word_embeddings/adam_m" not in after  # Not trained: no slots.


def test_freeze_embeddings_trains_the_encoder_only(tmp_path, model_files):
    before, after = _weights_before_and_after_an_epoch(tmp_path, model_files,
                                                       "--freeze_embeddings")
    for name, value in before.items():
        assert np.array_equal(after[name], value) == name.startswith("bert/embeddings/"), name


def test_early_stopping_stops_and_keeps_the_best_weights(tmp_path, model_files):
    data = _write_task(tmp_path / "data", counts=(("train", 160), ("dev", 16)))
    output = tmp_path / "out"
    # With a zero learning rate the dev score never improves after the first check.
    result = _run(data, output, model_files, "--do_train", "--do_eval",
                  "--num_train_epochs=10", "--learning_rate=0",
                  "--save_checkpoints_steps=5", "--early_stopping_patience=2")
    assert "Stopped early at step 15" in result.stderr
    best = json.loads((output / "best" / "best_metric.json").read_text())
    assert best["step"] == 5 and best["stale"] == 2 and best["metric"] == "eval_accuracy"
    assert _results(output)["global_step"] == 15
    assert "Using the best weights on the dev set, from step 5" in result.stderr


def test_bad_user_input_is_one_clear_line(tmp_path, model_files):
    data = _write_task(tmp_path / "data", counts=(("train", 8), ("dev", 4)))
    with open(data / "train.tsv", "a") as writer:
        writer.write("a line without a label column\n")
    result = _run(data, tmp_path / "out", model_files, "--do_train", check=False)
    assert result.returncode != 0
    assert "train.tsv" in result.stderr and "line 10" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()  # A failed run leaves no empty folder.

    # Found wrong after the labels are known: still nothing written (no task_info.json).
    _write_task(data, counts=(("train", 8), ("dev", 4)))
    result = _run(data, tmp_path / "out", model_files, "--do_train", "--class_weights=1,2,3",
                  check=False)
    assert result.returncode != 0 and "--class_weights='1,2,3'" in result.stderr
    assert not (tmp_path / "out").exists()

    result = _run(data, tmp_path / "out2", model_files, "--do_eval",
                  "--max_seq_length=65", check=False)
    assert result.returncode != 0 and "--max_seq_length=65" in result.stderr
    assert "Traceback" not in result.stderr

    # An --output_dir that cannot be written (root writes through chmod, so under a
    # file) is refused before any work, in one line.
    (tmp_path / "a_file").write_text("")
    result = _run(data, tmp_path / "a_file" / "out", model_files, "--do_train",
                  check=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"--output_dir: cannot write to '{tmp_path}/a_file/out'" in result.stderr


def test_sts_b_is_a_regression_with_pearson_and_spearman(tmp_path, model_files):
    data = tmp_path / "STS-B"
    data.mkdir()
    header = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2"
    rng = random.Random(1)
    for split, count in (("train", 32), ("dev", 12)):
        lines = [header + "\tscore"]
        for index in range(count):
            words = rng.sample(FILLER, 4)
            score = rng.uniform(0, 5)
            lines.append(f"{index}\tmain\tf\t2012\t{index}\tnone\tnone\t{' '.join(words)}\t"
                         f"{' '.join(words[:2])}\t{score:.3f}")
        (data / f"{split}.tsv").write_text("\n".join(lines) + "\n")
    # The dev file is also the test file: --do_predict writes the scores the
    # evaluation is computed from, in the same batches (both batch sizes 8).
    (data / "test.tsv").write_text((data / "dev.tsv").read_text())
    command = [sys.executable, str(REPO_ROOT / "run_classifier.py"), "--task_name=STS-B",
               f"--data_dir={data}", f"--output_dir={tmp_path / 'out'}",
               f"--vocab_file={SAMPLE_VOCAB}",
               f"--bert_config_file={model_files / 'bert_config.json'}",
               "--max_seq_length=24", "--do_train", "--do_eval", "--do_predict",
               "--num_train_epochs=1", "--train_batch_size=8", "--eval_batch_size=8",
               "--predict_batch_size=8"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    results = _results(tmp_path / "out")
    assert {"eval_pearson", "eval_spearman", "eval_loss"} <= set(results)
    assert json.loads((tmp_path / "out" / "task_info.json").read_text())["is_regression"]
    # One score per dev example: the float32 the model gave, printed exactly.
    rows = (tmp_path / "out" / "test_results.tsv").read_text().splitlines()
    scores = np.array([float(row) for row in rows], np.float64)
    dev = (data / "dev.tsv").read_text().splitlines()[1:]
    labels = np.array([np.float32(line.split("\t")[-1]) for line in dev], np.float64)
    assert len(scores) == len(labels) == 12 and len(set(scores)) == 12
    from scipy import stats
    # Pearson: the library's is computed in float32 (scipy keeps the dtype of the
    # float32 scores and labels), this one in float64; both are within a few float32
    # rounding steps (6e-8 each) of the same number in [-1, 1].
    np.testing.assert_allclose(results["eval_pearson"], stats.pearsonr(scores, labels)[0],
                               rtol=0, atol=1e-6)
    # Spearman: the same ranks (no ties) give the same float64 number.
    np.testing.assert_allclose(results["eval_spearman"],
                               stats.spearmanr(scores, labels)[0], rtol=0, atol=1e-12)


def test_killed_run_resumes_with_dropout_to_the_same_weights(tmp_path, model_files):
    # Dropout on (Google's 0.1); the killed run dies (SIGKILL) in the middle of saving
    # step 15 of 20, the uninterrupted one runs beside it.
    data = _write_task(tmp_path / "data", counts=(("train", 160),))
    straight, killed, _ = kill_and_resume_fine_tuning(_command, data, model_files, tmp_path,
                                                      ["--num_train_epochs=2"])
    _, final_resumed = assert_same_weights(straight / "model.ckpt-20", killed / "model.ckpt-20")
    assert int(final_resumed["global_step"]) == 20


def _pretraining_folder(directory, record: str):
    """A folder as run_pretraining.py leaves it: checkpoints of steps 50 and 100 (of a
    tiny BertPretrainer), their record (as this version or an earlier one writes it)
    and eval_results.txt."""
    model = BertPretrainer(BertConfig.from_dict(TINY))
    optimizer = optimization.create_optimizer(1e-3, 100, 10)
    optimizer.build(model.trainable_variables)
    saver = TrainingCheckpoints(str(directory), model, optimizer, 5, "run_pretraining.py")
    for step in (50, 100):
        optimizer.iterations.assign(step)
        saver.save(step)
    if record == "old":  # Without the run kind and model signature.
        (directory / RECORD).write_text(json.dumps({"steps": [50, 100]}) + "\n")
    (directory / "eval_results.txt").write_text("global_step = 100\nloss = 2.5\n")


@pytest.mark.parametrize("record, expected", [
    ("new", "holds the checkpoints of a run_pretraining.py run, and this is a "
            "run_classifier.py run"),
    # An earlier version's record: the checkpoint itself shows it is another model's
    # (the classifier's head is missing), which is not taken for damage.
    ("old", "model.ckpt-100 belongs to another model (it has no variable 'output_weights'")])
def test_folder_of_a_pretraining_run_is_refused_untouched(tmp_path, model_files, record,
                                                         expected):
    folder = tmp_path / "pretraining"
    _pretraining_folder(folder, record)
    before = {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}
    data = _write_task(tmp_path / "data", counts=(("train", 32), ("dev", 8)))
    result = _run(data, folder, model_files, "--do_train", "--do_eval", check=False)
    errors = error_lines(result.stderr)
    assert len(errors) == 1 and expected in errors[0], result.stderr[-2000:]
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "unreadable" not in result.stderr and "Skipping" not in result.stderr
    after = {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}
    assert after == before  # No task_info.json, checkpoint or result written.


@pytest.mark.parametrize("fields", [
    # As the previous version wrote it: no version; the run kind was added later.
    {"task_name": "mrpc", "labels": ["0", "1"], "is_regression": False, "pair": True},
    {"task_name": "mrpc", "labels": ["0", "1"], "is_regression": False, "pair": True,
     "run_kind": "run_classifier.py"},
    # Version 2 before the long-input fields: they take their defaults (head).
    {"version": 2, "run_kind": "run_classifier.py", "task_name": "mrpc",
     "labels": ["0", "1"], "is_regression": False, "pair": True}])
def test_task_file_of_each_version_is_read(tmp_path, fields):
    (tmp_path / "task_info.json").write_text(json.dumps(fields))
    assert ClassificationInfo.read(str(tmp_path)) == ClassificationInfo(
        task_name="mrpc", labels=("0", "1"), is_regression=False, pair=True)


def test_task_file_is_written_with_its_version_and_read_back(tmp_path):
    info = ClassificationInfo(task_name="sts-b", labels=None, is_regression=True, pair=True)
    info.write(str(tmp_path / "out"))
    assert json.loads((tmp_path / "out" / "task_info.json").read_text()) == {
        "version": 2, "run_kind": "run_classifier.py", "task_name": "sts-b", "labels": None,
        "is_regression": True, "pair": True, "long_input_strategy": "head",
        "head_tokens": 128, "doc_stride": None, "window_pooling": "mean"}
    assert ClassificationInfo.read(str(tmp_path / "out")) == info
    assert ClassificationInfo.read(str(tmp_path)) is None  # No file.


VALID = {"version": 2, "run_kind": "run_classifier.py", "task_name": "tsv",
         "labels": ["no", "yes"], "is_regression": False, "pair": False}


@pytest.mark.parametrize("fields, message", [
    ({key: value for key, value in VALID.items() if key != "pair"},
     "lacks the field 'pair' of a run_classifier.py task"),
    ({**VALID, "labels": "no,yes"}, "the field 'labels' is 'no,yes', not of type"),
    ({**VALID, "is_regression": 0}, "the field 'is_regression' is 0, not of type"),
    ({**VALID, "labels": ["no", 1]}, "the field 'labels' is ['no', 1], not of type"),
    ({**VALID, "head_tokens": "128"}, "the field 'head_tokens' is '128', not of type"),
    ({**VALID, "head_tokens": True}, "the field 'head_tokens' is True, not of type"),
    ({**VALID, "extra": 1}, "holds the field 'extra', which a run_classifier.py task file "
                            "does not have"),
    ({**VALID, "version": 3}, "has version 3; this version of bert_tf reads versions 1 to 2"),
    ([1, 2], "is not the task file this project writes")])
def test_a_damaged_task_file_is_one_error_naming_file_and_field(tmp_path, fields, message):
    path = tmp_path / "task_info.json"
    path.write_text(json.dumps(fields))
    with pytest.raises(UserInputError) as raised:
        ClassificationInfo.read(str(tmp_path))
    assert str(raised.value).startswith(str(path)) and message in str(raised.value)


def test_a_task_file_without_labels_stops_the_script_in_one_line(tmp_path, model_files):
    data = _write_task(tmp_path / "data", counts=(("train", 8), ("dev", 4)))
    output = tmp_path / "out"
    output.mkdir()
    (output / "task_info.json").write_text(json.dumps(
        {key: value for key, value in VALID.items() if key != "labels"}))
    result = _run(data, output, model_files, "--do_eval", check=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert error_lines(result.stderr) == [
        f"error: {output / 'task_info.json'} lacks the field 'labels' of a "
        "run_classifier.py task; the file is damaged or not this project's: choose a new "
        "output folder."]
    assert [path.name for path in output.iterdir()] == ["task_info.json"]


def _write_long_task(directory, counts=(("train", 96), ("dev", 24), ("test", 7)), seed=0):
    """The keyword task on texts of 30 one-piece words ('good' means yes, 'day' no):
    longer than one window of 16 pieces, the keyword anywhere (often past the head)."""
    filler = [word for word in FILLER if word not in ("river", "day")]
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    texts = {}
    for split, count in counts:
        rows = []
        for _ in range(count):
            label = rng.choice(["yes", "no"])
            words = [rng.choice(filler) for _ in range(29)]
            words.insert(rng.randrange(30), "good" if label == "yes" else "day")
            rows.append((" ".join(words), label))
        texts[split] = [text for text, _ in rows]
        (directory / f"{split}.tsv").write_text(
            "text\tanswer\n" + "".join(f"{text}\t{label}\n" for text, label in rows))
    return texts


def test_windows_are_saved_with_the_model_and_served_as_the_script_predicts(
        tmp_path, model_files):
    texts = _write_long_task(tmp_path / "data")
    output, export = tmp_path / "out", tmp_path / "export"
    result = _run(tmp_path / "data", output, model_files, "--do_train", "--do_eval",
                  "--do_predict", "--num_train_epochs=2", "--max_seq_length=16",
                  "--long_input_strategy=windows", "--window_pooling=max",
                  "--doc_stride=5", f"--export_dir={export}")
    # 30 pieces, 14 a window, 5 apart: windows at 0, 5, 10, 15 and 20 moved back to 16.
    assert "dev: 24 examples, 24 longer than one input of max_seq_length=16, which " \
           "became 120 windows (120 inputs in all)." in result.stderr
    assert "Training on 480 windows for 60 steps" in result.stderr
    info = json.loads((output / "task_info.json").read_text())
    assert (info["long_input_strategy"], info["doc_stride"], info["window_pooling"]) == (
        "windows", 5, "max")
    trained = _results(output)

    # One row per test text, as the SavedModel gives for the raw texts.
    rows = np.loadtxt(output / "test_results.tsv", delimiter="\t")
    assert rows.shape == (7, 2)
    version = str(next(export.iterdir()))
    served = tf.saved_model.load(version).signatures["serving_default"](
        text_a=tf.constant(texts["test"]))
    np.testing.assert_allclose(served["probabilities"].numpy(), rows, atol=1e-5)
    assert json.loads((export / version / "export_info.json").read_text())[
        "long_input_strategy"] == "windows"

    # Without the flags, a later run reads long texts as training did.
    _run(tmp_path / "data", output, model_files, "--do_eval", "--max_seq_length=16")
    assert _results(output)["eval_accuracy"] == trained["eval_accuracy"]
    assert json.loads((output / "task_info.json").read_text()) == info
    # An option of another strategy is refused in one line.
    result = _run(tmp_path / "data", output, model_files, "--do_eval",
                  "--max_seq_length=16", "--head_tokens=4", check=False)
    assert error_lines(result.stderr) == [
        "error: --head_tokens=4 applies only to long_input_strategy=head_tail; this run "
        "uses windows."]
