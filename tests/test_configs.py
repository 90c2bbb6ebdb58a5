"""BertConfig reads Google's and Hugging Face's JSON and rejects invalid values."""

import json

import pytest

from bert_tf.configs import BertConfig, ConfigError

GOOGLE_BASE = {
    "attention_probs_dropout_prob": 0.1, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
    "hidden_size": 768, "initializer_range": 0.02, "intermediate_size": 3072,
    "max_position_embeddings": 512, "num_attention_heads": 12, "num_hidden_layers": 12,
    "type_vocab_size": 2, "vocab_size": 30522,
}


def _write(tmp_path, values, name="bert_config.json"):
    path = tmp_path / name
    path.write_text(json.dumps(values))
    return str(path)


def test_google_config_round_trip(tmp_path):
    config = BertConfig.from_json_file(_write(tmp_path, GOOGLE_BASE))
    assert config.hidden_act == "gelu"  # Google's tanh approximation.
    assert config.layer_norm_eps == 1e-12
    out = str(tmp_path / "out.json")
    config.to_json_file(out)
    assert json.loads(open(out).read()) == GOOGLE_BASE  # Exactly Google's eleven keys.
    assert BertConfig.from_json_file(out) == config


def test_google_defaults_match_googles_bert_config():
    config = BertConfig(vocab_size=10)
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads,
            config.intermediate_size, config.type_vocab_size) == (768, 12, 12, 3072, 16)


def test_multilingual_pooler_keys_are_accepted(tmp_path):
    values = {**GOOGLE_BASE, "directionality": "bidi", "pooler_fc_size": 768,
              "pooler_type": "first_token_transform"}
    assert BertConfig.from_json_file(_write(tmp_path, values)).hidden_size == 768


@pytest.mark.parametrize("hf_act, expected", [
    ("gelu", "gelu_exact"), ("gelu_new", "gelu"), ("gelu_pytorch_tanh", "gelu"),
    ("relu", "relu")])
def test_hugging_face_config_keeps_its_activation(tmp_path, hf_act, expected):
    values = {**GOOGLE_BASE, "hidden_act": hf_act, "model_type": "bert",
              "architectures": ["BertModel"], "layer_norm_eps": 1e-12, "pad_token_id": 0,
              "position_embedding_type": "absolute", "transformers_version": "4.8.2"}
    assert BertConfig.from_json_file(_write(tmp_path, values, "config.json")).hidden_act == expected


def test_hugging_face_other_model_types_are_refused(tmp_path):
    values = {**GOOGLE_BASE, "model_type": "roberta"}
    with pytest.raises(ConfigError, match="model_type is 'roberta'"):
        BertConfig.from_json_file(_write(tmp_path, values, "config.json"))


@pytest.mark.parametrize("change, message", [
    ({"num_attention_heads": 7}, r"hidden_size \(768\) must be a multiple of num_attention_heads \(7\)"),
    ({"hidden_act": "swishy"}, "hidden_act must be one of"),
    ({"hidden_dropout_prob": 1.5}, r"hidden_dropout_prob must be in \[0, 1\)"),
    ({"num_hidden_layers": 0}, "num_hidden_layers must be a positive integer"),
    ({"hiden_size": 5}, "unknown keys hiden_size"),
])
def test_invalid_configs_name_the_field_and_file(tmp_path, change, message):
    path = _write(tmp_path, {**GOOGLE_BASE, **change})
    with pytest.raises(ConfigError, match=message) as error:
        BertConfig.from_json_file(path)
    assert path in str(error.value)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        BertConfig.from_json_file(str(tmp_path / "nope.json"))
    bad = tmp_path / "bad.json"
    bad.write_text('{"vocab_size": 3,,}')
    with pytest.raises(ConfigError, match="not valid JSON: line 1"):
        BertConfig.from_json_file(str(bad))
    with pytest.raises(ConfigError, match="vocab_size is missing"):
        BertConfig.from_dict({"hidden_size": 8})
