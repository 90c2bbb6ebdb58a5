"""Activations by the names `BertConfig.hidden_act` uses (Google's, plus "gelu_exact")."""

from typing import Callable

import keras

from bert_tf.layers import fused_kernels


def gelu(x):
    """Google BERT's GELU: the tanh approximation
    0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))."""
    return keras.activations.gelu(x, approximate=True)


def gelu_exact(x):
    """The exact GELU, x * Phi(x) with the normal CDF (Hugging Face's "gelu")."""
    return keras.activations.gelu(x, approximate=False)


_ACTIVATIONS: dict[str, Callable] = {
    "gelu": gelu,
    "gelu_exact": gelu_exact,
    "relu": keras.activations.relu,
    "tanh": keras.activations.tanh,
    "linear": keras.activations.linear,
}
_TRAINING_ACTIVATIONS: dict[str, Callable] = {**_ACTIVATIONS, "gelu": fused_kernels.gelu}


def get_activation(name: str, training: bool = False) -> Callable:
    """The activation function for a `BertConfig.hidden_act` name; with `training`,
    the same function in the form that trains fastest (`fused_kernels.gelu` for
    "gelu").

    Raises:
      ValueError: for a name outside `bert_tf.configs.ACTIVATIONS`.
    """
    if name not in _ACTIVATIONS:
        raise ValueError(f"Unknown activation {name!r}; use one of {', '.join(_ACTIVATIONS)}.")
    return (_TRAINING_ACTIVATIONS if training else _ACTIVATIONS)[name]
