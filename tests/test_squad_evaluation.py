"""The SQuAD scorers: hand-worked scores, and the official evaluation scripts and
tf-models' copies of them on random predictions."""

import argparse
import importlib.util
import json

import numpy as np
import pytest

from bert_tf.tasks.squad import evaluation
from bert_tf.tasks.squad import squad_json
from conftest import REPO_ROOT

OFFICIAL_SCRIPTS = REPO_ROOT.parent / "shared" / "data" / "squad"


def make_file(golds: dict[str, list[str]]) -> squad_json.SquadFile:
    """One context; question id -> its gold answer texts."""
    return squad_json.SquadFile(
        "gold.json", [squad_json.Context.from_text("unused")],
        [squad_json.SquadExample(
            qas_id, "?", 0, tuple(squad_json.Answer(text, 0) for text in texts),
            not texts, None, None) for qas_id, texts in golds.items()], skipped=0)


@pytest.mark.parametrize("text, normalized", [
    ("The  Cat's hat!", "cats hat"),  # Lower case, punctuation, article, spaces.
    ("an apple a day", "apple day"),
    ("theatre Anna", "theatre anna"),  # Articles only as whole words.
    ("A", ""),
    ("the-end", "theend"),  # Punctuation goes first: "theend" is no article.
    ("the:a", "thea"),
    ("Caf\u00e9 \u2014 bar", "caf\u00e9 \u2014 bar"),  # Non-ASCII punctuation stays.
    ("\t1,000\u00a0km ", "1000 km"),  # Any whitespace splits.
])
def test_normalize_answer(text, normalized):
    assert evaluation.normalize_answer(text) == normalized


def test_exact_match_and_f1():
    assert evaluation.exact_match_score("The Cat.", "cat") == 1.0
    assert evaluation.exact_match_score("cats", "cat") == 0.0
    # Words [cat, sat] against [cat, sat, down]: precision 1, recall 2/3.
    assert evaluation.f1_score("the cat sat", "a cat sat down") == pytest.approx(0.8)
    # Bags of words: [cat, cat] against [cat]: 1 in common, precision 1/2, recall 1.
    assert evaluation.f1_score("cat cat", "cat") == pytest.approx(2 / 3)
    assert evaluation.f1_score("dog", "cat") == 0.0


@pytest.mark.parametrize("prediction, gold, v1, v2", [
    ("", "", 0.0, 1.0),
    ("the", "", 0.0, 1.0),  # "the" normalizes to nothing.
    ("", "cat", 0.0, 0.0),
    ("cat", "!", 0.0, 0.0),
])
def test_f1_of_empty_answers(prediction, gold, v1, v2):
    assert evaluation.f1_score(prediction, gold) == v1
    assert evaluation.f1_score(prediction, gold, version_2_with_negative=True) == v2


def test_v1_scores():
    squad_file = make_file({"q1": ["Denver Broncos", "The Denver Broncos", "Broncos"],
                            "q2": ["cat sat"], "q3": ["dog"]})
    # q1: "broncos" is the third answer exactly. q2: F1 2/3. q3: no prediction, 0.
    result = evaluation.evaluate(squad_file, {"q1": "the Broncos!", "q2": "cat"})
    assert result == pytest.approx({"exact_match": 100 / 3, "f1": 100 * (5 / 3) / 3})
    assert list(result) == ["exact_match", "f1"]


def test_v1_refuses_a_question_without_answers():
    with pytest.raises(ValueError, match="q2 has no gold answer.*version_2_with_negative"):
        evaluation.evaluate(make_file({"q1": ["a cat"], "q2": []}), {"q1": "", "q2": ""})


# Five questions, by rising null odds:
#   q1 (-3.0) answerable, "Denver" right:            exact 1, F1 1
#   q5 ( 0.5) answerable, predicted "":               exact 0, F1 0
#   q2 ( 1.0) answerable, "sky" for "blue sky":        exact 0, F1 2/3
#   q4 ( 1.5) unanswerable, predicted "red":          exact 0, F1 0
#   q3 ( 2.0) unanswerable, predicted "":             exact 1, F1 1
V2_GOLD = {"q1": ["Denver", "denver!"], "q2": ["blue sky"], "q3": [], "q4": [],
           "q5": ["cat", "the"]}
V2_PREDICTIONS = {"q1": "Denver", "q2": "sky", "q3": "", "q4": "red", "q5": ""}
V2_NULL_ODDS = {"q1": -3.0, "q2": 1.0, "q3": 2.0, "q4": 1.5, "q5": 0.5}


def test_v2_scores_and_best_thresholds():
    result = evaluation.evaluate(make_file(V2_GOLD), V2_PREDICTIONS, V2_NULL_ODDS,
                                 version_2_with_negative=True)
    # na_prob_thresh 1.0: q4 (1.5) and q3 (2.0) count as predicted unanswerable, which
    # turns q4 right: exact 1, 0, 1, 1, 0 and F1 1, 2/3, 1, 1, 0.
    # Best threshold, starting at 2 (both unanswerable right, nothing answered) and
    # answering by rising odds: q1 +1 = 3, q5 +0, q2 +0 (exact) / +2/3 (F1), q4 -1, q3 0.
    # Exact peaks at 3 after q1 (-3.0); F1 at 3 2/3 after q2 (1.0).
    expected = {
        "exact": 60.0, "f1": 100 * (11 / 3) / 5, "total": 5,
        "HasAns_exact": 100 / 3, "HasAns_f1": 100 * (5 / 3) / 3, "HasAns_total": 3,
        "NoAns_exact": 100.0, "NoAns_f1": 100.0, "NoAns_total": 2,
        "best_exact": 60.0, "best_exact_thresh": -3.0,
        "best_f1": 100 * (11 / 3) / 5, "best_f1_thresh": 1.0,
        "exact_match": 60.0}
    assert result == pytest.approx(expected)
    assert list(result) == list(expected)


def test_v2_without_null_odds_and_other_threshold():
    squad_file = make_file(V2_GOLD)
    raw = {"exact": 40.0, "f1": 100 * (8 / 3) / 5, "total": 5,
           "HasAns_exact": 100 / 3, "HasAns_f1": 100 * (5 / 3) / 3, "HasAns_total": 3,
           "NoAns_exact": 50.0, "NoAns_f1": 50.0, "NoAns_total": 2, "exact_match": 40.0}
    assert evaluation.evaluate(squad_file, V2_PREDICTIONS,
                               version_2_with_negative=True) == pytest.approx(raw)
    # Threshold 2.0: no question is above it, the raw scores stand.
    result = evaluation.evaluate(squad_file, V2_PREDICTIONS, V2_NULL_ODDS,
                                 version_2_with_negative=True, na_prob_thresh=2.0)
    assert {key: result[key] for key in raw} == pytest.approx(raw)


def test_v2_best_threshold_zero_when_answering_nothing_is_best():
    squad_file = make_file({"q1": ["cat"], "q2": []})
    result = evaluation.evaluate(squad_file, {"q1": "dog", "q2": "dog"},
                                 {"q1": -1.0, "q2": -2.0}, version_2_with_negative=True)
    assert (result["best_exact"], result["best_exact_thresh"]) == (50.0, 0.0)
    assert "HasAns_total" in result and "NoAns_total" in result
    answerable_only = evaluation.evaluate(make_file({"q1": ["cat"]}), {"q1": "cat"},
                                          version_2_with_negative=True)
    assert "NoAns_total" not in answerable_only and answerable_only["exact"] == 100.0


def test_v2_refuses_missing_predictions_and_odds():
    squad_file = make_file(V2_GOLD)
    with pytest.raises(ValueError, match="no prediction for question q5"):
        evaluation.evaluate(squad_file, {key: "" for key in ("q1", "q2", "q3", "q4")},
                            version_2_with_negative=True)
    with pytest.raises(ValueError, match="no null odds for 1 questions, e.g. q5"):
        evaluation.evaluate(squad_file, V2_PREDICTIONS,
                            {key: 0.0 for key in ("q1", "q2", "q3", "q4")},
                            version_2_with_negative=True)


# --- Against the official scripts and tf-models on random predictions. ---

POOL = ["Denver", "Broncos", "the", "a", "blue", "sky", "cat's", "hat!", "An", "apple",
        "!", "Caf\u00e9", "na\u00efve", "1,000"]


def random_case(seed: int, unanswerable: float, missing: float):
    """Gold answers, predictions (some empty, some copied from a gold answer, some
    left out) and null odds on a 0.1 grid (ties), for 80 questions."""
    rng = np.random.default_rng(seed)

    def phrase() -> str:
        return " ".join(rng.choice(POOL, size=rng.integers(1, 4)))

    golds, predictions, null_odds = {}, {}, {}
    for index in range(80):
        qas_id = f"q{index}"
        golds[qas_id] = ([] if rng.random() < unanswerable
                         else [phrase() for _ in range(rng.integers(1, 4))])
        draw = rng.random()
        if draw < missing:
            continue
        if draw < 0.3:
            predictions[qas_id] = ""
        elif draw < 0.55 and golds[qas_id]:
            predictions[qas_id] = str(rng.choice(golds[qas_id]))
        else:
            predictions[qas_id] = phrase()
        null_odds[qas_id] = float(np.round(rng.normal(), 1))
    dataset = [{"title": "t", "paragraphs": [{"context": "unused", "qas": [
        {"id": qas_id, "question": "?", "answers": [{"text": text, "answer_start": 0}
                                                    for text in texts]}
        for qas_id, texts in golds.items()]}]}]
    return make_file(golds), dataset, predictions, null_odds


def load_script(name: str):
    path = OFFICIAL_SCRIPTS / name
    if not path.exists():
        pytest.skip(f"{path} is not there")
    spec = importlib.util.spec_from_file_location(name.replace("-", "_").replace(".", "_"),
                                                  path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_v1_as_the_official_script(seed):
    script = load_script("evaluate-v1.1.py")
    squad_file, dataset, predictions, _ = random_case(seed, unanswerable=0.0, missing=0.1)
    result = evaluation.evaluate(squad_file, predictions)
    assert result == script.evaluate(dataset, predictions)  # To the last bit.
    tf_models = pytest.importorskip("official.nlp.tools.squad_evaluate_v1_1")
    expected = tf_models.evaluate(dataset, predictions)
    assert result["exact_match"] == pytest.approx(100 * expected["exact_match"], rel=1e-12)
    assert result["f1"] == pytest.approx(100 * expected["final_f1"], rel=1e-12)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("with_null_odds", [False, True])
@pytest.mark.parametrize("na_prob_thresh", [1.0, 0.2])
def test_v2_as_the_official_script(tmp_path, seed, with_null_odds, na_prob_thresh):
    script = load_script("evaluate-v2.0.py")
    squad_file, dataset, predictions, null_odds = random_case(seed, unanswerable=0.4,
                                                              missing=0.0)
    files = {"data": {"version": "v2.0", "data": dataset}, "pred": predictions,
             "na_prob": null_odds}
    for name, value in files.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(value))
    script.OPTS = argparse.Namespace(
        data_file=str(tmp_path / "data.json"), pred_file=str(tmp_path / "pred.json"),
        out_file=str(tmp_path / "eval.json"),
        na_prob_file=str(tmp_path / "na_prob.json") if with_null_odds else None,
        na_prob_thresh=na_prob_thresh, out_image_dir=None, verbose=False)
    script.main()
    expected = json.loads((tmp_path / "eval.json").read_text())

    result = evaluation.evaluate(squad_file, predictions,
                                 null_odds if with_null_odds else None,
                                 version_2_with_negative=True,
                                 na_prob_thresh=na_prob_thresh)
    assert result == {**expected, "exact_match": expected["exact"]}  # To the last bit.
    assert list(result)[:-1] == list(expected)
    if not with_null_odds or na_prob_thresh != 1.0:
        return
    tf_models = pytest.importorskip("official.nlp.tools.squad_evaluate_v2_0")
    tf_models_result = tf_models.evaluate(dataset, predictions, null_odds)
    # tf-models calls the best scores "final_exact", ..., "final_f1_thresh".
    assert {key: tf_models_result[key.replace("best_", "final_")]
            for key in expected} == expected
