"""The conlleval-style entity scorer: hand-counted examples and seqeval."""

import numpy as np
import pytest
from seqeval import metrics as seqeval_metrics
from seqeval.metrics.sequence_labeling import get_entities

from bert_tf.tasks.ner import entity_metrics
from bert_tf.tasks.ner import conll

# Counted by hand: a type error (s1), a boundary error (s2), IOB1 input (s3).
GOLD = [["B-PER", "I-PER", "O", "B-LOC"],
        ["B-PER", "I-PER", "I-PER", "O"],
        ["I-PER", "I-PER", "B-PER", "O", "I-LOC"]]
PREDICTED = [["B-PER", "I-PER", "O", "B-ORG"],
             ["B-PER", "I-PER", "O", "O"],
             ["I-PER", "O", "I-PER", "I-PER", "I-LOC"]]
# Gold entities: PER 4 (s3 holds two touching ones), LOC 2. Predicted: PER 4, ORG 1,
# LOC 1. Correct: s1's PER and s3's LOC. Tokens: 13, of which 3 + 3 + 2 agree.
REPORT = """\
processed 13 tokens with 6 phrases; found: 6 phrases; correct: 2.
accuracy:  61.54%; precision:  33.33%; recall:  33.33%; FB1:  33.33
              LOC: precision: 100.00%; recall:  50.00%; FB1:  66.67  1
              ORG: precision:   0.00%; recall:   0.00%; FB1:   0.00  1
              PER: precision:  25.00%; recall:  25.00%; FB1:  25.00  4
"""


def test_hand_counted_example():
    result = entity_metrics.evaluate(GOLD, PREDICTED)
    assert (result["num_tokens"], result["num_gold"], result["num_predicted"],
            result["num_correct"]) == (13, 6, 6, 2)
    assert result["accuracy"] == pytest.approx(8 / 13)
    assert result["precision"] == result["recall"] == result["f1"] == pytest.approx(1 / 3)
    assert result["per_type"]["LOC"] == pytest.approx(
        {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "num_gold": 2, "num_predicted": 1,
         "num_correct": 1})
    assert result["per_type"]["ORG"]["f1"] == 0.0
    assert result["per_type"]["PER"]["f1"] == pytest.approx(0.25)
    assert entity_metrics.format_report(result) == REPORT


def test_chunks_of_each_scheme():
    assert entity_metrics.get_chunks(["I-PER", "I-PER", "B-PER", "O", "I-LOC"]) == [
        ("PER", 0, 2), ("PER", 2, 3), ("LOC", 4, 5)]
    assert entity_metrics.get_chunks(["B-PER", "E-PER", "B-PER", "E-PER", "S-LOC"]) == [
        ("PER", 0, 2), ("PER", 2, 4), ("LOC", 4, 5)]
    assert entity_metrics.get_chunks(["U-PER", "B-LOC", "I-LOC", "L-LOC", "O"]) == [
        ("PER", 0, 1), ("LOC", 1, 4)]
    # Type change inside an entity, and an entity at the very end.
    assert entity_metrics.get_chunks(["B-PER", "I-LOC", "I-LOC"]) == [
        ("PER", 0, 1), ("LOC", 1, 3)]


def test_iobes_boundaries():
    gold = [["B-PER", "E-PER", "S-LOC"]]
    result = entity_metrics.evaluate(gold, [["B-PER", "I-PER", "E-PER"]])
    assert (result["num_gold"], result["num_predicted"], result["num_correct"]) == (2, 1, 0)
    touching = [["B-PER", "E-PER", "B-PER", "E-PER"]]
    assert entity_metrics.evaluate(touching, touching)["num_correct"] == 2


def test_empty_and_mismatched_inputs():
    result = entity_metrics.evaluate([["O", "O"]], [["O", "O"]])
    assert (result["precision"], result["recall"], result["f1"]) == (0.0, 0.0, 0.0)
    assert result["accuracy"] == 1.0 and result["per_type"] == {}
    with pytest.raises(ValueError, match="2 gold tags but 1"):
        entity_metrics.evaluate([["O", "O"]], [["O"]])
    with pytest.raises(ValueError, match="1 gold sentences but 2"):
        entity_metrics.evaluate([["O"]], [["O"], ["O"]])


def random_sequences(rng, prefixes: str, count: int = 300) -> list[list[str]]:
    """Random tags (valid or not) over two types, sentences of 0 to 11 words."""
    tags = ["O"] + [f"{p}-{t}" for p in prefixes for t in ("A", "BB")]
    return [[str(tag) for tag in rng.choice(tags, size=rng.integers(0, 12))]
            for _ in range(count)]


@pytest.mark.parametrize("prefixes", ["BI", "BIES"])
def test_matches_seqeval_default_mode_on_random_tags(prefixes):
    rng = np.random.default_rng(len(prefixes))
    for _ in range(5):
        gold = random_sequences(rng, prefixes)
        # A noisy copy of the gold tags, so that some entities are right.
        noise = random_sequences(rng, prefixes, len(gold))
        predicted = [[g if rng.random() < 0.7 else str(rng.choice(n or ["O"]))
                      for g in sentence] for sentence, n in zip(gold, noise)]
        result = entity_metrics.evaluate(gold, predicted)
        assert result["precision"] == pytest.approx(
            seqeval_metrics.precision_score(gold, predicted, zero_division=0))
        assert result["recall"] == pytest.approx(
            seqeval_metrics.recall_score(gold, predicted, zero_division=0))
        assert result["f1"] == pytest.approx(
            seqeval_metrics.f1_score(gold, predicted, zero_division=0))
        assert result["accuracy"] == pytest.approx(
            seqeval_metrics.accuracy_score(gold, predicted))
        report = seqeval_metrics.classification_report(gold, predicted, output_dict=True,
                                                       zero_division=0)
        for entity_type in ("A", "BB"):
            ours, theirs = result["per_type"][entity_type], report[entity_type]
            assert ours["num_gold"] == theirs["support"]
            for key in ("precision", "recall"):
                assert ours[key] == pytest.approx(theirs[key])
            assert ours["f1"] == pytest.approx(theirs["f1-score"])
        # The chunks themselves, sentence by sentence.
        for sentence in gold:
            theirs = [(t, start, end + 1) for t, start, end in get_entities(sentence)]
            assert entity_metrics.get_chunks(sentence) == theirs


@pytest.mark.parametrize("scheme", ["iob1", "iobes", "bilou"])
def test_converted_valid_tags_score_the_same(scheme):
    rng = np.random.default_rng(7)
    gold = [conll.to_iob2(s) for s in random_sequences(rng, "BI")]
    predicted = [conll.to_iob2(s) for s in random_sequences(rng, "BI", len(gold))]
    predicted = [(p + ["O"] * len(g))[:len(g)] for g, p in zip(gold, predicted)]
    expected = entity_metrics.evaluate(gold, predicted)
    converted = entity_metrics.evaluate([conll.from_iob2(s, scheme) for s in gold],
                                        [conll.from_iob2(s, scheme) for s in predicted])
    for key in ("precision", "recall", "f1", "num_gold", "num_predicted", "num_correct"):
        assert converted[key] == pytest.approx(expected[key])
