"""Google's AdamW, LAMB and warmup/decay schedule against hand computations."""

import re

import keras
import numpy as np
import pytest

from bert_tf import checkpoints

from bert_tf.training import optimization
from bert_tf.modeling import BertPretrainer


def test_schedule_warms_up_from_zero_then_decays_to_zero():
    schedule = optimization.WarmupLinearDecay(1e-4, num_train_steps=100, num_warmup_steps=10)
    rates = [float(schedule(step)) for step in (0, 5, 10, 55, 100, 150)]
    np.testing.assert_allclose(rates, [0.0, 5e-5, 9e-5, 4.5e-5, 0.0, 0.0], atol=1e-12)


def _one_step(optimizer, weights, gradient):
    variable = keras.Variable(np.array(weights, np.float32), name="kernel")
    optimizer.apply([np.array(gradient, np.float32)], [variable])
    return variable.numpy()


def test_google_adamw_update_has_no_bias_correction_and_decays():
    w, g, lr, wd = np.array([0.5, -1.0, 2.0]), np.array([0.1, 0.2, -0.3]), 0.01, 0.01
    m = 0.1 * g
    v = 0.001 * g ** 2
    expected = w - lr * (m / (np.sqrt(v) + 1e-6) + wd * w)
    optimizer = optimization.AdamWeightDecay(lr, weight_decay_rate=wd)
    np.testing.assert_allclose(_one_step(optimizer, w, g), expected, rtol=1e-5)


def test_google_adamw_two_steps_with_and_without_decay():
    w0, g1, g2, lr, wd = (np.array([0.5, -1.0, 2.0]), np.array([0.1, 0.2, -0.3]),
                          np.array([-0.2, 0.05, 0.4]), 0.01, 0.01)
    optimizer = optimization.AdamWeightDecay(lr, weight_decay_rate=wd)
    kernel = keras.Variable(w0.astype(np.float32), name="kernel")
    bias = keras.Variable(w0.astype(np.float32), name="bias")  # Google never decays it.
    for gradient in (g1, g2):
        optimizer.apply([gradient.astype(np.float32)] * 2, [kernel, bias])
    expected = {}
    for name, decay in (("kernel", wd), ("bias", 0.0)):
        w, m, v = w0, 0.0, 0.0
        for g in (g1, g2):
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g ** 2
            w = w - lr * (m / (np.sqrt(v) + 1e-6) + decay * w)
        expected[name] = w
    np.testing.assert_allclose(kernel.numpy(), expected["kernel"], rtol=1e-5)
    np.testing.assert_allclose(bias.numpy(), expected["bias"], rtol=1e-5)


def test_bias_corrected_variant():
    w, g, lr = np.array([0.5, -1.0]), np.array([0.1, 0.2]), 0.01
    m_hat, v_hat = (0.1 * g) / 0.1, (0.001 * g ** 2) / 0.001
    expected = w - lr * (m_hat / (np.sqrt(v_hat) + 1e-6) + 0.01 * w)
    optimizer = optimization.AdamWeightDecay(lr, bias_correction=True)
    np.testing.assert_allclose(_one_step(optimizer, w, g), expected, rtol=1e-5)


def test_lamb_scales_the_update_by_the_trust_ratio():
    w, g, lr = np.array([0.5, -1.0, 2.0]), np.array([0.1, 0.2, -0.3]), 0.01
    m_hat, v_hat = g, g ** 2
    update = m_hat / (np.sqrt(v_hat) + 1e-6) + 0.01 * w
    ratio = np.linalg.norm(w) / np.linalg.norm(update)
    optimizer = optimization.Lamb(lr)
    np.testing.assert_allclose(_one_step(optimizer, w, g), w - lr * ratio * update, rtol=1e-5)


def test_weight_decay_skips_exactly_googles_layer_norm_and_bias_variables(tiny_config):
    model = BertPretrainer(tiny_config)
    optimizer = optimization.AdamWeightDecay(0.01)
    google_names = checkpoints.google_variable_map(model)
    decayed = {name for name, variable in google_names.items() if optimizer.decays(variable)}
    # Google's rule, applied to Google's own variable names.
    expected = {name for name in google_names
                if not any(re.search(p, name) for p in ("LayerNorm", "layer_norm", "bias"))}
    assert decayed == expected
    assert "bert/embeddings/word_embeddings" in decayed
    assert "cls/seq_relationship/output_weights" in decayed
    assert "bert/encoder/layer_0/attention/output/LayerNorm/gamma" not in decayed
    assert "cls/predictions/output_bias" not in decayed


@pytest.mark.parametrize("scale", [1.0, 0.1])
def test_create_optimizer_clips_by_global_norm(scale):
    optimizer = optimization.create_optimizer(0.1, num_train_steps=10, num_warmup_steps=0)
    assert optimizer.global_clipnorm == 1.0
    # The global norm of [3, 0] and [4] is 5 (0.5 once scaled by 0.1); the first
    # moment after one step is 0.1 * the clipped gradient.
    gradients = [np.array([3.0, 0.0], np.float32) * scale, np.array([4.0], np.float32) * scale]
    variables = [keras.Variable(np.ones(2, np.float32), name="kernel"),
                 keras.Variable(np.ones(1, np.float32), name="bias")]
    optimizer.apply(gradients, variables)
    clipped = [g / max(1.0, 5.0 * scale) for g in gradients]
    for variable, expected in zip(variables, clipped):
        np.testing.assert_allclose(optimizer.slots_for(variable)["adam_m"].numpy(),
                                   0.1 * expected, rtol=1e-6)
    with pytest.raises(ValueError, match="Unknown optimizer"):
        optimization.create_optimizer(0.1, 10, 0, optimizer="sgd")


@pytest.mark.parametrize("optimizer_class", [optimization.AdamWeightDecay, optimization.Lamb])
def test_slots_are_adams_moments_under_googles_names(optimizer_class):
    g1, g2 = np.array([0.1, 0.2, -0.3]), np.array([-0.2, 0.05, 0.4])
    optimizer = optimizer_class(0.01)
    kernel = keras.Variable(np.array([0.5, -1.0, 2.0], np.float32), name="kernel")
    for gradient in (g1, g2):
        optimizer.apply([gradient.astype(np.float32)], [kernel])
    slots = optimizer.slots_for(kernel)
    assert list(slots) == ["adam_m", "adam_v"]
    np.testing.assert_allclose(slots["adam_m"].numpy(), 0.9 * 0.1 * g1 + 0.1 * g2, rtol=1e-5)
    # In float32, 0.999 is 0.99900001: the optimizer's 1 - beta_2 is 1.3e-5 short.
    np.testing.assert_allclose(slots["adam_v"].numpy(),
                               0.999 * 0.001 * g1 ** 2 + 0.001 * g2 ** 2, rtol=1e-4)
    with pytest.raises(KeyError):
        optimizer.slots_for(keras.Variable(np.zeros(3, np.float32), name="other"))
