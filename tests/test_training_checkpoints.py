"""Training checkpoints: damaged ones are skipped for the one before, another model's or
another kind of run's are refused, a save interrupted anywhere leaves a folder that
resumes, and a resumed run with dropout ends where an uninterrupted one does. (About
400 lines: each case builds its own tiny folder, and they share the helpers here.)"""

import json
import logging
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert_tf import checkpoints

from bert_tf.tasks.classification import objectives as classification_objectives

from bert_tf.training import fine_tuning

from bert_tf.training import optimization

from bert_tf.training import trainer as training
from bert_tf.configs import BertConfig
from bert_tf.errors import UserInputError
from bert_tf.layers import dropout
from bert_tf.modeling import BertClassifier, BertCrfTokenClassifier
from bert_tf.training.checkpoints import (RECORD, TrainingCheckpoints, check_output_dir,
                                          model_signature)

TINY = {"vocab_size": 40, "hidden_size": 16, "num_hidden_layers": 1,
        "num_attention_heads": 2, "intermediate_size": 24, "max_position_embeddings": 16,
        "type_vocab_size": 2, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
KIND = "run_classifier.py"
DATA = ".data-00000-of-00001"


def _saver(directory, model=None, keep: int = 5, kind: str = KIND) -> TrainingCheckpoints:
    """Checkpoints of a fresh tiny 2-label classifier (or `model`) in `directory`."""
    model = model or BertClassifier(BertConfig.from_dict(TINY), 2)
    optimizer = optimization.create_optimizer(1e-3, 10, 1)
    optimizer.build(model.trainable_variables)
    return TrainingCheckpoints(str(directory), model, optimizer, keep, kind)


def _save(saver: TrainingCheckpoints, step: int) -> None:
    """Saves `step` with the output bias filled with `step` (a value to recognize)."""
    saver.model.classifier.output_bias.assign(np.full([2], float(step), np.float32))
    saver.optimizer.iterations.assign(step)
    saver.save(step)


def _restored_bias(saver: TrainingCheckpoints) -> float:
    return float(saver.model.classifier.output_bias.numpy()[0])


def _truncate(path, keep_fraction: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep_fraction)])


DAMAGE = {
    # What a full disk or a crash outside the save protocol leaves.
    "data cut short": lambda prefix: _truncate(prefix.with_name(prefix.name + DATA), 0.5),
    "data empty": lambda prefix: _truncate(prefix.with_name(prefix.name + DATA), 0),
    "data zeroed": lambda prefix: prefix.with_name(prefix.name + DATA).write_bytes(
        bytes(prefix.with_name(prefix.name + DATA).stat().st_size)),
    "index cut short": lambda prefix: _truncate(prefix.with_name(prefix.name + ".index"), 0.5),
    "index missing": lambda prefix: prefix.with_name(prefix.name + ".index").unlink(),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_latest_checkpoint_is_skipped_for_the_one_before(tmp_path, caplog, damage):
    saver = _saver(tmp_path)
    _save(saver, 1)
    _save(saver, 2)
    DAMAGE[damage](tmp_path / "model.ckpt-2")

    resumed = _saver(tmp_path)  # A fresh model, as after a restart.
    with caplog.at_level(logging.WARNING):
        prefix = resumed.restore_latest()
    assert prefix == str(tmp_path / "model.ckpt-1")
    assert _restored_bias(resumed) == 1.0 and int(resumed.optimizer.iterations) == 1
    warning = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert f"Skipping checkpoint {tmp_path / 'model.ckpt-2'}" in warning
    assert ("no .index file" if damage == "index missing" else "damaged") in warning

    # Training goes on: the next save of step 2 replaces the damaged files.
    _save(resumed, 2)
    again = _saver(tmp_path)
    assert again.restore_latest() == str(tmp_path / "model.ckpt-2")
    assert _restored_bias(again) == 2.0


def test_all_checkpoints_damaged_starts_afresh_saying_so(tmp_path, caplog):
    saver = _saver(tmp_path)
    _save(saver, 1)
    DAMAGE["data cut short"](tmp_path / "model.ckpt-1")
    with caplog.at_level(logging.WARNING):
        assert _saver(tmp_path).restore_latest() is None
    assert "No checkpoint in" in caplog.text


def _old_record(directory) -> None:
    """Rewrites the record as versions before the run kind and signature wrote it."""
    steps = json.loads((directory / RECORD).read_text())["steps"]
    (directory / RECORD).write_text(json.dumps({"steps": steps}) + "\n")


@pytest.mark.parametrize("other, difference", [
    (lambda: BertClassifier(BertConfig.from_dict(TINY), 3),
     "its 'output_weights' is [2, 16], this model's [3, 16]"),
    (lambda: BertCrfTokenClassifier(BertConfig.from_dict(TINY), 2),
     "it has no variable 'crf/transitions'")], ids=["labels", "crf"])
@pytest.mark.parametrize("record", ["new", "old"])
def test_checkpoint_of_another_model_is_refused_not_taken_for_damage(tmp_path, other,
                                                                      difference, record):
    saver = _saver(tmp_path)
    _save(saver, 1)
    if record == "old":  # No signature: the checkpoint's own variables tell.
        _old_record(tmp_path)
    files = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    with pytest.raises(UserInputError) as error:
        _saver(tmp_path, other()).restore_latest()
    message = str(error.value)
    assert "belongs to another model" in message and difference in message
    assert str(tmp_path / "model.ckpt-1") in message and "\n" not in message
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == files


def test_restoring_with_other_variables_frozen_is_refused_unless_weights_only(tmp_path):
    saver = _saver(tmp_path)
    _save(saver, 1)
    frozen = BertClassifier(BertConfig.from_dict(TINY), 2)
    frozen.bert.embeddings.trainable = False
    resumed = _saver(tmp_path, frozen)
    with pytest.raises(UserInputError, match="optimizer state for 'bert/embeddings/"):
        resumed.restore_latest()
    # Evaluation needs only the weights.
    assert resumed.restore_latest(weights_only=True) == str(tmp_path / "model.ckpt-1")
    assert _restored_bias(resumed) == 1.0


def test_record_names_run_kind_and_model_and_old_records_are_accepted(tmp_path):
    saver = _saver(tmp_path)
    _save(saver, 1)
    record = json.loads((tmp_path / RECORD).read_text())
    assert record["steps"] == [1] and record["run_kind"] == KIND
    assert record["model"] == "BertClassifier"
    # Two fresh models of one architecture have one signature; another shape, another.
    assert record["signature"] == model_signature(BertClassifier(BertConfig.from_dict(TINY), 2))
    assert record["signature"] != model_signature(BertClassifier(BertConfig.from_dict(TINY), 3))

    _old_record(tmp_path)
    resumed = _saver(tmp_path)
    assert resumed.restore_latest() == str(tmp_path / "model.ckpt-1")
    _save(resumed, 2)  # The next save records the kind and the signature.
    assert json.loads((tmp_path / RECORD).read_text())["run_kind"] == KIND


def test_folder_of_another_kind_of_run_is_refused_naming_both(tmp_path):
    _save(_saver(tmp_path, kind="run_pretraining.py"), 1)
    for refuse in (lambda: check_output_dir(str(tmp_path), "run_ner.py"),
                   lambda: _saver(tmp_path, kind="run_ner.py")):
        with pytest.raises(UserInputError) as error:
            refuse()
        message = str(error.value)
        assert str(tmp_path) in message and "\n" not in message
        assert "a run_pretraining.py run, and this is a run_ner.py run" in message
    check_output_dir(str(tmp_path), "run_pretraining.py")  # Its own kind is welcome.


@pytest.mark.parametrize("layout", ["google release", "beside own checkpoints",
                                    "tensorflow training"])
def test_folder_with_checkpoints_this_project_did_not_write_is_refused(tmp_path, layout):
    if layout == "beside own checkpoints":
        _save(_saver(tmp_path), 1)
    if layout == "tensorflow training":  # Google's run_pretraining.py output.
        (tmp_path / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-7"\n')
        checkpoints.save_google_checkpoint(BertClassifier(BertConfig.from_dict(TINY), 2),
                                           str(tmp_path / "model.ckpt-7"))
        foreign = "model.ckpt-7"
    else:  # As Google's zips: bert_model.ckpt.*, bert_config.json, vocab.txt, no index.
        checkpoints.save_google_checkpoint(BertClassifier(BertConfig.from_dict(TINY), 2).bert,
                                           str(tmp_path / "bert_model.ckpt"))
        (tmp_path / "bert_config.json").write_text(json.dumps(TINY))
        (tmp_path / "vocab.txt").write_text("[PAD]\n")
        foreign = "bert_model.ckpt"
    files = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    with pytest.raises(UserInputError) as error:
        _saver(tmp_path)
    message = str(error.value)
    assert "holds checkpoints this project did not write" in message
    assert f"{foreign}.index" in message and "pass them as init_checkpoint" in message
    # The library names its argument; the command line words it as the flag.
    assert error.value.as_flag().startswith(
        f"--output_dir={str(tmp_path)!r} holds checkpoints this project did not write")
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == files


class _Killed(BaseException):
    """Stands for the process dying at that point."""


@pytest.mark.parametrize("keep", [1, 5])
def test_a_save_interrupted_anywhere_leaves_a_folder_that_resumes(tmp_path, monkeypatch,
                                                                   keep):
    gfile = tf.io.gfile
    rename, remove = gfile.rename, gfile.remove
    point = 0
    while True:
        directory = tmp_path / f"at-{point}"
        _save(_saver(directory, keep=keep), 1)
        calls = []

        def die_at_point(operation):
            def wrapped(*args, **kwargs):
                calls.append(args[0])
                if len(calls) > point:
                    raise _Killed
                return operation(*args, **kwargs)
            return wrapped

        saver = _saver(directory, keep=keep)
        monkeypatch.setattr(gfile, "rename", die_at_point(rename))
        monkeypatch.setattr(gfile, "remove", die_at_point(remove))
        try:
            _save(saver, 2)
            completed = True
        except _Killed:
            completed = False
        monkeypatch.setattr(gfile, "rename", rename)
        monkeypatch.setattr(gfile, "remove", remove)

        resumed = _saver(directory, keep=keep)  # Not refused: every file is its own.
        has_index = (directory / "model.ckpt-2.index").exists()
        assert resumed.restore_latest() == str(directory / f"model.ckpt-{2 if has_index else 1}")
        assert _restored_bias(resumed) == (2.0 if has_index else 1.0)
        _save(resumed, 3)  # Saving again clears what the interrupted save left.
        assert not [path.name for path in directory.iterdir() if ".tmp-" in path.name]
        if completed:
            break
        point += 1
    assert point >= 5  # Data, record, index, old files, record, checkpoint file.


def test_temporary_names_differ_between_savers_of_one_process(tmp_path, monkeypatch):
    # Two processes (on two machines their ids may be equal) saving one step at once
    # must not write to one temporary file.
    prefixes = []
    save = tf.raw_ops.SaveV2

    def recording(prefix, **kwargs):
        prefixes.append(prefix)
        return save(prefix=prefix, **kwargs)

    monkeypatch.setattr(tf.raw_ops, "SaveV2", recording)
    _save(_saver(tmp_path / "a"), 1)
    _save(_saver(tmp_path / "b"), 1)
    names = [os.path.basename(prefix) for prefix in prefixes]
    assert len(names) == 2 and names[0] != names[1], names


def test_dropout_masks_follow_seed_step_micro_batch_and_replica():
    layer = dropout.Dropout(0.5)
    inputs = tf.ones([64, 32])

    def mask(*key):
        with dropout.seeded(dropout.step_seed(*key)):
            return layer(inputs, training=True).numpy()

    first = mask(7, 3, 0, 0)
    # Kept values scaled by 1 / (1 - rate), about half of them.
    assert set(np.unique(first)) == {0.0, 2.0} and 0.4 < (first > 0).mean() < 0.6
    np.testing.assert_array_equal(mask(7, 3, 0, 0), first)  # A function of the key.
    for other in [(8, 3, 0, 0), (7, 4, 0, 0), (7, 3, 1, 0), (7, 3, 0, 1)]:
        assert (mask(*other) != first).mean() > 0.3, other
    # A second call in one forward pass draws another mask.
    with dropout.seeded(dropout.step_seed(7, 3)):
        one, two = layer(inputs, training=True), layer(inputs, training=True)
    assert (one.numpy() != two.numpy()).mean() > 0.3
    # Compiled with XLA (which draws other bits than the kernels do): a function of
    # the step read at run time, not of a value frozen when compiling.
    compiled = tf.function(lambda step: _masked(layer, inputs, step), jit_compile=True)
    at_3 = compiled(tf.constant(3, tf.int64)).numpy()
    np.testing.assert_array_equal(compiled(tf.constant(3, tf.int64)), at_3)
    assert (compiled(tf.constant(4, tf.int64)).numpy() != at_3).mean() > 0.3
    # Not training: the identity, as Keras' Dropout.
    np.testing.assert_array_equal(layer(inputs, training=False), inputs)


@pytest.mark.parametrize("shape, dtype", [([400, 999], tf.float32), ([1000, 400], tf.float16),
                                          ([400_000], tf.float32)])
def test_seeded_dropout_drops_at_its_rate_independently_and_keeps_expectations(shape, dtype):
    rate = 0.1
    with dropout.seeded(dropout.step_seed(11, 5)):
        out = dropout.Dropout(rate, dtype=dtype.name)(tf.ones(shape, dtype), training=True).numpy()
    assert out.shape == tuple(shape) and out.dtype == dtype.as_numpy_dtype
    dropped = out == 0
    # 400,000 draws: the dropped fraction's standard deviation is 0.0005.
    assert abs(dropped.mean() - rate) < 0.003
    # Kept values are scaled by 65536 / (65536 - 6554): 0.1 rounded to 16 bits.
    np.testing.assert_allclose(np.unique(out[~dropped]), 65536 / (65536 - 6554), rtol=1e-3)
    np.testing.assert_allclose(out.astype(np.float64).mean(), 1.0, atol=0.006)
    # Neighbours (which share a 32-bit random number) are dropped independently,
    # and an odd row's last element (which shares one with no other) at the rate too.
    flat = dropped.reshape(-1)
    assert abs((flat[:-1] & flat[1:]).mean() - rate * rate) < 0.002
    if len(shape) == 2:
        assert abs(dropped[:, -1].mean() - rate) < 0.05


def test_seeded_dropout_of_a_scalar():
    with dropout.seeded(dropout.step_seed(11, 5)):
        values = [dropout.Dropout(0.5)(tf.constant(3.0), training=True).numpy()
                  for _ in range(40)]
    assert set(values) == {0.0, 6.0}


def _masked(layer, inputs, step):
    with dropout.seeded(dropout.step_seed(7, step, 0, 0)):
        return layer(inputs, training=True)


def test_resumed_training_with_dropout_under_xla_ends_as_uninterrupted(tmp_path):
    # (Without XLA, the scripts' kill -9 tests check the same.)
    config = BertConfig.from_dict({**TINY, "hidden_dropout_prob": 0.3,
                                   "attention_probs_dropout_prob": 0.3})
    rng = np.random.default_rng(0)
    features = {"input_ids": rng.integers(0, 40, (48, 12)).astype(np.int32),
                "input_mask": np.ones((48, 12), np.int32),
                "segment_ids": np.zeros((48, 12), np.int32),
                "label_ids": rng.integers(0, 2, 48).astype(np.int32),
                "is_real_example": np.ones(48, np.int32)}

    def dataset(context):
        return tf.data.Dataset.from_tensor_slices(features).shuffle(48, seed=1).repeat() \
            .batch(8)

    def trainer(directory):
        keras.utils.set_random_seed(1)  # The same initial weights every time.
        model = BertClassifier(config, 2)
        optimizer = optimization.create_optimizer(1e-2, 8, 1)
        return training.Trainer(tf.distribute.get_strategy(), model, optimizer,
                                classification_objectives.classification_loss_fn(2),
                                str(directory), jit_compile=True, seed=5)

    straight = trainer(tmp_path / "straight")
    straight.train(dataset, num_steps=8, global_batch_size=8, save_every=4)
    # Stopped after the checkpoint of step 4 (the schedule is of 8 steps throughout),
    # then a new process: new model and optimizer, resumed from the folder.
    trainer(tmp_path / "resumed").train(dataset, num_steps=4, global_batch_size=8,
                                        save_every=4)
    resumed = trainer(tmp_path / "resumed")
    resumed.train(dataset, num_steps=8, global_batch_size=8, save_every=4)
    assert resumed.step == 8
    for name, variable in checkpoints.google_variable_map(straight.model).items():
        np.testing.assert_allclose(checkpoints.google_variable_map(resumed.model)[name],
                                   variable, atol=1e-6, err_msg=name)
    assert resumed.model.dropout.rate == 0.3  # Dropout was on.


def test_best_weights_survive_a_kill_while_a_new_best_is_saved(tmp_path, monkeypatch):
    model = BertClassifier(BertConfig.from_dict(TINY), 2)
    keeper = fine_tuning.BestCheckpointKeeper(str(tmp_path), "eval_accuracy", patience=3)
    model.classifier.output_bias.assign([1.0, 1.0])
    keeper.update(model, 1, {"eval_accuracy": 0.5})

    rename = tf.io.gfile.rename

    def die_before_the_new_index(source, destination, overwrite=False):
        if destination.endswith(".index"):  # The data file is in place by then.
            raise _Killed
        rename(source, destination, overwrite=overwrite)

    monkeypatch.setattr(tf.io.gfile, "rename", die_before_the_new_index)
    model.classifier.output_bias.assign([2.0, 2.0])
    with pytest.raises(_Killed):
        keeper.update(model, 2, {"eval_accuracy": 0.9})
    monkeypatch.setattr(tf.io.gfile, "rename", rename)

    after_restart = fine_tuning.BestCheckpointKeeper(str(tmp_path), "eval_accuracy", 3)
    assert after_restart.state["step"] == 1
    restored = BertClassifier(BertConfig.from_dict(TINY), 2)
    checkpoints.load_checkpoint(restored, after_restart.checkpoint)
    np.testing.assert_array_equal(restored.classifier.output_bias.numpy(), [1.0, 1.0])
    # The next best replaces it, and the old files go.
    after_restart.update(model, 3, {"eval_accuracy": 0.8})
    assert sorted(path.name for path in (tmp_path / "best").iterdir()) == [
        "best_metric.json", "model.ckpt-3.data-00000-of-00001", "model.ckpt-3.index"]


@pytest.mark.parametrize("killed", ["before evaluating", "after evaluating"])
def test_run_killed_around_an_evaluation_evaluates_each_checkpoint_once(tmp_path, killed):
    scores = {2: 0.5, 4: 0.7, 6: 0.6, 8: 0.6}  # Dev accuracy at each checkpoint.
    evaluated = []
    features = {"input_ids": tf.ones([4, 6], tf.int32), "input_mask": tf.ones([4, 6], tf.int32),
                "segment_ids": tf.zeros([4, 6], tf.int32), "label_ids": tf.zeros([4], tf.int32),
                "is_real_example": tf.ones([4], tf.int32)}
    dataset = lambda context: tf.data.Dataset.from_tensors(features).repeat()

    def train(kill_at=None):
        model = BertClassifier(BertConfig.from_dict(TINY), 2)
        trainer = training.Trainer(
            tf.distribute.get_strategy(), model, optimization.create_optimizer(1e-2, 8, 1),
            classification_objectives.classification_loss_fn(2), str(tmp_path))
        keeper = fine_tuning.BestCheckpointKeeper(str(tmp_path), "eval_accuracy", 5)

        def evaluate(step):
            if step == kill_at and killed == "before evaluating":
                raise _Killed
            evaluated.append(step)
            return {"eval_accuracy": scores[step]}

        def after_save(step):
            stop = keeper.after_checkpoint(model, step, lambda _: evaluate(step))
            if step == kill_at and killed == "after evaluating":
                raise _Killed
            return stop

        trainer.train(dataset, num_steps=8, global_batch_size=4, save_every=2,
                      after_save=after_save)

    with pytest.raises(_Killed):
        train(kill_at=4)
    train()
    # As an uninterrupted run: every checkpoint scored once, the best at step 4.
    assert evaluated == [2, 4, 6, 8]
    state = json.loads((tmp_path / "best" / "best_metric.json").read_text())
    assert (state["value"], state["step"], state["stale"], state["evaluated"]) == (0.7, 4, 2, 8)


@pytest.mark.parametrize("step, first, seconds, expected", [
    (50, 0, 12.3, "step 50/300 (16%), 12.3 s, ETA 1m02s"),  # 250 steps at 0.246 s.
    (150, 100, 20.0, "step 150/300 (50%), 20.0 s, ETA 1m00s"),  # Resumed at step 100.
    (10, 0, 400.0, "step 10/300 (3%), 400.0 s, ETA 3h13m"),
    (300, 0, 99.0, "step 300/300 (100%), 99.0 s, ETA 0s"),
])
def test_progress_gives_the_step_of_all_and_an_eta(step, first, seconds, expected):
    assert training.progress(step, first, 300, seconds) == expected


def test_eta_and_durations():
    from bert_tf import console
    assert console.eta(0, 10, 5.0) == "?"
    assert console.eta(25, 100, 30.0) == "1m30s"
    assert console.eta(100, 100, 30.0) == "0s"
    assert console.duration(7322) == "2h02m"
