"""SavedModel export: the served outputs equal the Python-side prediction, and the
SavedModel loads without bert_tf or Keras, in `saved_model_cli` too."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert_tf import io, serving
from bert_tf.configs import BertConfig
from bert_tf.errors import UserInputError
from bert_tf.modeling import INPUT_NAMES, BertClassifier
from bert_tf.serving import common
from bert_tf.text import packing as encoding
from bert_tf.text import tokenization
from tests.conftest import (BLOCK_BERT_TF, SAMPLE_VOCAB, out_of_range_id_cases,
                            sample_vocab_config, saved_model_cli, signature_ops, subprocess_env)

VOCAB = str(SAMPLE_VOCAB)
MAX_SEQ_LENGTH = 16
LABELS = ["contradiction", "entailment", "neutral"]

# Lengths chosen to hit every branch of the pair truncation with max_seq_length 16
# (13 tokens for the pair): both fit, the short one fits in half, both too long,
# and ties; plus accents, punctuation, CJK and an empty text.
TEXTS_A = [
    "The cat sat on the mat.",
    "a b c d e f g h i j k l m n o p q r s t u v w x y z",
    "hello",
    "one two three four five six seven eight nine ten",
    "Héllo, WÖRLD! Ça va? 中文字符",
    "",
    "a b c d e f g",
]
TEXTS_B = [
    "Dogs run.",
    "short one",
    "z y x w v u t s r q p o n m l k j i h g f e d c b a",
    "ten nine eight seven six five four three two one",
    "naïve café; résumé — ok",
    "only b",
    "h i j k l m n",
]


def _classifier(num_labels: int, seed: int) -> BertClassifier:
    keras.utils.set_random_seed(seed)
    model = BertClassifier(sample_vocab_config(), num_labels)
    weights = np.random.default_rng(seed).normal(0, 0.3, model.classifier.output_weights.shape)
    model.classifier.output_weights.assign(weights.astype("float32"))
    return model


def _python_inputs(texts_a, texts_b, max_seq_length=MAX_SEQ_LENGTH) -> dict[str, tf.Tensor]:
    """The model inputs Google's pipeline makes: FullTokenizer, then `encoding.pack`."""
    tokenizer = tokenization.FullTokenizer(VOCAB, do_lower_case=True)
    packed = [encoding.pack(tokenizer.tokenize(a),
                            None if texts_b is None else tokenizer.tokenize(b),
                            max_seq_length, tokenizer.convert_tokens_to_ids)
              for a, b in zip(texts_a, texts_b or texts_a)]
    return {name: tf.constant([getattr(p, name) for p in packed], tf.int32)
            for name in INPUT_NAMES}


def _python_probabilities(model, texts_a, texts_b) -> np.ndarray:
    return tf.nn.softmax(model(_python_inputs(texts_a, texts_b))["logits"]).numpy()


@pytest.fixture(scope="module")
def pair_export(tmp_path_factory):
    model = _classifier(len(LABELS), seed=1)
    path = serving.export_classifier(
        model, str(tmp_path_factory.mktemp("pair")), vocab_file=VOCAB, do_lower_case=True,
        max_seq_length=MAX_SEQ_LENGTH, label_list=LABELS, pair=True)
    return model, path


@pytest.fixture(scope="module")
def single_export(tmp_path_factory):
    model = _classifier(2, seed=2)
    path = serving.export_classifier(
        model, str(tmp_path_factory.mktemp("single")), vocab_file=VOCAB, do_lower_case=True,
        max_seq_length=MAX_SEQ_LENGTH, label_list=["0", "1"], pair=False)
    return model, path


@pytest.fixture(scope="module")
def regression_export(tmp_path_factory):
    # Also covers the other options: XLA, padding to max_seq_length.
    model = _classifier(1, seed=3)
    path = serving.export_classifier(
        model, str(tmp_path_factory.mktemp("regression")), vocab_file=VOCAB,
        do_lower_case=True, max_seq_length=MAX_SEQ_LENGTH, label_list=None, pair=True,
        jit_compile=True, pad_to_max_seq_length=True)
    return model, path


def test_truncation_is_googles_truncate_seq_pair():
    lengths = [(a, b) for a in range(9) for b in range(9)]
    a = tf.ragged.constant([list(range(n)) for n, _ in lengths], tf.int32)
    b = tf.ragged.constant([list(range(100, 100 + n)) for _, n in lengths], tf.int32)
    for budget in range(10):
        got_a, got_b = common.truncate_to_budget([a, b], budget)
        for row, (length_a, length_b) in enumerate(lengths):
            want_a, want_b = list(range(length_a)), list(range(100, 100 + length_b))
            encoding.truncate_seq_pair(want_a, want_b, budget)
            assert (got_a[row].numpy().tolist(), got_b[row].numpy().tolist()) == (
                want_a, want_b), (length_a, length_b, budget)


def test_pair_text_signature_matches_python(pair_export):
    model, path = pair_export
    outputs = tf.saved_model.load(path).signatures[serving.SERVING_DEFAULT](
        text_a=tf.constant(TEXTS_A), text_b=tf.constant(TEXTS_B))
    expected = _python_probabilities(model, TEXTS_A, TEXTS_B)
    np.testing.assert_allclose(outputs["probabilities"].numpy(), expected, atol=1e-5)
    assert [label.decode() for label in outputs["label"].numpy()] == [
        LABELS[i] for i in expected.argmax(-1)]
    assert len(set(expected.argmax(-1))) > 1  # The labels are really mapped.


def test_single_text_signature_matches_python(single_export):
    model, path = single_export
    texts = TEXTS_A + ["word " * 40]
    loaded = tf.saved_model.load(path)
    assert set(loaded.signatures) == {serving.SERVING_DEFAULT, serving.SERVE_IDS}
    outputs = loaded.signatures[serving.SERVING_DEFAULT](text_a=tf.constant(texts))
    expected = _python_probabilities(model, texts, None)
    np.testing.assert_allclose(outputs["probabilities"].numpy(), expected, atol=1e-5)
    assert [label.decode() for label in outputs["label"].numpy()] == [
        str(i) for i in expected.argmax(-1)]


def test_regression_score_matches_python(regression_export):
    model, path = regression_export
    outputs = tf.saved_model.load(path).signatures[serving.SERVING_DEFAULT](
        text_a=tf.constant(TEXTS_A), text_b=tf.constant(TEXTS_B))
    assert set(outputs) == {"score"}
    expected = model(_python_inputs(TEXTS_A, TEXTS_B))["logits"].numpy()[:, 0]
    np.testing.assert_allclose(outputs["score"].numpy(), expected, atol=1e-5)


def test_ids_signature_equals_text_signature(pair_export):
    _, path = pair_export
    loaded = tf.saved_model.load(path)
    from_text = loaded.signatures[serving.SERVING_DEFAULT](
        text_a=tf.constant(TEXTS_A), text_b=tf.constant(TEXTS_B))
    from_ids = loaded.signatures[serving.SERVE_IDS](**_python_inputs(TEXTS_A, TEXTS_B))
    np.testing.assert_allclose(from_ids["probabilities"].numpy(),
                               from_text["probabilities"].numpy(), atol=1e-6)
    assert from_ids["label"].numpy().tolist() == from_text["label"].numpy().tolist()


@pytest.mark.parametrize("fixture, outputs", [
    pytest.param("pair_export", {"probabilities": (0, len(LABELS)), "label": (0,)}, id="pair"),
    pytest.param("single_export", {"probabilities": (0, 2), "label": (0,)}, id="single"),
    pytest.param("regression_export", {"score": (0,)}, id="regression"),
])
def test_empty_batch_answers_empty(request, fixture, outputs):
    _, path = request.getfixturevalue(fixture)
    signatures = tf.saved_model.load(path).signatures
    pair = fixture != "single_export"
    texts = {"text_a": tf.constant([], tf.string),
             **({"text_b": tf.constant([], tf.string)} if pair else {})}
    for signature, inputs in [
            (serving.SERVING_DEFAULT, texts),
            (serving.SERVE_IDS, {name: tf.zeros([0, 5], tf.int32) for name in INPUT_NAMES}),
            (serving.SERVE_IDS, {name: tf.zeros([0, 0], tf.int32) for name in INPUT_NAMES})]:
        answer = signatures[signature](**inputs)
        assert {name: tuple(value.shape) for name, value in answer.items()} == outputs, (
            signature, inputs["text_a" if "text_a" in inputs else "input_ids"].shape)


def _one_row(input_ids: list[int], segment_ids: list[int]) -> dict[str, tf.Tensor]:
    return {"input_ids": tf.constant([input_ids], tf.int32),
            "input_mask": tf.ones([1, len(input_ids)], tf.int32),
            "segment_ids": tf.constant([segment_ids], tf.int32)}


@pytest.mark.parametrize("name, value, message", out_of_range_id_cases(position=2))
def test_ids_signature_rejects_ids_out_of_range(pair_export, name, value, message):
    model, path = pair_export
    vocab = model.config.vocab_size
    value = vocab if value == "vocab" else value
    rows = {"input_ids": [2, 40, 41, 3], "segment_ids": [0, 0, 1, 1]}
    rows[name] = rows[name][:2] + [value] + rows[name][3:]
    serve_ids = tf.saved_model.load(path).signatures[serving.SERVE_IDS]
    with pytest.raises(tf.errors.InvalidArgumentError, match=message.format(vocab=vocab)):
        serve_ids(**_one_row(rows["input_ids"], rows["segment_ids"]))
    # The ends of both ranges are valid ids: the answer is the model's.
    inputs = _one_row([2, 0, vocab - 1, 3], [0, 0, 1, 1])
    np.testing.assert_allclose(serve_ids(**inputs)["probabilities"].numpy(),
                               tf.nn.softmax(model(inputs)["logits"]).numpy(), atol=1e-5)


def test_version_folder_files(pair_export):
    model, path = pair_export
    assert pathlib.Path(path).name.isdigit()
    assert not [name for name in os.listdir(os.path.dirname(path)) if not name.isdigit()]
    assert (pathlib.Path(path) / "assets" / "vocab.txt").read_bytes() == SAMPLE_VOCAB.read_bytes()
    assert (pathlib.Path(path) / "vocab.txt").read_bytes() == SAMPLE_VOCAB.read_bytes()
    assert BertConfig.from_json_file(os.path.join(path, "bert_config.json")) == model.config
    info = json.loads((pathlib.Path(path) / serving.EXPORT_INFO_FILE).read_text())
    assert info["labels"] == LABELS
    assert info["do_lower_case"] is True and info["max_seq_length"] == MAX_SEQ_LENGTH
    assert info["signatures"] == {
        "serving_default": {"inputs": ["text_a", "text_b"],
                            "outputs": ["probabilities", "label"]},
        "serve_ids": {"inputs": ["input_ids", "input_mask", "segment_ids"],
                      "outputs": ["probabilities", "label"]},
    }


# Loads SavedModels where bert_tf cannot be imported, and prints the raw-text
# signature's numeric outputs as JSON.
_LOAD_WITHOUT_BERT_TF = BLOCK_BERT_TF + r"""
texts_a, texts_b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
results = []
for path in sys.argv[3:]:
    outputs = tf.saved_model.load(path).signatures["serving_default"](
        text_a=tf.constant(texts_a), text_b=tf.constant(texts_b))
    results.append({key: value.numpy().tolist() for key, value in outputs.items()
                    if value.dtype != tf.string})
assert not [name for name in sys.modules if name.startswith("bert_tf")]
print(json.dumps(results))
"""


def test_loads_without_bert_tf_after_moving(pair_export, regression_export, tmp_path):
    moved = []
    for _, path in (pair_export, regression_export):
        moved.append(tmp_path / pathlib.Path(path).parent.name)
        shutil.copytree(path, moved[-1])  # Self-contained: works from anywhere.
    result = subprocess.run(
        [sys.executable, "-I", "-c", _LOAD_WITHOUT_BERT_TF, json.dumps(TEXTS_A),
         json.dumps(TEXTS_B), *map(str, moved)],
        capture_output=True, text=True, cwd=tmp_path, env=subprocess_env())
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads(result.stdout.strip().splitlines()[-1])
    for (model, _), outputs in zip((pair_export, regression_export), results):
        if "score" in outputs:
            expected = model(_python_inputs(TEXTS_A, TEXTS_B))["logits"].numpy()[:, 0]
            np.testing.assert_allclose(outputs["score"], expected, atol=1e-5)
        else:
            np.testing.assert_allclose(outputs["probabilities"],
                                       _python_probabilities(model, TEXTS_A, TEXTS_B),
                                       atol=1e-5)


def test_saved_model_cli_runs_the_text_signature(pair_export, tmp_path):
    model, path = pair_export
    texts_a, texts_b = TEXTS_A[:4], TEXTS_B[:4]  # ASCII: safe in a Python expression.
    expected = _python_probabilities(model, texts_a, texts_b)
    # (`serve_ids` through saved_model_cli: see the ids-only test below. Loading
    # imports every function, so with this model it too needs tensorflow_text.)
    from_text = saved_model_cli(path, serving.SERVING_DEFAULT,
                                 f"text_a={texts_a!r};text_b={texts_b!r}", tmp_path / "text",
                                 register_tensorflow_text=True)
    np.testing.assert_allclose(from_text["probabilities"], expected, atol=1e-5)
    assert [label.decode() for label in from_text["label"]] == [
        LABELS[i] for i in expected.argmax(-1)]


def test_ids_signature_uses_only_core_tensorflow_ops(pair_export):
    _, path = pair_export
    # `tf.raw_ops` has every op of core TensorFlow, none of tensorflow_text's.
    assert [op for op in signature_ops(path, serving.SERVE_IDS)
            if not hasattr(tf.raw_ops, op)] == []
    # The check does see tensorflow_text's ops where they are.
    text_ops = signature_ops(path, serving.SERVING_DEFAULT)
    assert {"FastWordpieceTokenizeWithOffsets", "NormalizeUTF8"} <= {
        op for op in text_ops if not hasattr(tf.raw_ops, op)}


def test_ids_only_export_runs_without_tensorflow_text(tmp_path):
    model = _classifier(2, seed=4)
    path = serving.export_classifier(
        model, str(tmp_path / "ids_only"), vocab_file=VOCAB, do_lower_case=True,
        max_seq_length=MAX_SEQ_LENGTH, label_list=["no", "yes"], pair=False,
        text_signature=False, jit_compile=True)  # XLA under a TF1-style session, too.
    inputs = _python_inputs(TEXTS_A[:2], None)
    exprs = ";".join(f"{name}={inputs[name].numpy().tolist()}"
                     for name in INPUT_NAMES)
    # The whole graph is imported on load, so this proves no tensorflow_text op is in it.
    outputs = saved_model_cli(path, serving.SERVE_IDS, exprs, tmp_path / "out",
                               register_tensorflow_text=False)
    np.testing.assert_allclose(outputs["probabilities"],
                               tf.nn.softmax(model(inputs)["logits"]).numpy(), atol=1e-5)
    info = json.loads((pathlib.Path(path) / serving.EXPORT_INFO_FILE).read_text())
    assert list(info["signatures"]) == [serving.SERVE_IDS]


def test_never_overwrites_an_existing_version(tmp_path, monkeypatch):
    monkeypatch.setattr(common.time, "time", lambda: 1_700_000_000.5)
    existing = tmp_path / "1700000000"
    existing.mkdir()
    (existing / "saved_model.pb").write_bytes(b"keep me")
    # Another export still writing version 1700000001, under its temporary name.
    pathlib.Path(io.temporary_path(str(tmp_path / "1700000001"))).mkdir()
    model = _classifier(2, seed=5)
    path = serving.export_classifier(model, str(tmp_path), vocab_file=VOCAB,
                                     do_lower_case=True, max_seq_length=8,
                                     label_list=["a", "b"], pair=False, text_signature=False)
    assert path == str(tmp_path / "1700000002")
    assert (existing / "saved_model.pb").read_bytes() == b"keep me"
    assert tf.saved_model.contains_saved_model(path)


def test_a_version_taken_while_writing_is_not_overwritten(tmp_path, monkeypatch):
    # Another export finishes version 1700000000 while this one writes it.
    monkeypatch.setattr(common.time, "time", lambda: 1_700_000_000.5)
    taken = tmp_path / "1700000000"
    save = tf.saved_model.save

    def save_then_lose_the_race(*args, **kwargs):
        save(*args, **kwargs)
        taken.mkdir()
        (taken / "saved_model.pb").write_bytes(b"keep me")

    monkeypatch.setattr(tf.saved_model, "save", save_then_lose_the_race)
    path = serving.export_classifier(_classifier(2, seed=5), str(tmp_path), vocab_file=VOCAB,
                                     do_lower_case=True, max_seq_length=8,
                                     label_list=["a", "b"], pair=False, text_signature=False)
    assert path == str(tmp_path / "1700000001")
    assert (taken / "saved_model.pb").read_bytes() == b"keep me"
    assert tf.saved_model.contains_saved_model(path)
    assert sorted(os.listdir(tmp_path)) == ["1700000000", "1700000001"]


@pytest.mark.parametrize("kwargs, message", [
    ({"label_list": ["a", "b"]}, "label_list has 2 labels"),
    ({"label_list": None}, "regression"),
    ({"label_list": ["a", "a", "b"]}, "same label twice"),
    ({"max_seq_length": 65}, "max_position_embeddings"),
    ({"max_seq_length": 2}, "between 3"),
])
def test_refuses_bad_arguments(tmp_path, kwargs, message):
    model = BertClassifier(sample_vocab_config(), 3)
    arguments = {"vocab_file": VOCAB, "do_lower_case": True, "max_seq_length": 16,
                 "label_list": LABELS, "pair": True, **kwargs}
    with pytest.raises(UserInputError, match=message):
        serving.export_classifier(model, str(tmp_path / "out"), **arguments)
    assert not (tmp_path / "out").exists()


def test_refuses_a_file_as_export_dir_and_a_small_model_vocab(tmp_path):
    target = tmp_path / "file"
    target.write_text("")
    arguments = {"vocab_file": VOCAB, "do_lower_case": True, "max_seq_length": 16,
                 "label_list": ["a", "b"], "pair": False, "text_signature": False}
    with pytest.raises(UserInputError, match="is a file"):
        serving.export_classifier(_classifier(2, seed=6), str(target), **arguments)
    small = BertClassifier(BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=1,
                                      num_attention_heads=4, intermediate_size=37), 2)
    with pytest.raises(UserInputError, match="vocab_size is 99"):
        serving.export_classifier(small, str(tmp_path / "out"), **arguments)
