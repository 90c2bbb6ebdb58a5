"""`BertConfig`: the model's hyperparameters, read from and written as `bert_config.json`.

Google's `bert_config.json` and a Hugging Face BERT `config.json` are both read. The
one place where the two formats mean different things by the same word is the
activation: Google's `modeling.py` computes `"gelu"` with the tanh approximation,
Hugging Face computes `"gelu"` exactly (with erf) and calls the tanh form
`"gelu_new"` / `"gelu_pytorch_tanh"`. `BertConfig.hidden_act` therefore always uses
Google's vocabulary, plus `"gelu_exact"` for the erf form, so a config read from
either source keeps the activation its weights were trained with.
"""

import dataclasses
import json
from typing import Any

import tensorflow as tf

from bert_tf import io
from bert_tf.errors import UserInputError

# Activations in Google's vocabulary, plus the exact (erf) GELU of Hugging Face's "gelu".
ACTIVATIONS = ("gelu", "gelu_exact", "relu", "tanh", "linear")

_HF_ACTIVATIONS = {
    "gelu": "gelu_exact",
    "gelu_new": "gelu",
    "gelu_pytorch_tanh": "gelu",
    "gelu_fast": "gelu",
    "relu": "relu",
    "tanh": "tanh",
    "linear": "linear",
}

# `hidden_act` as transformers names each activation: its "gelu" is the exact one.
_TO_HF_ACTIVATIONS = {
    "gelu": "gelu_new",
    "gelu_exact": "gelu",
    "relu": "relu",
    "tanh": "tanh",
    "linear": "linear",
}

# Keys of Google's multilingual configs that describe nothing this model has.
_IGNORED_GOOGLE_KEYS = frozenset({
    "directionality", "pooler_fc_size", "pooler_num_attention_heads",
    "pooler_num_fc_layers", "pooler_size_per_head", "pooler_type",
})

_HF_MARKER_KEYS = ("model_type", "architectures", "transformers_version")


class ConfigError(UserInputError):
    """A BERT configuration is invalid; the message says which field and why."""


@dataclasses.dataclass(frozen=True)
class BertConfig:
    """Hyperparameters of a BERT encoder, with Google's field names and defaults."""

    vocab_size: int
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 16
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12

    def __post_init__(self):
        self.validate()

    def validate(self, source: str = "BertConfig") -> None:
        """Raises `ConfigError` naming every invalid field of this config."""
        problems = []
        for name in ("vocab_size", "hidden_size", "num_hidden_layers",
                     "num_attention_heads", "intermediate_size",
                     "max_position_embeddings", "type_vocab_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                problems.append(f"{name} must be a positive integer, got {value!r}")
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                problems.append(f"{name} must be in [0, 1), got {value!r}")
        for name in ("initializer_range", "layer_norm_eps"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value <= 0:
                problems.append(f"{name} must be a positive number, got {value!r}")
        if self.hidden_act not in ACTIVATIONS:
            problems.append(f"hidden_act must be one of {', '.join(ACTIVATIONS)}; "
                            f"got {self.hidden_act!r}")
        if (not problems and self.hidden_size % self.num_attention_heads != 0):
            problems.append(
                f"hidden_size ({self.hidden_size}) must be a multiple of "
                f"num_attention_heads ({self.num_attention_heads})")
        if problems:
            raise ConfigError(f"Invalid BERT config ({source}): " + "; ".join(problems) + ".")

    @property
    def head_size(self) -> int:
        """Size of each attention head."""
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "dict") -> "BertConfig":
        """Builds a config from Google's or Hugging Face's key-value form.

        Args:
          values: the parsed JSON.
          source: what to name in error messages (e.g. the file path).

        Raises:
          ConfigError: on unknown keys, missing `vocab_size` or invalid values.
        """
        values = dict(values)
        is_hugging_face = any(key in values for key in _HF_MARKER_KEYS)
        if is_hugging_face:
            values = _from_hugging_face(values, source)
        fields = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - fields - _IGNORED_GOOGLE_KEYS)
        if unknown:
            raise ConfigError(
                f"Invalid BERT config ({source}): unknown keys {', '.join(unknown)}. "
                f"Known keys are {', '.join(sorted(fields))}; remove the others.")
        if "vocab_size" not in values:
            raise ConfigError(f"Invalid BERT config ({source}): vocab_size is missing.")
        kwargs = {key: value for key, value in values.items() if key in fields}
        config = cls.__new__(cls)
        for field in dataclasses.fields(cls):
            default = field.default
            object.__setattr__(config, field.name, kwargs.get(field.name, default))
        config.validate(source)
        return config

    @classmethod
    def from_json_file(cls, path: str) -> "BertConfig":
        """Reads Google's `bert_config.json` or a Hugging Face `config.json`."""
        if not tf.io.gfile.exists(path):
            raise ConfigError(f"BERT config file {path!r} does not exist; give the "
                              "config of your checkpoint (its bert_config.json or "
                              "config.json).")
        with tf.io.gfile.GFile(path, "r") as reader:
            text = reader.read()
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(f"BERT config file {path!r} is not valid JSON: line "
                              f"{error.lineno}, column {error.colno}: {error.msg}.") from error
        if not isinstance(values, dict):
            raise ConfigError(f"BERT config file {path!r} must hold a JSON object.")
        return cls.from_dict(values, source=path)

    def to_dict(self) -> dict[str, Any]:
        """Google's key-value form (`layer_norm_eps` only when it is not 1e-12)."""
        values = dataclasses.asdict(self)
        if values["layer_norm_eps"] == 1e-12:
            del values["layer_norm_eps"]
        return values

    def to_hugging_face_dict(self) -> dict[str, Any]:
        """The config as transformers' `BertConfig` writes it in `config.json`
        (`model_type` "bert", absolute positions), `hidden_act` in transformers'
        words: Google's tanh `"gelu"` is `"gelu_new"`, `"gelu_exact"` is `"gelu"`.
        `from_dict` reads it back as this config. The architecture and labels are the
        model's (`bert_tf.checkpoints.save_hugging_face` adds them)."""
        values = dataclasses.asdict(self)
        values["hidden_act"] = _TO_HF_ACTIVATIONS[self.hidden_act]
        return {"model_type": "bert", **values, "position_embedding_type": "absolute"}

    def to_json_string(self) -> str:
        """The config as Google's `bert_config.json` text."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def to_json_file(self, path: str) -> None:
        """Writes Google's `bert_config.json`, atomically (`io.write_atomically`)."""
        io.write_atomically(path, [self.to_json_string()])


def _from_hugging_face(values: dict[str, Any], source: str) -> dict[str, Any]:
    """Translates a Hugging Face BERT `config.json` into Google's keys."""
    model_type = values.get("model_type", "bert")
    if model_type != "bert":
        raise ConfigError(f"Invalid BERT config ({source}): model_type is {model_type!r}; "
                          "only BERT (model_type 'bert') checkpoints are supported.")
    position_type = values.pop("position_embedding_type", "absolute")
    if position_type != "absolute":
        raise ConfigError(
            f"Invalid BERT config ({source}): position_embedding_type {position_type!r} "
            "is not supported; BERT uses learned absolute positions ('absolute').")
    activation = values.get("hidden_act", "gelu")  # Hugging Face's default is exact.
    if activation not in _HF_ACTIVATIONS:
        raise ConfigError(
            f"Invalid BERT config ({source}): hidden_act {activation!r} is not "
            f"supported; use one of {', '.join(sorted(_HF_ACTIVATIONS))}.")
    values["hidden_act"] = _HF_ACTIVATIONS[activation]
    for key in ("is_decoder", "add_cross_attention"):
        if values.get(key, False):
            raise ConfigError(f"Invalid BERT config ({source}): {key} is set; only BERT "
                              "encoders are supported.")
    # Everything else in a Hugging Face config (generation settings, label maps,
    # versions, ...) is bookkeeping of the transformers library, not architecture.
    fields = {field.name for field in dataclasses.fields(BertConfig)}
    return {key: value for key, value in values.items() if key in fields}
