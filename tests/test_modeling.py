"""BertModel against an independent NumPy implementation of Google's BERT math, and
the Keras defaults that silently differ from BERT."""

import dataclasses
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert_tf import checkpoints
from bert_tf.configs import BertConfig
from bert_tf.layers import activations, common, fused_kernels
from bert_tf.modeling import BertModel


def _inputs(config, batch=3, length=9, seed=0):
    rng = np.random.default_rng(seed)
    input_ids = rng.integers(0, config.vocab_size, (batch, length)).astype(np.int32)
    input_mask = np.ones((batch, length), np.int32)
    input_mask[1, 5:] = 0  # Padding in two of the rows.
    input_mask[2, 2:] = 0
    segment_ids = (np.arange(length)[None, :] >= 4).astype(np.int32).repeat(batch, 0)
    return {"input_ids": input_ids, "input_mask": input_mask, "segment_ids": segment_ids}


def _numpy_bert(weights, config, inputs):
    """Google's modeling.py, written out in NumPy from its documented equations."""
    def layer_norm(x, prefix):
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * weights[prefix + "/gamma"] + weights[prefix + "/beta"]

    def dense(x, prefix):
        return x @ weights[prefix + "/kernel"] + weights[prefix + "/bias"]

    def gelu_tanh(x):
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))

    ids, mask, segments = inputs["input_ids"], inputs["input_mask"], inputs["segment_ids"]
    batch, length = ids.shape
    heads, size = config.num_attention_heads, config.head_size
    x = (weights["bert/embeddings/word_embeddings"][ids]
         + weights["bert/embeddings/token_type_embeddings"][segments]
         + weights["bert/embeddings/position_embeddings"][:length][None])
    x = layer_norm(x, "bert/embeddings/LayerNorm")
    adder = (1.0 - mask[:, None, None, :]) * -10000.0
    outputs = []
    for index in range(config.num_hidden_layers):
        p = f"bert/encoder/layer_{index}"
        split = lambda t: t.reshape(batch, length, heads, size).transpose(0, 2, 1, 3)
        q, k, v = (split(dense(x, f"{p}/attention/self/{n}")) for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(size) + adder
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, length, heads * size)
        x = layer_norm(x + dense(context, f"{p}/attention/output/dense"),
                       f"{p}/attention/output/LayerNorm")
        ffn = dense(gelu_tanh(dense(x, f"{p}/intermediate/dense")), f"{p}/output/dense")
        x = layer_norm(x + ffn, f"{p}/output/LayerNorm")
        outputs.append(x)
    pooled = np.tanh(dense(x[:, 0], "bert/pooler/dense"))
    return outputs, pooled


def _weights(model):
    return {name: variable.numpy().astype(np.float64)
            for name, variable in checkpoints.google_variable_map(model).items()}


def test_forward_pass_matches_numpy_reference(tiny_config):
    model = BertModel(tiny_config)
    inputs = _inputs(tiny_config)
    outputs = model(inputs)
    expected_layers, expected_pooled = _numpy_bert(_weights(model), tiny_config, inputs)
    assert len(outputs["encoder_outputs"]) == tiny_config.num_hidden_layers
    for actual, expected in zip(outputs["encoder_outputs"], expected_layers):
        np.testing.assert_allclose(actual.numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(outputs["sequence_output"].numpy(), expected_layers[-1], atol=1e-5)
    np.testing.assert_allclose(outputs["pooled_output"].numpy(), expected_pooled, atol=1e-5)


def test_last_layer_at_output_positions_matches_numpy_reference(tiny_config):
    model = BertModel(tiny_config)
    inputs = _inputs(tiny_config)
    # Repeated, unordered and padding positions, as masked-LM slots can be.
    positions = np.array([[3, 0, 3], [8, 1, 6], [0, 4, 1]], np.int32)
    outputs = model(inputs, output_positions=positions)
    expected_layers, expected_pooled = _numpy_bert(_weights(model), tiny_config, inputs)
    expected_last = np.take_along_axis(expected_layers[-1], positions[:, :, None], axis=1)
    np.testing.assert_allclose(outputs["sequence_output"].numpy(), expected_last, atol=1e-5)
    np.testing.assert_allclose(outputs["encoder_outputs"][-1].numpy(), expected_last,
                               atol=1e-5)
    for actual, expected in zip(outputs["encoder_outputs"][:-1], expected_layers[:-1]):
        np.testing.assert_allclose(actual.numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(outputs["pooled_output"].numpy(), expected_pooled, atol=1e-5)


def test_padding_is_never_attended_to(tiny_config):
    model = BertModel(tiny_config)
    inputs = _inputs(tiny_config)
    changed = {key: value.copy() for key, value in inputs.items()}
    padding = inputs["input_mask"] == 0
    changed["input_ids"][padding] = (changed["input_ids"][padding] + 7) % tiny_config.vocab_size
    before = model(inputs)["sequence_output"].numpy()
    after = model(changed)["sequence_output"].numpy()
    real = inputs["input_mask"] == 1
    np.testing.assert_allclose(before[real], after[real], atol=1e-6)
    assert not np.allclose(before[padding], after[padding])


def test_layer_norm_epsilon_is_berts_not_keras_default(tiny_config):
    model = BertModel(tiny_config)
    norms = [layer for layer in model._flatten_layers()
             if isinstance(layer, keras.layers.LayerNormalization)]
    assert len(norms) == 1 + 2 * tiny_config.num_hidden_layers
    assert {layer.epsilon for layer in norms} == {1e-12}
    # With a tiny variance the epsilon dominates: 1e-3 would shrink the output ~30x.
    x = np.random.default_rng(0).normal(0, 1e-4, (1, tiny_config.hidden_size)).astype(np.float32)
    normalized = (x - x.mean()) / np.sqrt(x.var() + 1e-12)
    np.testing.assert_allclose(norms[0](x).numpy(), normalized, rtol=1e-3)


_GELU_POINTS = np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0], np.float32)
_GELU_TANH = [0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)))
              for v in _GELU_POINTS]
_GELU_ERF = [0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in _GELU_POINTS]


def test_gelu_variants_match_their_formulas():
    np.testing.assert_allclose(activations.gelu(_GELU_POINTS).numpy(), _GELU_TANH, atol=1e-6)
    np.testing.assert_allclose(activations.gelu_exact(_GELU_POINTS).numpy(), _GELU_ERF,
                               atol=1e-6)
    assert not np.allclose(_GELU_TANH, _GELU_ERF, atol=1e-5)  # The choice matters.


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_fused_training_gelu_matches_the_formula_and_its_derivative(dtype):
    x = np.linspace(-5.0, 5.0, 41)
    c = math.sqrt(2 / math.pi)
    tanh = np.tanh(c * (x + 0.044715 * x ** 3))
    value = 0.5 * x * (1 + tanh)
    derivative = 0.5 * (1 + tanh) + 0.5 * x * (1 - tanh ** 2) * c * (1 + 3 * 0.044715 * x ** 2)
    # The derivative written out above agrees with central differences of the formula.
    step = 1e-6
    numeric = (0.5 * (x + step) * (1 + np.tanh(c * ((x + step) + 0.044715 * (x + step) ** 3)))
               - 0.5 * (x - step) * (1 + np.tanh(c * ((x - step) + 0.044715 * (x - step) ** 3)))
               ) / (2 * step)
    np.testing.assert_allclose(derivative, numeric, atol=1e-6)
    inputs = tf.constant(x, dtype)
    upstream = tf.constant(np.linspace(0.5, 2.0, 41), dtype)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = fused_kernels.gelu(inputs)
    gradient = tape.gradient(outputs, inputs, output_gradients=upstream)
    assert outputs.dtype == gradient.dtype == dtype
    exact_inputs = inputs.numpy().astype(np.float64)  # bf16 rounds the inputs first.
    tanh = np.tanh(c * (exact_inputs + 0.044715 * exact_inputs ** 3))
    atol, rtol = (1e-6, 1e-5) if dtype == "float32" else (2e-2, 2e-2)
    np.testing.assert_allclose(outputs.numpy().astype(np.float64),
                               0.5 * exact_inputs * (1 + tanh), atol=atol, rtol=rtol)
    expected = upstream.numpy().astype(np.float64) * (
        0.5 * (1 + tanh) + 0.5 * exact_inputs * (1 - tanh ** 2) * c
        * (1 + 3 * 0.044715 * exact_inputs ** 2))
    np.testing.assert_allclose(gradient.numpy().astype(np.float64), expected,
                               atol=atol, rtol=rtol)
    if dtype == "float32":
        np.testing.assert_allclose(value, outputs.numpy(), atol=1e-6)


def _numpy_layer_norm_loss(x, gamma, beta, upstream, epsilon):
    mean = x.mean(-1, keepdims=True)
    normalized = (x - mean) / np.sqrt(((x - mean) ** 2).mean(-1, keepdims=True) + epsilon)
    return (upstream * (normalized * gamma + beta)).sum()


def _central_differences(function, point, step=1e-6):
    gradient = np.zeros_like(point)
    for index in np.ndindex(point.shape):
        shifted = point.copy()
        shifted[index] += step
        above = function(shifted)
        shifted[index] -= 2 * step
        gradient[index] = (above - function(shifted)) / (2 * step)
    return gradient


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_fused_training_layer_norm_matches_the_formula_and_its_gradients(dtype):
    rng = np.random.default_rng(3)
    x = tf.cast(tf.constant(rng.normal(1.0, 2.0, (2, 3, 6))), dtype)
    gamma = rng.normal(1.0, 0.3, 6)
    beta = rng.normal(0.0, 0.3, 6)
    upstream = tf.cast(tf.constant(rng.normal(0.0, 1.0, (2, 3, 6))), dtype)
    epsilon = 1e-3  # Large enough to take part in the gradient.
    gamma_variable = tf.Variable(gamma, dtype=tf.float32)
    beta_variable = tf.Variable(beta, dtype=tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        outputs = fused_kernels.layer_norm(x, gamma_variable, beta_variable, epsilon)
    gradients = tape.gradient(outputs, [x, gamma_variable, beta_variable],
                              output_gradients=upstream)
    assert outputs.dtype == gradients[0].dtype == dtype
    # The references take the inputs as rounded to `dtype`, in float64.
    x64, upstream64 = (t.numpy().astype(np.float64) for t in (x, upstream))
    gamma64, beta64 = (v.numpy().astype(np.float64) for v in (gamma_variable, beta_variable))
    mean = x64.mean(-1, keepdims=True)
    normalized = (x64 - mean) / np.sqrt(((x64 - mean) ** 2).mean(-1, keepdims=True) + epsilon)
    expected = [
        _central_differences(
            lambda p: _numpy_layer_norm_loss(p, gamma64, beta64, upstream64, epsilon), x64),
        _central_differences(
            lambda p: _numpy_layer_norm_loss(x64, p, beta64, upstream64, epsilon), gamma64),
        _central_differences(
            lambda p: _numpy_layer_norm_loss(x64, gamma64, p, upstream64, epsilon), beta64),
    ]
    atol, rtol = (1e-5, 1e-5) if dtype == "float32" else (3e-2, 2e-2)
    np.testing.assert_allclose(outputs.numpy().astype(np.float64),
                               normalized * gamma64 + beta64, atol=atol, rtol=rtol)
    for actual, reference in zip(gradients, expected):
        np.testing.assert_allclose(np.asarray(actual, np.float64), reference,
                                   atol=atol, rtol=rtol)


def test_layer_norm_layer_trains_fused_and_infers_with_keras_ops(tiny_config):
    layer = common.layer_norm(tiny_config, "LayerNorm")
    inputs = tf.random.stateless_normal((2, 5, tiny_config.hidden_size), seed=(1, 2))
    layer.build(inputs.shape)
    keras_reference = keras.layers.LayerNormalization(epsilon=tiny_config.layer_norm_eps)
    keras_reference.build(inputs.shape)
    keras_reference.set_weights(layer.get_weights())
    np.testing.assert_allclose(layer(inputs, training=True).numpy(),
                               keras_reference(inputs).numpy(), atol=1e-5)
    np.testing.assert_allclose(layer(inputs, training=False).numpy(),
                               keras_reference(inputs).numpy(), atol=1e-6)
    half = tf.cast(inputs, tf.bfloat16)
    assert layer(half, training=True).dtype == tf.bfloat16  # No cast on the way in or out.
    assert layer(half, training=False).dtype == tf.float32


def test_training_forward_pass_matches_numpy_reference(tiny_config):
    # tiny_config has no dropout, so training changes only which kernels run.
    model = BertModel(tiny_config)
    inputs = _inputs(tiny_config)
    outputs = model(inputs, training=True)
    expected_layers, _ = _numpy_bert(_weights(model), tiny_config, inputs)
    for actual, expected in zip(outputs["encoder_outputs"], expected_layers):
        np.testing.assert_allclose(actual.numpy(), expected, atol=1e-5)


def test_activation_follows_the_config(tiny_config):
    """Each config's activation, for inference and for training, gives its formula's
    values (Google's "gelu" the tanh form, "gelu_exact" the erf form)."""
    for hidden_act, formula in (("gelu", _GELU_TANH), ("gelu_exact", _GELU_ERF)):
        block = BertModel(dataclasses.replace(tiny_config, hidden_act=hidden_act)) \
            .encoder.blocks[0]
        for activation in (block.activation, block.training_activation):
            values = keras.ops.convert_to_numpy(activation(tf.constant(_GELU_POINTS)))
            np.testing.assert_allclose(values, formula, atol=1e-6,
                                       err_msg=f"{hidden_act}: {activation}")


def test_attention_kernels_are_two_dimensional_like_googles(tiny_config):
    names = checkpoints.google_variable_map(BertModel(tiny_config))
    hidden = tiny_config.hidden_size
    for part in ("self/query", "self/key", "self/value", "output/dense"):
        assert tuple(names[f"bert/encoder/layer_0/attention/{part}/kernel"].shape) == (hidden, hidden)


def test_weights_are_truncated_normal_with_initializer_range(tiny_config):
    config = dataclasses.replace(tiny_config, initializer_range=0.05)
    word = BertModel(config).embeddings.word_embeddings.numpy()
    assert np.abs(word).max() <= 2 * 0.05
    # A normal truncated at two standard deviations has std 0.88 * sigma.
    assert 0.8 * 0.05 < word.std() < 0.95 * 0.05


def test_xla_compiled_call_matches_eager(tiny_config):
    model = BertModel(tiny_config)
    inputs = _inputs(tiny_config)
    compiled = tf.function(lambda x: model(x), jit_compile=True)
    np.testing.assert_allclose(compiled(inputs)["pooled_output"].numpy(),
                               model(inputs)["pooled_output"].numpy(), atol=1e-5)


@pytest.mark.parametrize("policy, tolerance", [("mixed_bfloat16", 0.1), ("mixed_float16", 0.02)])
def test_mixed_precision_keeps_layer_norm_and_softmax_in_float32(tiny_config, policy, tolerance):
    reference = BertModel(tiny_config)
    inputs = _inputs(tiny_config)
    expected = reference(inputs)["sequence_output"].numpy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = BertModel(tiny_config)
        for variable, source in zip(model.weights, reference.weights):
            variable.assign(source)
        outputs = model(inputs)
        norm = model.encoder.blocks[0].output_layer_norm
        assert norm.compute_dtype == "float32"
        assert all(variable.dtype == "float32" for variable in model.weights)
        assert outputs["sequence_output"].dtype == policy.split("_")[1]
        np.testing.assert_allclose(outputs["sequence_output"].numpy().astype(np.float32),
                                   expected, atol=tolerance)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_dropout_only_in_training(tiny_config):
    model = BertModel(dataclasses.replace(tiny_config, hidden_dropout_prob=0.3))
    inputs = _inputs(tiny_config)
    inference = [model(inputs, training=False)["pooled_output"].numpy() for _ in range(2)]
    np.testing.assert_array_equal(*inference)
    assert not np.allclose(model(inputs, training=True)["pooled_output"].numpy(), inference[0])


def test_config_round_trip(tiny_config):
    model = BertModel(tiny_config)
    clone = BertModel.from_config(model.get_config())
    assert clone.config == tiny_config
    assert [tuple(w.shape) for w in clone.weights] == [tuple(w.shape) for w in model.weights]
    block = model.encoder.blocks[0]
    assert type(block).from_config(block.get_config()).config == tiny_config


def test_missing_inputs_are_named(tiny_config):
    inputs = _inputs(tiny_config)
    del inputs["input_mask"]
    with pytest.raises(ValueError, match="lack input_mask"):
        BertModel(tiny_config)(inputs)
