"""The CRF layer against brute-force enumeration of every tag sequence."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert_tf.layers.crf import CRF
from tests.conftest import crf_brute_force

NUM_TAGS = 3


def make_crf(seed: int) -> CRF:
    """A CRF with random (not zero) transition, start and end scores."""
    rng = np.random.default_rng(seed)
    crf = CRF(NUM_TAGS)
    crf.transitions.assign(rng.normal(size=(NUM_TAGS, NUM_TAGS)).astype("float32"))
    crf.start_transitions.assign(rng.normal(size=NUM_TAGS).astype("float32"))
    crf.end_transitions.assign(rng.normal(size=NUM_TAGS).astype("float32"))
    return crf


# Prefix masks, holes (as for non-first sub-tokens), all-masked-out and a single position.
MASKS = np.array([
    [1, 1, 1, 1],
    [1, 1, 0, 0],
    [0, 1, 0, 1],
    [1, 0, 1, 1],
    [0, 0, 0, 0],
    [0, 0, 1, 0],
], dtype=np.int32)


def random_inputs(seed: int):
    """Emissions [6, 4, 3] and gold tags [6, 4] for MASKS."""
    rng = np.random.default_rng(seed)
    emissions = rng.normal(size=MASKS.shape + (NUM_TAGS,)).astype("float32") * 2
    tags = rng.integers(0, NUM_TAGS, size=MASKS.shape).astype("int32")
    return emissions, tags


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_log_likelihood_and_viterbi_match_enumeration(seed):
    crf = make_crf(seed)
    emissions, tags = random_inputs(seed + 10)
    log_likelihood = crf.log_likelihood(emissions, tags, MASKS).numpy()
    decoded = crf.decode(emissions, MASKS).numpy()
    for b, mask in enumerate(MASKS):
        log_probs, best = crf_brute_force(crf, emissions[b], mask)
        gold = tuple(tags[b][mask == 1])
        np.testing.assert_allclose(log_likelihood[b], log_probs[gold], rtol=1e-5, atol=1e-5)
        # The log-probabilities of all sequences sum to 1: the partition is right too.
        np.testing.assert_allclose(np.exp(list(log_probs.values())).sum(), 1.0, rtol=1e-5)
        assert tuple(decoded[b][mask == 1]) == best
        assert not decoded[b][mask == 0].any()


def test_values_at_unmasked_positions_are_ignored():
    crf = make_crf(3)
    emissions, tags = random_inputs(4)
    changed_emissions = np.where(MASKS[..., None] == 1, emissions, 1e4).astype("float32")
    changed_tags = np.where(MASKS == 1, tags, -1)
    np.testing.assert_allclose(crf.log_likelihood(changed_emissions, changed_tags, MASKS),
                               crf.log_likelihood(emissions, tags, MASKS), rtol=1e-6)
    np.testing.assert_array_equal(crf.decode(changed_emissions, MASKS),
                                  crf.decode(emissions, MASKS))


def test_no_mask_means_every_position_and_call_decodes():
    crf = make_crf(5)
    emissions, tags = random_inputs(6)
    full = np.ones_like(MASKS)
    np.testing.assert_allclose(crf.log_likelihood(emissions, tags),
                               crf.log_likelihood(emissions, tags, full))
    np.testing.assert_array_equal(crf(emissions), crf.decode(emissions, full))


def test_sequence_of_one_position():
    crf = make_crf(7)
    emissions = np.array([[[0.5, -1.0, 2.0]]], dtype="float32")
    log_probs, best = crf_brute_force(crf, emissions[0], np.ones(1))
    np.testing.assert_allclose(crf.log_likelihood(emissions, np.array([[1]])),
                               [log_probs[(1,)]], rtol=1e-5)
    assert crf.decode(emissions).numpy().tolist() == [list(best)]


def test_runs_in_tf_function_with_xla_and_has_gradients():
    crf = make_crf(8)
    emissions, tags = random_inputs(9)
    expected_ll = crf.log_likelihood(emissions, tags, MASKS).numpy()
    expected_tags = crf.decode(emissions, MASKS).numpy()

    @tf.function(jit_compile=True)
    def run(emissions, tags, mask):
        with tf.GradientTape() as tape:
            tape.watch(emissions)
            log_likelihood = crf.log_likelihood(emissions, tags, mask)
            loss = -tf.reduce_sum(log_likelihood)
        gradients = tape.gradient(loss, [emissions, crf.transitions])
        return log_likelihood, crf.decode(emissions, mask), gradients

    log_likelihood, decoded, (emission_grad, transition_grad) = run(
        tf.constant(emissions), tf.constant(tags), tf.constant(MASKS))
    np.testing.assert_allclose(log_likelihood, expected_ll, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(decoded, expected_tags)
    assert np.isfinite(transition_grad.numpy()).all() and transition_grad.numpy().any()
    # Unmasked positions do not influence the likelihood.
    assert not emission_grad.numpy()[MASKS == 0].any()


def test_config_round_trip_and_weights():
    crf = CRF(5, name="crf")
    assert {w.path.split("/")[-1] for w in crf.weights} == {
        "transitions", "start_transitions", "end_transitions"}
    clone = CRF.from_config(crf.get_config())
    assert clone.num_tags == 5 and clone.name == "crf"
    assert isinstance(clone, keras.layers.Layer)
    with pytest.raises(ValueError, match="num_tags"):
        CRF(0)
