"""Building blocks shared by the BERT layers."""

import keras
import tensorflow as tf

from bert_tf.configs import BertConfig


def initializer(config: BertConfig) -> keras.initializers.Initializer:
    """Google's weight initializer: normal, truncated at two standard deviations."""
    return keras.initializers.TruncatedNormal(stddev=config.initializer_range)


def dense(config: BertConfig, units: int, name: str, activation=None) -> keras.layers.Dense:
    """A dense layer with a 2-D `[in, out]` kernel, as Google's `tf.layers.dense`."""
    return keras.layers.Dense(units, activation=activation, name=name,
                              kernel_initializer=initializer(config))


def layer_norm(config: BertConfig, name: str) -> keras.layers.LayerNormalization:
    """Layer normalization over the last axis, computed in float32.

    BERT's epsilon is 1e-12 (Keras' default is 1e-3). The layer keeps a float32 policy
    so that, under mixed precision, the mean and variance are not computed in half
    precision.
    """
    return keras.layers.LayerNormalization(epsilon=config.layer_norm_eps, name=name,
                                           dtype="float32")


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
