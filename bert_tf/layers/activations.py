"""Activations by the names `BertConfig.hidden_act` uses (Google's, plus "gelu_exact")."""

import math
from typing import Callable

import keras
import tensorflow as tf

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715


def gelu(x):
    """Google BERT's GELU: the tanh approximation
    0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))."""
    return keras.activations.gelu(x, approximate=True)


def gelu_exact(x):
    """The exact GELU, x * Phi(x) with the normal CDF (Hugging Face's "gelu")."""
    return keras.activations.gelu(x, approximate=False)


# TensorFlow has no GELU kernel: its tanh GELU is eight element-wise kernels forward and
# about a dozen for the gradient, each a pass over the [B, S, intermediate] tensor. XLA
# fuses each direction into one loop (about 2.5x faster on a CPU, in float32 inside,
# whatever the input dtype). Only training uses it: at inference TensorFlow's graph
# optimizer already fuses MatMul + bias + GELU, and exported SavedModels stay free of
# XLA ops, which a CPU TF Serving would refuse.
@tf.function(jit_compile=True)
def _gelu_forward(x):
    x32 = tf.cast(x, tf.float32)
    tanh = tf.tanh(_SQRT_2_OVER_PI * x32 * (1.0 + _GELU_CUBIC * x32 * x32))
    return tf.cast(0.5 * x32 * (1.0 + tanh), x.dtype)


@tf.function(jit_compile=True)
def _gelu_backward(x, upstream):
    x32 = tf.cast(x, tf.float32)
    square = x32 * x32
    tanh = tf.tanh(_SQRT_2_OVER_PI * x32 * (1.0 + _GELU_CUBIC * square))
    # d/dx of 0.5 x (1 + tanh(u)), u = c (x + a x^3).
    derivative = 0.5 * (1.0 + tanh) + 0.5 * x32 * (1.0 - tanh * tanh) * _SQRT_2_OVER_PI * (
        1.0 + 3.0 * _GELU_CUBIC * square)
    return tf.cast(tf.cast(upstream, tf.float32) * derivative, upstream.dtype)


@tf.custom_gradient
def gelu_fused(x):
    """`gelu` computed by two XLA-fused kernels (forward, gradient); for training."""
    return _gelu_forward(x), lambda upstream: _gelu_backward(x, upstream)


_ACTIVATIONS: dict[str, Callable] = {
    "gelu": gelu,
    "gelu_exact": gelu_exact,
    "relu": keras.activations.relu,
    "tanh": keras.activations.tanh,
    "linear": keras.activations.linear,
}
_TRAINING_ACTIVATIONS: dict[str, Callable] = {**_ACTIVATIONS, "gelu": gelu_fused}


def get_activation(name: str, training: bool = False) -> Callable:
    """The activation function for a `BertConfig.hidden_act` name; with `training`,
    the same function in the form that trains fastest (`gelu_fused` for "gelu").

    Raises:
      ValueError: for a name outside `bert_tf.configs.ACTIVATIONS`.
    """
    if name not in _ACTIVATIONS:
        raise ValueError(f"Unknown activation {name!r}; use one of {', '.join(_ACTIVATIONS)}.")
    return (_TRAINING_ACTIVATIONS if training else _ACTIVATIONS)[name]
