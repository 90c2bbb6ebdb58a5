"""Building blocks shared by the BERT layers."""

import keras
import tensorflow as tf
from keras import ops

from bert_tf.configs import BertConfig
from bert_tf.layers import fused_kernels


def initializer(config: BertConfig) -> keras.initializers.Initializer:
    """Google's weight initializer: normal, truncated at two standard deviations."""
    return keras.initializers.TruncatedNormal(stddev=config.initializer_range)


def dense(config: BertConfig, units: int, name: str, activation=None) -> keras.layers.Dense:
    """A dense layer with a 2-D `[in, out]` kernel, as Google's `tf.layers.dense`."""
    return keras.layers.Dense(units, activation=activation, name=name,
                              kernel_initializer=initializer(config))


class BertLayerNorm(keras.layers.LayerNormalization):
    """Keras' layer normalization over the last axis, computed in float32, which when
    training runs as `fused_kernels.layer_norm` (one kernel each way instead of about a
    dozen); inference, and so every export, keeps Keras' own ops.

    Inputs are not cast on the way in: under mixed precision the fused kernel reads the
    half-precision input and writes the output in it, saving a cast each way.
    """

    def __init__(self, **kwargs):
        """Keras' `LayerNormalization` arguments; the layer's dtype is float32."""
        super().__init__(dtype="float32", autocast=False, **kwargs)

    def call(self, inputs, training=None):
        """Normalizes `inputs`; float32 out, or, when training, the dtype of `inputs`."""
        rank = len(inputs.shape)
        last_axis_only = [axis % rank for axis in self.axis] == [rank - 1]
        if training and last_axis_only and self.scale and self.center:
            return fused_kernels.layer_norm(inputs, self.gamma, self.beta, self.epsilon)
        return super().call(ops.cast(inputs, self.compute_dtype))


def layer_norm(config: BertConfig, name: str) -> BertLayerNorm:
    """Layer normalization over the last axis, computed in float32.

    BERT's epsilon is 1e-12 (Keras' default is 1e-3). The layer keeps a float32 policy
    so that, under mixed precision, the mean and variance are not computed in half
    precision.
    """
    return BertLayerNorm(epsilon=config.layer_norm_eps, name=name)


def gather_positions(sequence, positions):
    """Picks `positions` [B, P] (int) out of `sequence` [B, S, H]: returns [B, P, H].

    Whole rows are gathered (and, in the gradient, scattered back), rather than the
    B * P * H single elements that `keras.ops.take_along_axis` would index.
    """
    return tf.gather(sequence, positions, batch_dims=1)


class BertLayer(keras.layers.Layer):
    """A layer whose only constructor argument, besides Keras' own, is a `BertConfig`."""

    def __init__(self, config: BertConfig, **kwargs):
        """Keeps `config`; subclasses create their sublayers after calling this."""
        super().__init__(**kwargs)
        self.config = config

    def get_config(self):
        """The constructor's arguments."""
        return {**super().get_config(), "config": self.config.to_dict()}

    @classmethod
    def from_config(cls, config):
        """Rebuilds the layer from `get_config`'s output."""
        config = dict(config)
        bert_config = BertConfig.from_dict(config.pop("config"))
        return cls(bert_config, **config)
