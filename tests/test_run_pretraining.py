"""Pre-training: the loss falls, runs resume after kill -9, replicas match one device."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from bert_tf import checkpoints

from bert_tf.training import fine_tuning

from bert_tf.training import optimization

from bert_tf.tasks.pretraining import objectives as pretraining_objectives

from bert_tf.training import distribution
from bert_tf.training import trainer as training
from bert_tf.configs import BertConfig
from bert_tf.tasks.pretraining import dataset as pretraining_dataset
from bert_tf.errors import UserInputError
from bert_tf.modeling import BertPretrainer
from tests.conftest import REPO_ROOT, SAMPLE_VOCAB, SAMPLES, assert_same_weights
from tests.conftest import checkpoint_weights as _weights

KILL_HELPER = str(REPO_ROOT / "tests" / "helpers" / "kill_during_save.py")

TINY = {"vocab_size": 382, "hidden_size": 32, "num_hidden_layers": 2,
        "num_attention_heads": 4, "intermediate_size": 64, "max_position_embeddings": 64,
        "type_vocab_size": 2, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """Pre-training records of the sample corpus, and a tiny config beside them."""
    directory = tmp_path_factory.mktemp("pretraining")
    subprocess.run([sys.executable, str(REPO_ROOT / "create_pretraining_data.py"),
                    f"--input_file={SAMPLES / 'corpus.txt'}",
                    f"--output_file={directory / 'data.tfrecord'}",
                    f"--vocab_file={SAMPLE_VOCAB}", "--max_seq_length=64",
                    "--max_predictions_per_seq=10", "--dupe_factor=10", "--num_workers=1"],
                   check=True, capture_output=True, cwd=REPO_ROOT)
    (directory / "bert_config.json").write_text(json.dumps(TINY))
    return directory


def _command(records, output_dir, *flags, runner=()) -> list[str]:
    return [sys.executable, *runner, str(REPO_ROOT / "run_pretraining.py"),
            f"--input_file={records / 'data.tfrecord'}", f"--output_dir={output_dir}",
            f"--bert_config_file={records / 'bert_config.json'}", "--max_seq_length=64",
            "--max_predictions_per_seq=10", "--train_batch_size=16",
            "--learning_rate=2e-3", "--num_warmup_steps=5", "--log_steps=5", *flags]


def _run(records, output_dir, *flags, check=True, runner=()):
    result = subprocess.run(_command(records, output_dir, *flags, runner=runner),
                            capture_output=True, text=True, cwd=REPO_ROOT)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_tiny_model_learns_the_sample_corpus(records, tmp_path):
    config = BertConfig.from_dict(TINY)
    strategy = tf.distribute.get_strategy()
    model = BertPretrainer(config)
    optimizer = optimization.create_optimizer(2e-3, num_train_steps=80, num_warmup_steps=5)
    trainer = training.Trainer(strategy, model, optimizer,
                               pretraining_objectives.pretraining_losses, str(tmp_path))
    files = [str(records / "data.tfrecord")]

    def dataset(is_training):
        return lambda context: pretraining_dataset.pretraining_dataset(
            files, 64, 10, 16, is_training, seed=1, input_context=context)

    before = trainer.evaluate(dataset(False))
    trainer.train(dataset(True), num_steps=80, global_batch_size=16, save_every=80)
    after = trainer.evaluate(dataset(False))
    assert before["masked_lm_loss"] > 5.5  # About log(382) = 5.9 at random.
    assert after["masked_lm_loss"] < before["masked_lm_loss"] - 1.0
    assert after["masked_lm_accuracy"] > 0.1


def test_killed_run_resumes_with_dropout_to_the_same_weights(records, tmp_path):
    # Dropout on, as in real pre-training: the resumed run must draw the masks the
    # uninterrupted one drew. The killed run dies (SIGKILL) in the middle of saving
    # step 15, its .data file written and its .index not.
    (records / "dropout_config.json").write_text(json.dumps(
        {**TINY, "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1}))
    flags = [f"--bert_config_file={records / 'dropout_config.json'}", "--do_train",
             "--num_train_steps=20", "--save_checkpoints_steps=5", "--iterations_per_loop=5"]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    processes = [subprocess.Popen(_command(records, straight, *flags), cwd=REPO_ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
                 subprocess.Popen(_command(records, killed, *flags, runner=[KILL_HELPER, "15"]),
                                  cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)]
    assert [process.wait(timeout=300) for process in processes] == [0, -signal.SIGKILL]
    assert (killed / "model.ckpt-15.data-00000-of-00001").exists()
    assert not (killed / "model.ckpt-15.index").exists()

    resumed = _run(records, killed, *flags)
    assert f"Skipping checkpoint {killed}/model.ckpt-15: it has no .index" in resumed.stderr
    assert f"Resumed from {killed}/model.ckpt-10 at step 10" in resumed.stderr
    _, final_resumed = assert_same_weights(straight / "model.ckpt-20", killed / "model.ckpt-20")
    assert int(final_resumed["global_step"]) == 20
    assert not [path.name for path in killed.iterdir() if ".tmp-" in path.name]


def test_two_replicas_follow_the_single_device_run(records, tmp_path):
    steps = ["--do_train", "--num_train_steps=10", "--save_checkpoints_steps=10"]
    single = _run(records, tmp_path / "single", *steps)
    helper = [str(REPO_ROOT / "tests" / "helpers" / "run_with_logical_cpus.py"), "2"]
    mirrored = _run(records, tmp_path / "mirrored", *steps,
                    "--distribution_strategy=mirrored", runner=helper)
    assert "CPU:1" in mirrored.stderr  # The second replica really existed.
    losses = [[float(line.split(" loss ")[1].split(",")[0])
               for line in run.stderr.splitlines() if "] step " in line]
              for run in (single, mirrored)]
    assert len(losses[0]) == 2
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-4)
    single_weights = _weights(tmp_path / "single" / "model.ckpt-10")
    replicated = _weights(tmp_path / "mirrored" / "model.ckpt-10")
    for name, value in single_weights.items():
        np.testing.assert_allclose(replicated[name], value, rtol=1e-3, atol=1e-5, err_msg=name)


def test_google_checkpoint_with_heads_continues_and_output_is_google_named(records, tmp_path):
    config = BertConfig.from_dict(TINY)
    model = BertPretrainer(config)
    prefix = checkpoints.save_google_checkpoint(model, str(tmp_path / "init" / "bert_model.ckpt"))
    result = _run(records, tmp_path / "out", "--do_eval", f"--init_checkpoint={prefix}")
    assert "left at initialization" not in result.stderr
    results = dict(line.split(" = ") for line in
                   (tmp_path / "out" / "eval_results.txt").read_text().splitlines())
    assert set(results) == {"global_step", "loss", "masked_lm_accuracy", "masked_lm_loss",
                            "next_sentence_accuracy", "next_sentence_loss"}
    # The same model scored in this process gives the same eval loss.
    files = [str(records / "data.tfrecord")]
    totals, batches = None, 0
    for features in pretraining_dataset.pretraining_dataset(files, 64, 10, 8, False):
        losses = pretraining_objectives.pretraining_losses(model(features), features)
        totals = losses if totals is None else {k: totals[k] + losses[k] for k in losses}
        batches += 1
    assert float(results["loss"]) == pytest.approx(float(totals["loss"]) / batches, rel=1e-4)

    _run(records, tmp_path / "out", "--do_train", "--num_train_steps=5",
         "--save_checkpoints_steps=5", f"--init_checkpoint={prefix}")
    names = _weights(tmp_path / "out" / "model.ckpt-5")
    assert "cls/predictions/output_bias" in names and "global_step" in names
    assert "bert/encoder/layer_1/output/dense/kernel/adam_m" in names
    # Evaluation alone, as Google's Estimator, evaluates the latest checkpoint.
    evaluated = _run(records, tmp_path / "out", "--do_eval")
    assert f"Evaluating {tmp_path / 'out' / 'model.ckpt-5'}" in evaluated.stderr
    results = dict(line.split(" = ") for line in
                   (tmp_path / "out" / "eval_results.txt").read_text().splitlines())
    assert results["global_step"] == "5"


def test_bad_runs_fail_with_one_clear_line(records, tmp_path):
    nan = _run(records, tmp_path / "nan", "--do_train", "--num_train_steps=20",
               "--learning_rate=1e30", "--num_warmup_steps=0", "--save_checkpoints_steps=20",
               "--iterations_per_loop=1", check=False)
    assert nan.returncode != 0 and "Traceback" not in nan.stderr
    assert "The loss became" in nan.stderr and "stopped without saving" in nan.stderr
    assert not list((tmp_path / "nan").glob("model.ckpt-*"))

    mismatch = _run(records, tmp_path / "m", "--do_eval", "--max_seq_length=32", check=False)
    assert (f"error: --max_seq_length=32 does not fit {records / 'data.tfrecord'}, which "
            "was created with max_seq_length=64; use 64 or re-create the data."
            in mismatch.stderr)

    tpu = _run(records, tmp_path / "tpu", "--do_train", "--use_tpu", "--tpu_name=local",
               check=False)
    assert "is a local path, but TPU workers can only read Cloud Storage" in tpu.stderr
    assert "Traceback" not in tpu.stderr

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-7"\n')
    (foreign / "model.ckpt-7.index").write_text("")
    result = _run(records, foreign, "--do_train", "--num_train_steps=5", check=False)
    assert "holds checkpoints this project did not write" in result.stderr
    assert (foreign / "model.ckpt-7.index").exists()


def _files(directory) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in directory.iterdir()}


def test_folders_of_google_releases_and_other_runs_are_refused_untouched(records, tmp_path):
    # As Google's zips: bert_model.ckpt.{index,data-...}, bert_config.json, vocab.txt,
    # and no `checkpoint` file.
    release = tmp_path / "uncased_L-2_H-32"
    checkpoints.save_google_checkpoint(BertPretrainer(BertConfig.from_dict(TINY)),
                                       str(release / "bert_model.ckpt"))
    (release / "bert_config.json").write_text(json.dumps(TINY))
    (release / "vocab.txt").write_text(SAMPLE_VOCAB.read_text())
    # A classifier's folder: its checkpoint record, task and results.
    classifier = tmp_path / "classifier"
    classifier.mkdir()
    (classifier / "bert_tf_checkpoints.json").write_text(json.dumps(
        {"steps": [], "run_kind": "run_classifier.py"}))
    (classifier / "task_info.json").write_text(json.dumps(
        {"task_name": "tsv", "labels": ["no", "yes"], "is_regression": False,
         "pair": False}))  # As written before the run kind was kept.
    (classifier / "eval_results.txt").write_text("eval_accuracy = 0.9\n")
    for folder, expected in [
            (release, "holds checkpoints this project did not write (bert_model.ckpt"),
            (classifier, "a run_classifier.py run, and this is a run_pretraining.py run")]:
        before = _files(folder)
        result = _run(records, folder, "--do_train", "--do_eval", "--num_train_steps=5",
                      check=False)
        errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and expected in errors[0] and str(folder) in errors[0], \
            result.stderr[-2000:]
        assert result.returncode != 0 and "Traceback" not in result.stderr
        assert _files(folder) == before
    (classifier / "bert_tf_checkpoints.json").unlink()  # Its task alone tells, too.
    with pytest.raises(UserInputError, match="holds the task of a run_classifier.py run"):
        fine_tuning.read_task_info(str(classifier), "run_pretraining.py")


def _free_ports(count):
    import socket
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def test_two_workers_on_loopback_agree(records, tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    processes = []
    for index in range(2):
        environment = {**os.environ, "TF_CONFIG": json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}})}
        processes.append(subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "run_pretraining.py"),
             f"--input_file={records / 'data.tfrecord'}", f"--output_dir={tmp_path / 'out'}",
             f"--bert_config_file={records / 'bert_config.json'}", "--max_seq_length=64",
             "--max_predictions_per_seq=10", "--train_batch_size=16", "--do_train",
             "--num_train_steps=4", "--save_checkpoints_steps=4", "--num_warmup_steps=1",
             "--distribution_strategy=multi_worker_mirrored"],
            cwd=REPO_ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True))
    try:
        errors = [process.communicate(timeout=240)[1] for process in processes]
    finally:
        for process in processes:
            process.kill()
    assert [process.returncode for process in processes] == [0, 0], errors[0][-2000:]
    chief = _weights(tmp_path / "out" / "model.ckpt-4")
    other = _weights(tmp_path / "out" / "worker-1" / "model.ckpt-4")
    assert int(chief["global_step"]) == 4
    for name, value in chief.items():
        np.testing.assert_array_equal(other[name], value, err_msg=name)


@pytest.mark.parametrize("precision, accumulation, jit_compile", [
    ("bf16", 1, False), ("fp16", 1, False), ("none", 2, False), ("none", 1, True)])
def test_precision_accumulation_and_xla_train(records, tmp_path, precision, accumulation,
                                              jit_compile):
    import keras
    distribution.set_precision(precision)
    try:
        config = BertConfig.from_dict(TINY)
        model = BertPretrainer(config)
        optimizer = optimization.create_optimizer(2e-3, num_train_steps=30, num_warmup_steps=2)
        if precision == "fp16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        trainer = training.Trainer(tf.distribute.get_strategy(), model, optimizer,
                                   pretraining_objectives.pretraining_losses, str(tmp_path),
                                   gradient_accumulation_steps=accumulation,
                                   jit_compile=jit_compile)
        files = [str(records / "data.tfrecord")]
        dataset = lambda context: pretraining_dataset.pretraining_dataset(
            files, 64, 10, 8, True, seed=3, input_context=context)
        first = trainer.train(dataset, num_steps=2, global_batch_size=8, save_every=100,
                              log_every=2)
        last = trainer.train(dataset, num_steps=30, global_batch_size=8, save_every=100,
                             log_every=28)
        assert trainer.step == 30
        assert last["masked_lm_loss"] < first["masked_lm_loss"] - 0.5
        assert all(variable.dtype == "float32" for variable in model.weights)
    finally:
        distribution.set_precision("none")


def test_train_step_compiles_with_static_shapes_for_xla(records, tmp_path):
    # What a TPU needs: the input has fully static shapes and the whole replica step
    # compiles with XLA.
    config = BertConfig.from_dict(TINY)
    dataset = pretraining_dataset.pretraining_dataset([str(records / "data.tfrecord")], 64, 10,
                                                      4, True, seed=0)
    for name, spec in dataset.element_spec.items():
        assert spec.shape.is_fully_defined(), name
    model = BertPretrainer(config)
    trainer = training.Trainer(tf.distribute.get_strategy(), model,
                               optimization.create_optimizer(1e-3, 10, 1),
                               pretraining_objectives.pretraining_losses, str(tmp_path),
                               jit_compile=True)
    batch = next(iter(dataset))
    compiled = tf.function(trainer._replica_gradients, jit_compile=True)
    gradients, stats = compiled([batch], tf.constant(0, tf.int64))
    assert len(gradients) == len(model.trainable_variables)
    assert np.isfinite(float(stats["loss"]))
