"""Checkpoint loading (Google TF1, Hugging Face, own) and Google-format writing."""

import dataclasses
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert_tf import checkpoints
from bert_tf.checkpoints import CheckpointError
from bert_tf.errors import UserInputError
from bert_tf.modeling import BertModel


def _google_names_and_shapes(config):
    """Variable names and shapes of a Google BERT checkpoint, written out by hand from
    the released `bert_model.ckpt` files."""
    h, i = config.hidden_size, config.intermediate_size
    shapes = {
        "bert/embeddings/word_embeddings": (config.vocab_size, h),
        "bert/embeddings/position_embeddings": (config.max_position_embeddings, h),
        "bert/embeddings/token_type_embeddings": (config.type_vocab_size, h),
        "bert/embeddings/LayerNorm/gamma": (h,), "bert/embeddings/LayerNorm/beta": (h,),
        "bert/pooler/dense/kernel": (h, h), "bert/pooler/dense/bias": (h,),
    }
    for layer in range(config.num_hidden_layers):
        p = f"bert/encoder/layer_{layer}"
        for dense, (fan_in, fan_out) in {
                "attention/self/query": (h, h), "attention/self/key": (h, h),
                "attention/self/value": (h, h), "attention/output/dense": (h, h),
                "intermediate/dense": (h, i), "output/dense": (i, h)}.items():
            shapes[f"{p}/{dense}/kernel"] = (fan_in, fan_out)
            shapes[f"{p}/{dense}/bias"] = (fan_out,)
        for norm in ("attention/output/LayerNorm", "output/LayerNorm"):
            shapes[f"{p}/{norm}/gamma"] = (h,)
            shapes[f"{p}/{norm}/beta"] = (h,)
    return shapes


def _write_tf1_checkpoint(prefix, arrays):
    """Writes `arrays` as a TF1 checkpoint the way Google's code does: graph-mode
    variables saved by `tf.compat.v1.train.Saver`."""
    graph = tf.Graph()
    with graph.as_default():
        variables = [tf.compat.v1.get_variable(name, initializer=tf.constant(value))
                     for name, value in arrays.items()]
        saver = tf.compat.v1.train.Saver(variables)
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, prefix, write_meta_graph=False, write_state=False)


def _random_arrays(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return {name: rng.normal(0, 0.1, shape).astype(np.float32) for name, shape in shapes.items()}


def _inputs(config):
    ids = np.array([[2, 5, 9, 11, 3, 0], [2, 7, 3, 0, 0, 0]], np.int32)
    mask = (ids > 0).astype(np.int32)
    return {"input_ids": ids, "input_mask": mask, "segment_ids": np.zeros_like(ids)}


def test_google_tf1_checkpoint_loads_and_reports_extras(tmp_path, tiny_config):
    arrays = _random_arrays(_google_names_and_shapes(tiny_config))
    extras = {"cls/predictions/output_bias": np.zeros(tiny_config.vocab_size, np.float32),
              "cls/seq_relationship/output_weights": np.zeros((2, 32), np.float32)}
    training_state = {"bert/pooler/dense/bias/adam_m": np.zeros(32, np.float32),
                      "bert/pooler/dense/bias/adam_v": np.zeros(32, np.float32),
                      "global_step": np.array(7, np.int64)}
    prefix = str(tmp_path / "bert_model.ckpt")
    _write_tf1_checkpoint(prefix, {**arrays, **extras, **training_state})

    model = BertModel(tiny_config)
    report = checkpoints.load_checkpoint(model, prefix)
    assert report.format == "google"
    assert sorted(report.loaded) == sorted(arrays)
    assert report.unused == sorted(extras)  # Adam slots and global_step are not weights.
    for name, variable in checkpoints.google_variable_map(model).items():
        np.testing.assert_array_equal(variable.numpy(), arrays[name])
    # The directory works too, and so does a checkpoint named otherwise.
    assert checkpoints.load_checkpoint(BertModel(tiny_config), str(tmp_path)).format == "google"


def test_save_then_load_gives_identical_outputs(tmp_path, tiny_config):
    model = BertModel(tiny_config)
    prefix = checkpoints.save_google_checkpoint(model, str(tmp_path / "out" / "bert_model.ckpt"))
    reader = tf.train.load_checkpoint(prefix)
    assert reader.get_variable_to_shape_map() == {
        name: list(shape) for name, shape in _google_names_and_shapes(tiny_config).items()}
    fresh = BertModel(tiny_config)
    checkpoints.load_checkpoint(fresh, prefix)
    inputs = _inputs(tiny_config)
    for key in ("sequence_output", "pooled_output"):
        np.testing.assert_array_equal(fresh(inputs)[key].numpy(), model(inputs)[key].numpy())


def test_save_never_overwrites_an_existing_checkpoint(tmp_path, tiny_config):
    prefix = str(tmp_path / "bert_model.ckpt")
    checkpoints.save_google_checkpoint(BertModel(tiny_config), prefix)
    before = (tmp_path / "bert_model.ckpt.data-00000-of-00001").read_bytes()
    with pytest.raises(CheckpointError, match="already exists"):
        checkpoints.save_google_checkpoint(BertModel(tiny_config), prefix)
    assert (tmp_path / "bert_model.ckpt.data-00000-of-00001").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bert_model.ckpt.data-00000-of-00001", "bert_model.ckpt.index"]


def test_shape_mismatches_and_missing_variables_are_listed_together(tmp_path, tiny_config):
    other = dataclasses.replace(tiny_config, vocab_size=120, intermediate_size=40)
    shapes = _google_names_and_shapes(other)
    del shapes["bert/pooler/dense/bias"]
    prefix = str(tmp_path / "bert_model.ckpt")
    _write_tf1_checkpoint(prefix, _random_arrays(shapes))
    model = BertModel(tiny_config)
    before = [variable.numpy().copy() for variable in model.weights]
    with pytest.raises(CheckpointError) as error:
        checkpoints.load_checkpoint(model, prefix)
    message = str(error.value)
    assert "bert/embeddings/word_embeddings: checkpoint [120, 32] vs model [99, 32]" in message
    assert "bert/encoder/layer_1/output/dense/kernel: checkpoint [40, 32] vs model [37, 32]" in message
    assert "bert/pooler/dense/bias: missing from the checkpoint (model [32])" in message
    # word_embeddings, intermediate kernel and bias and output kernel of 2 layers, pooler bias.
    assert "(8 variables)" in message
    for variable, value in zip(model.weights, before):  # Nothing was assigned.
        np.testing.assert_array_equal(variable.numpy(), value)


def test_missing_variables_may_be_left_at_initialization(tmp_path, tiny_config):
    shapes = _google_names_and_shapes(tiny_config)
    shapes = {name: shape for name, shape in shapes.items() if "pooler" not in name}
    prefix = str(tmp_path / "bert_model.ckpt")
    _write_tf1_checkpoint(prefix, _random_arrays(shapes))
    report = checkpoints.load_checkpoint(BertModel(tiny_config), prefix,
                                         initialize_missing=("bert/pooler/",))
    assert report.initialized == ["bert/pooler/dense/kernel", "bert/pooler/dense/bias"]


def test_a_model_that_does_not_name_its_variables_is_refused(tmp_path):
    with pytest.raises(TypeError, match="names its variables"):
        checkpoints.save_google_checkpoint(keras.Sequential(), str(tmp_path / "model.ckpt"))


def test_unknown_paths_get_a_clear_error(tmp_path, tiny_config):
    model = BertModel(tiny_config)
    with pytest.raises(CheckpointError, match="not found"):
        checkpoints.load_checkpoint(model, str(tmp_path / "nothing"))
    with pytest.raises(CheckpointError, match="No checkpoint found in directory"):
        checkpoints.load_checkpoint(model, str(tmp_path))


def test_config_and_vocab_are_found_beside_the_checkpoint(tmp_path):
    (tmp_path / "bert_config.json").write_text("{}")
    (tmp_path / "vocab.txt").write_text("[UNK]\n")
    (tmp_path / "bert_model.ckpt.index").write_text("")
    prefix = str(tmp_path / "bert_model.ckpt")
    assert checkpoints.resolve_model_files(prefix, None, None) == (
        str(tmp_path / "bert_config.json"), str(tmp_path / "vocab.txt"))
    assert checkpoints.resolve_model_files(prefix, "my.json", None)[0] == "my.json"
    (tmp_path / "vocab.txt").unlink()
    with pytest.raises(CheckpointError, match="vocab_file was not given"):
        checkpoints.resolve_model_files(prefix, None, None)


@pytest.fixture
def saved_prefix(tmp_path, tiny_config):
    """A tiny checkpoint in Google's layout, written by `tf.compat.v1.train.Saver`."""
    prefix = str(tmp_path / "bert_model.ckpt")
    _write_tf1_checkpoint(prefix, _random_arrays(_google_names_and_shapes(tiny_config)))
    return prefix


def _damage(path, change):
    data = bytearray(open(path, "rb").read())
    open(path, "wb").write(bytes(change(data)))


@pytest.mark.parametrize("suffix, change, detail", [
    (".data-00000-of-00001", lambda data: data[:len(data) // 2],
     "Read less bytes than requested"),
    (".data-00000-of-00001", lambda data: data[:1000] + bytes([data[1000] ^ 0xFF]) + data[1001:],
     "Checksum does not match"),
    (".index", lambda data: data[:len(data) // 2], "not an sstable (bad magic number)"),
])
def test_damaged_checkpoint_is_one_sentence(saved_prefix, tiny_config, suffix, change, detail):
    _damage(saved_prefix + suffix, change)
    with pytest.raises(CheckpointError) as error:
        checkpoints.load_checkpoint(BertModel(tiny_config), saved_prefix)
    message = str(error.value)
    assert message.startswith(f"TensorFlow checkpoint {saved_prefix!r} is damaged (")
    assert detail in message and "\n" not in message
    assert message.endswith("its .index or .data files are truncated or corrupted; "
                            "download or copy them again.")


class _RunsCode:
    """Pickles into a call of os.system: what a malicious pytorch_model.bin holds."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os
        return os.system, (f"touch {self.marker}",)


def test_malicious_pytorch_file_is_refused_without_running_it(tmp_path, tiny_config):
    torch = pytest.importorskip("torch")
    marker = tmp_path / "code-ran"
    torch.save({"embeddings.word_embeddings.weight": _RunsCode(marker)},
               tmp_path / "pytorch_model.bin")
    with pytest.raises(CheckpointError) as error:
        checkpoints.load_checkpoint(BertModel(tiny_config), str(tmp_path))
    assert not marker.exists()
    assert str(error.value) == (
        f"PyTorch file '{tmp_path}/pytorch_model.bin' was refused as unsafe: besides "
        "weights it holds objects that would run code when loaded; use the model's "
        "model.safetensors instead, or convert the file only if you trust its source.")


def test_damaged_pytorch_file_is_one_sentence(tmp_path, tiny_config):
    torch = pytest.importorskip("torch")
    torch.save({"pooler.dense.bias": torch.zeros(32)}, tmp_path / "pytorch_model.bin")
    _damage(tmp_path / "pytorch_model.bin", lambda data: data[:50])
    with pytest.raises(CheckpointError, match=r"pytorch_model.bin' is damaged or not a "
                                              r"PyTorch checkpoint \(PytorchStreamReader"):
        checkpoints.load_checkpoint(BertModel(tiny_config), str(tmp_path))


@pytest.mark.parametrize("shard", ["../outside.safetensors", "sub/model.safetensors",
                                   "..\\outside.safetensors", "/tmp/model.safetensors"])
def test_safetensors_index_may_not_point_outside_the_model_folder(tmp_path, tiny_config, shard):
    safetensors = pytest.importorskip("safetensors.numpy")
    safetensors.save_file({"pooler.dense.bias": np.zeros(32, np.float32)},
                          str(tmp_path / "outside.safetensors"))
    model_dir = tmp_path / "model"
    (model_dir / "sub").mkdir(parents=True)
    (model_dir / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": {"pooler.dense.bias": shard}}))
    with pytest.raises(CheckpointError) as error:
        checkpoints.load_checkpoint(BertModel(tiny_config), str(model_dir))
    assert str(error.value) == (
        f"'{model_dir}/model.safetensors.index.json' lists the shard {shard!r}, which is "
        "not a file name inside the model folder (no '/', '\\' or '..' allowed); the index "
        "is damaged or malicious: download the model again from a source you trust.")


def test_model_files_that_are_directories_or_not_utf8_are_refused(tmp_path, saved_prefix):
    (tmp_path / "vocab.txt").write_text("[UNK]\n")
    (tmp_path / "bert_config.json").write_text("{}")
    with pytest.raises(UserInputError, match=f"vocab_file='{tmp_path}' is a directory; "
                                             "give the vocab.txt file"):
        checkpoints.resolve_model_files(saved_prefix, None, str(tmp_path))
    with pytest.raises(UserInputError, match=f"bert_config_file='{tmp_path}' is a "
                                             "directory"):
        checkpoints.resolve_model_files(saved_prefix, str(tmp_path), None)
    (tmp_path / "bert_config.json").write_bytes('{"vocab_size": 99}'.encode("utf-16"))
    with pytest.raises(UserInputError, match="bert_config_file .* is not UTF-8 text: "
                                             r"byte 0 \(0xff\) starts a UTF-16 byte-order"):
        checkpoints.resolve_model_files(saved_prefix, None, None)


def test_vocab_larger_than_the_embedding_table_is_refused(tiny_config):
    checkpoints.check_vocab_fits_config(99, "vocab.txt", tiny_config, "bert_config.json")
    with pytest.raises(UserInputError) as error:
        checkpoints.check_vocab_fits_config(100, "vocab.txt", tiny_config, "bert_config.json")
    assert str(error.value) == (
        "--vocab_file vocab.txt has 100 tokens but the model (bert_config.json) has only "
        "vocab_size=99 embedding rows: the vocabulary does not belong to this model.")
