"""Numerical parity on a real pre-trained BERT (MiniLM-L6-H384, Google's uncased vocab)
with Hugging Face transformers (PyTorch) and with tf-models-official's BertEncoder."""

import json
import subprocess
import sys

import numpy as np
import pytest

from bert_tf import checkpoints

from bert_tf.text import tokenization
from bert_tf.configs import BertConfig
from bert_tf.text import packing as encoding
from bert_tf.modeling import BertModel
from tests.conftest import REPO_ROOT

SENTENCES = [
    ("The quick brown fox jumps over the lazy dog.", None),
    ("Who was Jim Henson?", "Jim Henson was a puppeteer who created the Muppets."),
    ("Short.", None),
    ("Unaffable naïve résumés cost $4.50 — or ½ of that!", "中文 text, too."),
]
MAX_SEQ_LENGTH = 32
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def minilm(minilm_dir):
    """Our model with the MiniLM weights, its tokenizer and a padded batch."""
    config = BertConfig.from_json_file(str(minilm_dir / "config.json"))
    model = BertModel(config)
    checkpoints.load_checkpoint(model, str(minilm_dir))
    tokenizer = tokenization.FullTokenizer(str(minilm_dir / "vocab.txt"), do_lower_case=True)
    packed = [encoding.pack(tokenizer.tokenize(a), b and tokenizer.tokenize(b), MAX_SEQ_LENGTH,
                            tokenizer.convert_tokens_to_ids) for a, b in SENTENCES]
    inputs = {name: np.array([getattr(p, name) for p in packed], np.int32)
              for name in ("input_ids", "input_mask", "segment_ids")}
    assert inputs["input_mask"].min() == 0  # The batch holds padding.
    return model, inputs, packed


@pytest.fixture(scope="module")
def hugging_face_outputs(minilm_dir, minilm):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    _, inputs, _ = minilm
    reference = transformers.BertModel.from_pretrained(str(minilm_dir)).eval()
    with torch.no_grad():
        outputs = reference(input_ids=torch.tensor(inputs["input_ids"]).long(),
                            attention_mask=torch.tensor(inputs["input_mask"]).long(),
                            token_type_ids=torch.tensor(inputs["segment_ids"]).long(),
                            output_hidden_states=True)
    # hidden_states[0] is the embedding output; [1:] are the layers.
    return [h.numpy() for h in outputs.hidden_states[1:]], outputs.pooler_output.numpy()


def _assert_close_on_tokens(actual, expected, mask):
    difference = np.abs(np.asarray(actual) - expected)[mask.astype(bool)]
    assert difference.max() <= TOLERANCE, difference.max()


def test_every_layer_matches_hugging_face(minilm, hugging_face_outputs):
    model, inputs, _ = minilm
    expected_layers, expected_pooled = hugging_face_outputs
    outputs = model(inputs)
    assert len(outputs["encoder_outputs"]) == len(expected_layers) == 6
    for actual, expected in zip(outputs["encoder_outputs"], expected_layers):
        _assert_close_on_tokens(actual, expected, inputs["input_mask"])
    assert np.abs(outputs["pooled_output"].numpy() - expected_pooled).max() <= TOLERANCE


def _tf_models_encoder(model):
    """tf-models-official's BertEncoder holding `model`'s weights."""
    tf_keras = pytest.importorskip("tf_keras")
    networks = pytest.importorskip("official.nlp.modeling.networks")
    config = model.config
    encoder = networks.BertEncoder(
        vocab_size=config.vocab_size, hidden_size=config.hidden_size,
        num_layers=config.num_hidden_layers, num_attention_heads=config.num_attention_heads,
        max_sequence_length=config.max_position_embeddings,
        type_vocab_size=config.type_vocab_size, inner_dim=config.intermediate_size,
        inner_activation=lambda x: tf_keras.activations.gelu(x, approximate=False),
        output_dropout=0.0, attention_dropout=0.0, dict_outputs=True)
    ones = np.ones((1, 4), np.int32)
    encoder(dict(input_word_ids=ones, input_mask=ones, input_type_ids=0 * ones))
    google = {name: v.numpy() for name, v in checkpoints.google_variable_map(model).items()}
    heads, size, hidden = config.num_attention_heads, config.head_size, config.hidden_size
    # Model Garden keeps 3-D attention kernels: [H, N, D] in, [N, D, H] out.
    table = {
        "word_embeddings/embeddings": ("bert/embeddings/word_embeddings", None),
        "position_embedding/embeddings": ("bert/embeddings/position_embeddings", None),
        "type_embeddings/embeddings": ("bert/embeddings/token_type_embeddings", None),
        "embeddings/layer_norm/gamma": ("bert/embeddings/LayerNorm/gamma", None),
        "embeddings/layer_norm/beta": ("bert/embeddings/LayerNorm/beta", None),
        "pooler_transform/kernel": ("bert/pooler/dense/kernel", None),
        "pooler_transform/bias": ("bert/pooler/dense/bias", None),
    }
    for i in range(config.num_hidden_layers):
        ours, theirs = f"bert/encoder/layer_{i}", f"transformer/layer_{i}"
        for part in ("query", "key", "value"):
            table[f"{theirs}/self_attention/{part}/kernel"] = (
                f"{ours}/attention/self/{part}/kernel", (hidden, heads, size))
            table[f"{theirs}/self_attention/{part}/bias"] = (
                f"{ours}/attention/self/{part}/bias", (heads, size))
        table.update({
            f"{theirs}/self_attention/attention_output/kernel": (
                f"{ours}/attention/output/dense/kernel", (heads, size, hidden)),
            f"{theirs}/self_attention/attention_output/bias": (
                f"{ours}/attention/output/dense/bias", None),
            f"{theirs}/self_attention_layer_norm/gamma": (f"{ours}/attention/output/LayerNorm/gamma", None),
            f"{theirs}/self_attention_layer_norm/beta": (f"{ours}/attention/output/LayerNorm/beta", None),
            f"{theirs}/intermediate/kernel": (f"{ours}/intermediate/dense/kernel", None),
            f"{theirs}/intermediate/bias": (f"{ours}/intermediate/dense/bias", None),
            f"{theirs}/output/kernel": (f"{ours}/output/dense/kernel", None),
            f"{theirs}/output/bias": (f"{ours}/output/dense/bias", None),
            f"{theirs}/output_layer_norm/gamma": (f"{ours}/output/LayerNorm/gamma", None),
            f"{theirs}/output_layer_norm/beta": (f"{ours}/output/LayerNorm/beta", None),
        })
    assert len(table) == len(encoder.weights)
    for weight in encoder.weights:
        name, shape = table[weight.name.removesuffix(":0")]
        value = google[name]
        weight.assign(value if shape is None else value.reshape(shape))
    return encoder


def test_every_layer_matches_tf_models_bert_encoder(minilm):
    model, inputs, _ = minilm
    encoder = _tf_models_encoder(model)
    expected = encoder(dict(input_word_ids=inputs["input_ids"], input_mask=inputs["input_mask"],
                            input_type_ids=inputs["segment_ids"]), training=False)
    outputs = model(inputs)
    for actual, reference in zip(outputs["encoder_outputs"], expected["encoder_outputs"]):
        _assert_close_on_tokens(actual, reference.numpy(), inputs["input_mask"])
    assert np.abs(outputs["pooled_output"].numpy()
                  - expected["pooled_output"].numpy()).max() <= TOLERANCE


def test_extract_features_reproduces_hugging_face_hidden_states(
        tmp_path, minilm_dir, minilm, hugging_face_outputs):
    _, inputs, packed = minilm
    expected_layers, _ = hugging_face_outputs
    input_file = tmp_path / "input.txt"
    input_file.write_text("".join(a + (f" ||| {b}" if b else "") + "\n" for a, b in SENTENCES),
                          encoding="utf-8")
    output_file = tmp_path / "features.jsonl"
    subprocess.run(
        [sys.executable, str(REPO_ROOT / "extract_features.py"), f"--input_file={input_file}",
         f"--output_file={output_file}", f"--init_checkpoint={minilm_dir}",
         "--layers=-1,-6", f"--max_seq_length={MAX_SEQ_LENGTH}", "--batch_size=3"],
        check=True, cwd=REPO_ROOT, capture_output=True)
    lines = [json.loads(line) for line in output_file.read_text(encoding="utf-8").splitlines()]
    assert [line["linex_index"] for line in lines] == list(range(len(SENTENCES)))
    for row, (line, item) in enumerate(zip(lines, packed)):
        assert [feature["token"] for feature in line["features"]] == item.tokens
        for position, feature in enumerate(line["features"]):
            assert [layer["index"] for layer in feature["layers"]] == [-1, -6]
            for layer in feature["layers"]:
                expected = expected_layers[layer["index"]][row, position]
                assert np.abs(np.array(layer["values"]) - expected).max() <= TOLERANCE
