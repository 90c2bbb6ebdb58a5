"""Hugging Face checkpoints (safetensors and pytorch_model.bin) against `transformers`:
the general renaming of Google's names, and the heads' names each model declares."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert_tf import checkpoints
from bert_tf.configs import BertConfig
from bert_tf.layers import OutputHead
from bert_tf.modeling import BertModel, BertSpanExtractor


def _inputs(config):
    ids = np.array([[2, 5, 9, 11, 3, 0], [2, 7, 3, 0, 0, 0]], np.int32)
    mask = (ids > 0).astype(np.int32)
    return {"input_ids": ids, "input_mask": mask, "segment_ids": np.zeros_like(ids)}

def _hugging_face_config(tiny_config, **settings):
    """A `transformers.BertConfig` of `tiny_config`'s sizes, with `settings`."""
    import transformers
    return transformers.BertConfig(
        vocab_size=tiny_config.vocab_size, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=4, intermediate_size=37, max_position_embeddings=64,
        type_vocab_size=2, **settings)


def _hugging_face_outputs(hf_model, inputs):
    """A PyTorch model's outputs on `_inputs`."""
    import torch
    with torch.no_grad():
        return hf_model(input_ids=torch.tensor(inputs["input_ids"]).long(),
                        attention_mask=torch.tensor(inputs["input_mask"]).long(),
                        token_type_ids=torch.tensor(inputs["segment_ids"]).long())


@pytest.mark.parametrize("safe_serialization", [True, False])
@pytest.mark.parametrize("architecture", ["BertModel", "BertForPreTraining"])
def test_hugging_face_checkpoints_match_transformers(tmp_path, tiny_config, architecture,
                                                      safe_serialization):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    hf_config = _hugging_face_config(tiny_config, hidden_act="gelu")
    torch.manual_seed(0)
    hf_model = getattr(transformers, architecture)(hf_config).eval()
    hf_model.save_pretrained(tmp_path, safe_serialization=safe_serialization)
    config = BertConfig.from_json_file(str(tmp_path / "config.json"))
    assert config.hidden_act == "gelu_exact"
    model = BertModel(config)
    report = checkpoints.load_checkpoint(model, str(tmp_path))
    assert report.format == "huggingface"
    if architecture == "BertForPreTraining":
        assert "cls.predictions.bias" in report.unused
    inputs = _inputs(config)
    bert = hf_model if architecture == "BertModel" else hf_model.bert
    expected = _hugging_face_outputs(bert, inputs)
    outputs = model(inputs)
    mask = inputs["input_mask"][:, :, None]
    np.testing.assert_allclose(outputs["sequence_output"].numpy() * mask,
                               expected.last_hidden_state.numpy() * mask, atol=1e-5)
    np.testing.assert_allclose(outputs["pooled_output"].numpy(),
                               expected.pooler_output.numpy(), atol=1e-5)


def test_hugging_face_names_follow_the_documented_rules():
    assert checkpoints.hugging_face_names("bert/encoder/layer_3/attention/self/query/kernel") == (
        ["encoder.layer.3.attention.self.query.weight"], True)
    assert checkpoints.hugging_face_names("bert/embeddings/LayerNorm/gamma") == (
        ["embeddings.LayerNorm.weight", "embeddings.LayerNorm.gamma"], False)
    assert checkpoints.hugging_face_names("bert/embeddings/word_embeddings") == (
        ["embeddings.word_embeddings.weight"], False)


def test_pretraining_heads_match_hugging_face_and_round_trip(tmp_path, tiny_config):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from bert_tf.modeling import BertPretrainer
    hf_config = _hugging_face_config(tiny_config, hidden_act="gelu_new")  # Google's tanh GELU.
    torch.manual_seed(1)
    hf_model = transformers.BertForPreTraining(hf_config).eval()
    with torch.no_grad():  # Give the zero-initialized biases values worth checking.
        hf_model.cls.predictions.bias.normal_()
        hf_model.cls.seq_relationship.bias.normal_()
    hf_model.save_pretrained(tmp_path / "hf")
    config = BertConfig.from_json_file(str(tmp_path / "hf" / "config.json"))
    assert config.hidden_act == "gelu"
    model = BertPretrainer(config)
    report = checkpoints.load_checkpoint(model, str(tmp_path / "hf"))
    assert report.unused == [] and report.initialized == []
    inputs = _inputs(config)
    inputs["masked_lm_positions"] = np.array([[1, 3, 0], [2, 1, 0]], np.int32)
    expected = _hugging_face_outputs(hf_model, inputs)
    outputs = model(inputs)
    gathered = np.take_along_axis(expected.prediction_logits.numpy(),
                                  inputs["masked_lm_positions"][:, :, None], axis=1)
    np.testing.assert_allclose(outputs["masked_lm_logits"].numpy(), gathered, atol=1e-4)
    np.testing.assert_allclose(outputs["next_sentence_logits"].numpy(),
                               expected.seq_relationship_logits.numpy(), atol=1e-5)

    prefix = checkpoints.save_google_checkpoint(model, str(tmp_path / "google" / "bert_model.ckpt"))
    names = tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
    assert names["cls/seq_relationship/output_weights"] == [2, 32]
    assert names["cls/predictions/output_bias"] == [tiny_config.vocab_size]
    assert names["cls/predictions/transform/dense/kernel"] == [32, 32]
    fresh = BertPretrainer(config)
    checkpoints.load_checkpoint(fresh, prefix)
    np.testing.assert_array_equal(fresh(inputs)["masked_lm_logits"].numpy(),
                                  outputs["masked_lm_logits"].numpy())
    # The encoder alone loads from the same file and reports the heads as unused.
    encoder_report = checkpoints.load_checkpoint(BertModel(config), prefix)
    assert {name.split("/")[0] for name in encoder_report.unused} == {"cls"}


@pytest.mark.parametrize("architecture", ["BertForSequenceClassification",
                                          "BertForTokenClassification"])
def test_classifier_heads_match_hugging_face_and_keep_google_names(tmp_path, tiny_config,
                                                                   architecture):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from bert_tf.modeling import BertClassifier, BertTokenClassifier
    hf_config = _hugging_face_config(tiny_config, hidden_act="gelu", num_labels=3)
    torch.manual_seed(2)
    hf_model = getattr(transformers, architecture)(hf_config).eval()
    with torch.no_grad():
        hf_model.classifier.bias.normal_()
    hf_model.save_pretrained(tmp_path / "hf")
    config = BertConfig.from_json_file(str(tmp_path / "hf" / "config.json"))
    model_class = (BertClassifier if architecture == "BertForSequenceClassification"
                   else BertTokenClassifier)
    model = model_class(config, 3)
    # Hugging Face's token classifier has no pooler.
    report = checkpoints.load_checkpoint(model, str(tmp_path / "hf"),
                                         initialize_missing=("bert/pooler/",))
    assert report.unused == []
    assert report.initialized == ([] if model_class is BertClassifier else
                                  ["bert/pooler/dense/kernel", "bert/pooler/dense/bias"])
    inputs = _inputs(config)
    expected = _hugging_face_outputs(hf_model, inputs).logits
    np.testing.assert_allclose(model(inputs)["logits"].numpy(), expected.numpy(), atol=1e-5)

    prefix = checkpoints.save_google_checkpoint(model, str(tmp_path / "google" / "model.ckpt"))
    names = tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
    assert names["output_weights"] == [3, 32] and names["output_bias"] == [3]


class _SpanModel(keras.Model):
    """A task model the checkpoints package knows nothing of: BERT and a two-way span
    head, named as Google's `run_squad.py` (`cls/squad/output_weights` [2, H]) and
    Hugging Face's `BertForQuestionAnswering` (`qa_outputs`) name theirs. Its names are
    all it declares."""

    def __init__(self, config):
        super().__init__()
        self.bert = BertModel(config)
        self.span = OutputHead(config, 2, name="squad")
        self.span.build()

    def call(self, inputs):
        logits = self.span(self.bert(inputs)["sequence_output"])
        return {"start_logits": logits[..., 0], "end_logits": logits[..., 1]}

    def google_variable_map(self):
        return {**self.bert.google_variable_map(),
                "cls/squad/output_weights": self.span.output_weights,
                "cls/squad/output_bias": self.span.output_bias}

    def hugging_face_head_names(self):
        return {"cls/squad/output_weights": "qa_outputs.weight",
                "cls/squad/output_bias": "qa_outputs.bias"}


# The task's own model (`run_squad.py`'s) and a stand-in the package knows nothing of.
@pytest.mark.parametrize("model_class", [BertSpanExtractor, _SpanModel])
def test_a_new_head_loads_and_saves_by_the_names_its_model_declares(tmp_path, tiny_config,
                                                                     model_class):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    hf_config = _hugging_face_config(tiny_config, hidden_act="gelu")
    torch.manual_seed(3)
    hf_model = transformers.BertForQuestionAnswering(hf_config).eval()
    with torch.no_grad():
        hf_model.qa_outputs.bias.normal_()
    hf_model.save_pretrained(tmp_path / "hf")
    model = model_class(BertConfig.from_json_file(str(tmp_path / "hf" / "config.json")))
    report = checkpoints.load_checkpoint(model, str(tmp_path / "hf"),
                                         initialize_missing=("bert/pooler/",))
    assert report.unused == [] and "cls/squad/output_weights" in report.loaded
    inputs = _inputs(tiny_config)
    expected = _hugging_face_outputs(hf_model, inputs)
    outputs = model(inputs)
    np.testing.assert_allclose(outputs["start_logits"], expected.start_logits.numpy(),
                               atol=1e-5)
    np.testing.assert_allclose(outputs["end_logits"], expected.end_logits.numpy(), atol=1e-5)

    prefix = checkpoints.save_google_checkpoint(model, str(tmp_path / "google" / "model.ckpt"))
    names = tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
    assert names["cls/squad/output_weights"] == [2, 32] and names["cls/squad/output_bias"] == [2]
    assert sorted(path.name for path in (tmp_path / "google").iterdir()) == [
        "model.ckpt.data-00000-of-00001", "model.ckpt.index"]  # No temporary file left.
    fresh = model_class(model.bert.config)
    checkpoints.load_checkpoint(fresh, prefix)
    for name, value in fresh(inputs).items():
        np.testing.assert_array_equal(value, outputs[name])
