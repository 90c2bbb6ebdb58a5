"""run_classifier.py end to end on tiny models: learning, predictions in input order,
freezing, early stopping, user tasks and clear errors."""

import json
import random
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from bert_tf import checkpoints

from bert_tf.training import optimization

from bert_tf.text import tokenization
from bert_tf.configs import BertConfig
from bert_tf.tasks.classification import data as classification_data
from bert_tf.modeling import BertClassifier, BertPretrainer
from bert_tf.training.checkpoints import RECORD, TrainingCheckpoints
from tests.conftest import REPO_ROOT, SAMPLE_VOCAB

KILL_HELPER = str(REPO_ROOT / "tests" / "helpers" / "kill_during_save.py")

TINY = {"vocab_size": 382, "hidden_size": 32, "num_hidden_layers": 2,
        "num_attention_heads": 4, "intermediate_size": 64, "max_position_embeddings": 64,
        "type_vocab_size": 2, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
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


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    """A tiny config and a Google-format initial checkpoint of it."""
    directory = tmp_path_factory.mktemp("model")
    (directory / "bert_config.json").write_text(json.dumps(TINY))
    model = BertClassifier(BertConfig.from_dict(TINY), 2)
    checkpoints.save_google_checkpoint(model.bert, str(directory / "bert_model.ckpt"))
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
    result = subprocess.run(_command(data_dir, output_dir, model_files, *flags),
                            capture_output=True, text=True, cwd=REPO_ROOT)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def _results(output_dir) -> dict[str, float]:
    lines = (output_dir / "eval_results.txt").read_text().splitlines()
    return {key: float(value) for key, value in (line.split(" = ") for line in lines)}


def _weights(prefix) -> dict[str, np.ndarray]:
    reader = tf.train.load_checkpoint(str(prefix))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


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
    labels = json.loads((output / "task_info.json").read_text())["labels"]
    assert labels == ["no", "yes"]
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


def test_trainable_top_layers_leaves_the_rest_unchanged(tmp_path, model_files):
    data = _write_task(tmp_path / "data", counts=(("train", 32), ("dev", 8)))
    output = tmp_path / "out"
    _run(data, output, model_files, "--do_train", "--num_train_epochs=1",
         "--trainable_top_layers=1")
    before = _weights(model_files / "bert_model.ckpt")
    after = _weights(tf.train.latest_checkpoint(str(output)))
    for name, value in before.items():
        changed = not np.array_equal(after[name], value)
        should_change = name.startswith(("bert/encoder/layer_1/", "bert/pooler/"))
        assert changed == should_change, name
    assert "output_weights/adam_m" in after
    assert "bert/embeddings/word_embeddings/adam_m" not in after  # Not trained: no slots.


def test_freeze_embeddings_trains_the_encoder_only(tmp_path, model_files):
    data = _write_task(tmp_path / "data", counts=(("train", 32), ("dev", 8)))
    output = tmp_path / "out"
    _run(data, output, model_files, "--do_train", "--num_train_epochs=1",
         "--freeze_embeddings")
    before = _weights(model_files / "bert_model.ckpt")
    after = _weights(tf.train.latest_checkpoint(str(output)))
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
    command = [sys.executable, str(REPO_ROOT / "run_classifier.py"), "--task_name=STS-B",
               f"--data_dir={data}", f"--output_dir={tmp_path / 'out'}",
               f"--vocab_file={SAMPLE_VOCAB}",
               f"--bert_config_file={model_files / 'bert_config.json'}",
               "--max_seq_length=24", "--do_train", "--do_eval", "--num_train_epochs=1",
               "--train_batch_size=8"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    results = _results(tmp_path / "out")
    assert {"eval_pearson", "eval_spearman", "eval_loss"} <= set(results)
    assert json.loads((tmp_path / "out" / "task_info.json").read_text())["is_regression"]


def test_killed_run_resumes_with_dropout_to_the_same_weights(tmp_path, model_files):
    # Dropout on (Google's 0.1); the killed run dies (SIGKILL) in the middle of saving
    # step 15 of 20, the uninterrupted one runs beside it.
    dropout = tmp_path / "dropout_config.json"
    dropout.write_text(json.dumps({**TINY, "hidden_dropout_prob": 0.1,
                                   "attention_probs_dropout_prob": 0.1}))
    data = _write_task(tmp_path / "data", counts=(("train", 160),))
    flags = [f"--bert_config_file={dropout}", "--do_train", "--num_train_epochs=2",
             "--save_checkpoints_steps=5", "--iterations_per_loop=5"]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    processes = [
        subprocess.Popen(_command(data, straight, model_files, *flags), cwd=REPO_ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen(_command(data, killed, model_files, *flags,
                                  runner=[KILL_HELPER, "15"]),
                         cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    assert [process.wait(timeout=300) for process in processes] == [0, -signal.SIGKILL]
    assert json.loads((killed / RECORD).read_text())["steps"] == [5, 10, 15]

    resumed = _run(data, killed, model_files, *flags)
    assert f"Resumed from {killed}/model.ckpt-10 at step 10" in resumed.stderr
    final_straight = _weights(straight / "model.ckpt-20")
    final_resumed = _weights(killed / "model.ckpt-20")
    assert final_straight.keys() == final_resumed.keys()
    assert int(final_resumed["global_step"]) == 20
    for name, value in final_straight.items():
        np.testing.assert_allclose(final_resumed[name], value, atol=1e-6, err_msg=name)


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
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and expected in errors[0], result.stderr[-2000:]
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "unreadable" not in result.stderr and "Skipping" not in result.stderr
    after = {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}
    assert after == before  # No task_info.json, checkpoint or result written.
