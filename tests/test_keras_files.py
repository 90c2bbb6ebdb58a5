"""Keras' own files: every bert_tf model saves to `.keras` and reloads in a fresh
process with `keras.models.load_model` (no `custom_objects`), and round-trips its
weights through `.weights.h5`, with the same outputs."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert_tf import modeling
from tests.conftest import REPO_ROOT, sample_vocab_config, subprocess_env

INPUTS = {"input_ids": [[2, 5, 6, 7, 3, 0], [2, 9, 3, 11, 12, 3]],
          "input_mask": [[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]],
          "segment_ids": [[0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 1, 1]]}
MODELS = {
    "BertModel": lambda config: modeling.BertModel(config),
    "BertPretrainer": lambda config: modeling.BertPretrainer(config),
    "BertClassifier": lambda config: modeling.BertClassifier(config, 3),
    "BertTokenClassifier": lambda config: modeling.BertTokenClassifier(config, 5),
    "BertCrfTokenClassifier": lambda config: modeling.BertCrfTokenClassifier(config, 5),
    "BertSpanExtractor": lambda config: modeling.BertSpanExtractor(config),
}

# Loads each .keras file with Keras alone (bert_tf imported, nothing passed to Keras),
# runs it on its inputs and prints its outputs as JSON.
_LOAD = r"""
import json, sys
import keras
import tensorflow as tf
import bert_tf.modeling
results = {}
for path, inputs in json.loads(sys.argv[1]).items():
    model = keras.models.load_model(path)
    outputs = model({name: tf.constant(value) for name, value in inputs.items()},
                    training=False)
    results[type(model).__name__] = {key: value.numpy().tolist()
                                     for key, value in outputs.items()
                                     if isinstance(value, tf.Tensor)}
print(json.dumps(results))
"""


def _inputs(model_name: str) -> dict[str, tf.Tensor]:
    inputs = {name: tf.constant(value) for name, value in INPUTS.items()}
    if model_name == "BertPretrainer":
        inputs["masked_lm_positions"] = tf.constant([[1, 2], [1, 4]])
    if model_name == "BertCrfTokenClassifier":
        inputs["label_weights"] = tf.cast(inputs["input_mask"], tf.float32)
    return inputs


def _outputs(model, model_name: str) -> dict[str, np.ndarray]:
    outputs = model(_inputs(model_name), training=False)
    return {key: value.numpy() for key, value in outputs.items()
            if isinstance(value, tf.Tensor)}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Each model (seeded weights), its outputs, and its `.keras` file."""
    directory = tmp_path_factory.mktemp("keras")
    models = {}
    for number, (name, build) in enumerate(MODELS.items()):
        keras.utils.set_random_seed(number)
        model = build(sample_vocab_config())
        expected = _outputs(model, name)
        path = directory / f"{name}.keras"
        model.save(path)
        models[name] = (model, expected, path)
    return models


def test_keras_files_reload_in_a_fresh_process_without_custom_objects(saved):
    requests = {str(path): {key: value.numpy().tolist() for key, value in _inputs(name).items()}
                for name, (_, _, path) in saved.items()}
    result = subprocess.run([sys.executable, "-c", _LOAD, json.dumps(requests)],
                            capture_output=True, text=True, cwd=REPO_ROOT,
                            env=subprocess_env())
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert sorted(loaded) == sorted(MODELS)
    for name, outputs in loaded.items():
        expected = saved[name][1]
        assert sorted(outputs) == sorted(expected)
        for key, value in outputs.items():
            np.testing.assert_allclose(value, expected[key], atol=1e-5, err_msg=name)


@pytest.mark.parametrize("name", list(MODELS))
def test_weights_round_trip_through_weights_h5(saved, tmp_path, name):
    model, expected, _ = saved[name]
    model.save_weights(tmp_path / "model.weights.h5")
    keras.utils.set_random_seed(99)
    fresh = MODELS[name](sample_vocab_config())
    _outputs(fresh, name)  # Builds it.
    fresh.load_weights(tmp_path / "model.weights.h5")
    for key, value in _outputs(fresh, name).items():
        np.testing.assert_allclose(value, expected[key], atol=1e-6)
