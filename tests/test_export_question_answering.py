"""SavedModel export of question answering (SQuAD): the served answers equal Google's
`run_squad.py` prediction, with tf-models' copy of his code as the reference
(`read_squad_examples`, `convert_examples_to_features`, `postprocess_output`) fed
with the logits the export's own `serve_ids` gives on tf-models' features.

Two models: one with random weights, asked about many random contexts (sub-words,
punctuation inside words, [UNK], accents, control characters, odd whitespace, long
contexts and questions), and one *steered*: its inputs and span head are set so that
chosen tokens take chosen start and end logits, to pin the named cases.

Over 500 lines on purpose: the tests share the module's exports (fixtures, each a
SavedModel build) and the reference, which a split would build again per file."""

import collections
import json
import os
import pathlib
import random
import re
import subprocess
import sys
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert_tf import serving
from bert_tf.configs import BertConfig
from bert_tf.errors import InvalidArgumentError, UserInputError
from bert_tf.modeling import INPUT_NAMES, BertClassifier, BertSpanExtractor
from bert_tf.text import tokenization
from tests.conftest import (BLOCK_BERT_TF, SAMPLE_VOCAB, out_of_range_id_cases,
                            sample_vocab_config, signature_ops, subprocess_env)

squad_lib = pytest.importorskip("official.nlp.data.squad_lib")
tf_models_tokenization = pytest.importorskip("official.nlp.tools.tokenization")

VOCAB = str(SAMPLE_VOCAB)
# Small windows, so that short contexts need several of them.
SETTINGS = {"max_seq_length": 32, "doc_stride": 8, "max_query_length": 6,
            "n_best_size": 5, "max_answer_length": 5}
RANDOM_CAP = 600  # max_context_chars of the random SQuAD 2.0 export.
_RawResult = collections.namedtuple("RawResult", ["unique_id", "start_logits", "end_logits"])


# ------------------------------------------------------- the reference (tf-models)


def _google(serve_ids, pairs: list[tuple[str, str]], version_2: bool,
            threshold: float = 0.0) -> list[dict]:
    """What Google's prediction writes for each (question, context), padding positions
    left out of the n-best as `run_squad.py` and the export leave them: `text` (from
    predictions.json), `score` (start + end logit of the first n-best entry) and `odds`
    (null_odds.json). Without any candidate `text` is None: Google's code then writes
    "empty" for SQuAD 1.1, and fails for SQuAD 2.0 (tf-models' copy too, for a context
    without pieces: it has no window to put the null answer in)."""
    data = {"version": "x", "data": [{"title": "t", "paragraphs": [
        {"context": context, "qas": [{"id": str(index), "question": question}]}
        for index, (question, context) in enumerate(pairs)]}]}
    with tempfile.TemporaryDirectory() as directory:
        path = pathlib.Path(directory) / "squad.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        examples = squad_lib.read_squad_examples(str(path), is_training=False,
                                                 version_2_with_negative=version_2)
    tokenizer = tf_models_tokenization.FullTokenizer(VOCAB, do_lower_case=True)
    features = []
    squad_lib.convert_examples_to_features(
        examples, tokenizer, SETTINGS["max_seq_length"], SETTINGS["doc_stride"],
        SETTINGS["max_query_length"], is_training=False,
        output_fn=lambda feature, is_padding: features.append(feature), batch_size=1)
    # Questions with windows, renumbered.
    kept = sorted({feature.example_index for feature in features})
    for feature in features:
        feature.example_index = kept.index(feature.example_index)
    results = []
    if features:
        logits = serve_ids(**{name: tf.constant([getattr(f, name) for f in features])
                              for name in INPUT_NAMES})
        for feature, start, end in zip(features, logits["start_logits"].numpy(),
                                       logits["end_logits"].numpy()):
            # Padding positions take no n-best slot here (Google's would rank them).
            real = np.array(feature.input_mask) > 0
            results.append(_RawResult(
                feature.unique_id, [float(x) for x in np.where(real, start, -np.inf)],
                [float(x) for x in np.where(real, end, -np.inf)]))
    predictions, nbest, odds = squad_lib.postprocess_output(
        [examples[index] for index in kept], features, results, SETTINGS["n_best_size"],
        SETTINGS["max_answer_length"], do_lower_case=True,
        version_2_with_negative=version_2, null_score_diff_threshold=threshold)
    expected = []
    for index in range(len(pairs)):
        if index not in kept:
            expected.append({"text": None, "score": None, "odds": None})
            continue
        best = nbest[str(index)][0]
        nonce = best["text"] == "empty" and best["start_logit"] == best["end_logit"] == 0
        expected.append({"text": None if nonce and not version_2 else predictions[str(index)],
                         "score": best["start_logit"] + best["end_logit"],
                         "odds": odds.get(str(index))})
    return expected


def _served(signature, pairs: list[tuple[str, str]]) -> dict[str, np.ndarray]:
    outputs = signature(question=tf.constant([q for q, _ in pairs], tf.string),
                        context=tf.constant([c for _, c in pairs], tf.string))
    return {name: value.numpy() for name, value in outputs.items()}


def _joined(text: str) -> str:
    """`text` with its runs of context whitespace as single spaces, as Google joins
    words."""
    return re.sub("[ \t\r\n\u202f]+", " ", text)


def _check_against_google(loaded, pairs, version_2: bool, threshold: float = 0.0,
                          ) -> list[str]:
    """Asserts that `serving_default` answers each pair as Google's prediction does
    and that the offsets cut the answer from the context; returns the answers."""
    served = _served(loaded.signatures[serving.SERVING_DEFAULT], pairs)
    expected = _google(loaded.signatures[serving.SERVE_IDS], pairs, version_2, threshold)
    answers = [answer.decode() for answer in served["answer"]]
    for index, ((question, context), answer, google) in enumerate(zip(pairs, answers,
                                                                      expected)):
        where = f"pair {index}: {question!r} / {context!r}"
        start, end = served["start_char"][index], served["end_char"][index]
        if google["text"] is None:  # Google's nonce: no candidate at all.
            assert (answer, start, end) == ("", -1, -1), where
            assert served["score"][index] == -np.inf, where
            continue
        assert _joined(answer) == google["text"], where
        if answer:
            assert context[start:end] == answer, where
            assert answer == answer.strip(" \t\r\n\u202f"), where
        else:
            assert (start, end) == (-1, -1), where
        if version_2:
            if google["odds"] is not None and served["null_odds"][index] != np.inf:
                np.testing.assert_allclose(served["null_odds"][index], google["odds"],
                                           rtol=1e-5, atol=1e-5, err_msg=where)
        else:
            np.testing.assert_allclose(served["score"][index], google["score"],
                                       rtol=1e-5, atol=1e-5, err_msg=where)
    return answers


# ------------------------------------------------------------- random contexts

_WORDS = ["the", "baker", "bread", "breadcrumbs", "(1923).", "mill-wheel", "Eastbrook,",
          "WATER", "café", "cafe\u0301s", "x47", "\x07", "naïve", "1960s", "co-op",
          "salt-salt", "it's", "u.s.", "a;b", "Bread", "bread,", "loaf", "sea", "station",
          "\u00e9t\u00e9", "ﬁre", "a\u00a0b", "[UNK]", "summits", "wheelbarrow", "\u200b",
          "mid\u00adday", "library's", "2,30", "north-north-east", "Σίσυφος", "中文"]
_SEPARATORS = [" ", " ", " ", " ", "  ", "\t", "\n", "\u202f", " \r\n ", "\t\u202f"]


def _random_pairs(seed: int, count: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pairs = []
    for index in range(count):
        size = rng.choice([0, 1, 3, 8, 15, 30, 45]) if index % 7 else 0
        words = rng.choices(_WORDS, k=size)
        context = rng.choice(["", " ", "\n"])
        for word in words:
            context += word + rng.choice(_SEPARATORS)
        if rng.random() < 0.5:
            context = context.rstrip(" \t\r\n\u202f")
        question = " ".join(rng.choices(_WORDS, k=rng.choice([0, 1, 3, 9])))
        pairs.append((question, context))
    return pairs


RANDOM_PAIRS = _random_pairs(seed=7, count=120)


@pytest.fixture(scope="module")
def random_model() -> BertSpanExtractor:
    keras.utils.set_random_seed(11)
    return BertSpanExtractor(sample_vocab_config())


@pytest.fixture(scope="module")
def random_exports(random_model, tmp_path_factory) -> dict[bool, str]:
    """SQuAD 1.1 and 2.0 exports of the random model, by `version_2_with_negative`."""
    return {version_2: serving.export_question_answerer(
        random_model, str(tmp_path_factory.mktemp(f"random_v{1 + version_2}")),
        vocab_file=VOCAB, do_lower_case=True, version_2_with_negative=version_2,
        max_context_chars=RANDOM_CAP if version_2 else serving.DEFAULT_MAX_CONTEXT_CHARS,
        **SETTINGS) for version_2 in (False, True)}


def test_random_contexts_answer_as_google(random_exports):
    tokenizer = tokenization.FullTokenizer(VOCAB, do_lower_case=True)
    pieces = [len(tokenizer.tokenize(context)) for _, context in RANDOM_PAIRS]
    assert max(pieces) > 3 * SETTINGS["max_seq_length"]  # Contexts of 3+ windows.
    assert max(len(tokenizer.tokenize(q)) for q, _ in RANDOM_PAIRS) > (
        SETTINGS["max_query_length"])
    assert max(len(context) for _, context in RANDOM_PAIRS) <= RANDOM_CAP
    loaded = tf.saved_model.load(random_exports[False])
    answers = _check_against_google(loaded, RANDOM_PAIRS, version_2=False)
    # Varied answers: many different ones, several words long, and parts of words.
    assert len(set(answers)) > 40
    assert any(len(answer.split()) > 1 for answer in answers)
    words = {word for _, context in RANDOM_PAIRS for word in re.split(
        "[ \t\r\n\u202f]+", context)}
    assert sum(bool(answer) and " " not in answer and answer not in words
               for answer in answers) > 5


def test_random_contexts_answer_as_google_with_null_answers(random_exports):
    loaded = tf.saved_model.load(random_exports[True])
    answers = _check_against_google(loaded, RANDOM_PAIRS, version_2=True)
    # Both kinds of answers occur, and not only for empty contexts.
    assert sum(answer == "" for answer, (_, context) in zip(answers, RANDOM_PAIRS)
               if context.strip()) > 5
    assert sum(answer != "" for answer in answers) > 5


def test_empty_batch_and_empty_texts(random_exports):
    for version_2, path in random_exports.items():
        signature = tf.saved_model.load(path).signatures[serving.SERVING_DEFAULT]
        outputs = _served(signature, [])
        assert {name: value.shape for name, value in outputs.items()} == {
            name: (0,) for name in [*serving.question_answering.ANSWER_OUTPUTS,
                                    *(["null_odds"] if version_2 else [])]}
        outputs = _served(signature, [("", ""), ("where ?", " \t\u202f"), ("", "\x07")])
        assert outputs["answer"].tolist() == [b""] * 3
        assert outputs["start_char"].tolist() == outputs["end_char"].tolist() == [-1] * 3
        assert outputs["score"].tolist() == [-np.inf] * 3
        if version_2:
            assert outputs["null_odds"].tolist() == [np.inf] * 3


def test_context_over_the_cap_is_refused(random_exports):
    signature = tf.saved_model.load(random_exports[True]).signatures[serving.SERVING_DEFAULT]
    at_cap = "é" * (RANDOM_CAP - 4) + " sea"  # Characters, not bytes.
    _served(signature, [("q", "the sea"), ("q", at_cap)])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=f"Row 1 of the batch has a context of {RANDOM_CAP + 1} "
                             f"characters, more than the {RANDOM_CAP} characters this "
                             r"model takes \(max_context_chars\)"):
        _served(signature, [("q", "the sea"), ("q", at_cap + "!")])


def test_question_and_context_rows_must_match(random_exports):
    signature = tf.saved_model.load(random_exports[False]).signatures[
        serving.SERVING_DEFAULT]
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="question and context must have as many rows; got 2 "
                             "questions and 1 contexts"):
        signature(question=tf.constant(["a", "b"]), context=tf.constant(["the sea"]))


# ------------------------------------------------------------- the steered model


def _steered_model(starts: dict[str, float], ends: dict[str, float],
                   weakened_positions: tuple[int, ...] = ()) -> BertSpanExtractor:
    """A model whose start (end) logit at a position holding token t is about
    10 * starts[t] (10 * ends[t]), and about 0 for other tokens.

    With small weights (initializer_range 0.02) each layer adds little to its
    input, so the sequence output is about LayerNorm(word + position + type
    embeddings). Every embedding loses its part along three orthonormal zero-mean
    directions u, v, w; a chosen token's word embedding becomes 10 (s u + e v + r w)
    with s^2 + e^2 + r^2 = 1, which LayerNorm scales to sqrt(H) (s u + e v + r w); the
    span head reads 10 / sqrt(H) u and 10 / sqrt(H) v. A weakened position gets a large
    fourth direction, which shrinks its token's parts along u and v.
    """
    config = BertConfig(vocab_size=len(tokenization.load_vocab(VOCAB)), hidden_size=32,
                        num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                        max_position_embeddings=64, type_vocab_size=2,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    keras.utils.set_random_seed(5)
    model = BertSpanExtractor(config)
    size = config.hidden_size
    rng = np.random.default_rng(5)
    matrix = rng.normal(size=(size, 4))
    directions, _ = np.linalg.qr(matrix - matrix.mean(axis=0))  # Orthonormal, mean 0.
    u, v, w, weak = directions.T
    steered = directions[:, :3]
    embeddings = model.bert.embeddings
    for table in (embeddings.word_embeddings, embeddings.position_embeddings,
                  embeddings.token_type_embeddings):
        values = table.numpy()
        table.assign((values - values @ steered @ steered.T).astype("float32"))
    vocab = tokenization.load_vocab(VOCAB)
    words = embeddings.word_embeddings.numpy()
    for token in set(starts) | set(ends):
        s, e = starts.get(token, 0.0), ends.get(token, 0.0)
        words[vocab[token]] = 10 * (s * u + e * v + np.sqrt(1 - s * s - e * e) * w)
    embeddings.word_embeddings.assign(words.astype("float32"))
    positions = embeddings.position_embeddings.numpy()
    for position in weakened_positions:
        positions[position] += 20 * weak
    embeddings.position_embeddings.assign(positions.astype("float32"))
    model.span.output_weights.assign((10 / np.sqrt(size) * np.stack([u, v])).astype(
        "float32"))
    return model


def _export(model, directory: pathlib.Path, version_2: bool = False, **kwargs) -> str:
    return serving.export_question_answerer(
        model, str(directory), vocab_file=VOCAB, do_lower_case=True,
        version_2_with_negative=version_2, **{**SETTINGS, **kwargs})


# Hot tokens: "bread" and "1923" (starts and ends), "loaf" and [UNK] (starts), "mill"
# (an end), [CLS] (a null score of 10, for SQuAD 2.0) and "church" (a span of 8, just
# below the null score).
STARTS = {"bread": 0.7, "1923": 0.7, "loaf": 0.65, "[UNK]": 0.6, "[CLS]": 0.5,
          "church": 0.4}
ENDS = {"bread": 0.7, "1923": 0.7, "mill": 0.6, "[CLS]": 0.5, "church": 0.4}
FILLER = "the day the sea and the station at the time of the hills"
# (name, question, context, the answer)
STEERED_CASES = [
    ("sub-word", "where", "we found breadcrumbs there", "bread"),
    ("punctuation inside a word", "when", "it was built (1923). then", "1923"),
    # "[UNK] mill" is not in "( mill )": Google gives the whole word.
    ("[UNK] piece: whole words", "where", "the (mill) wall", "(mill)"),
    ("tab and U+202F inside the answer", "what", "the\tloaf\u202f and\tmill  sells",
     "loaf\u202f and\tmill"),
    ("3+ windows", "where", f"{FILLER} {FILLER} {FILLER} bread {FILLER}", "bread"),
    # Cut to six "where": were the six "bread"s kept, they would take all five top
    # starts and ends (in the question) and leave no candidate.
    ("question longer than max_query_length", "where " * 6 + "bread " * 6,
     "the loaf by the mill", "loaf by the mill"),
    ("accent written as a combining mark: whole word", "what", "our bre\u0301ads",
     "bre\u0301ads"),
    ("precomposed accent: cut", "what", "our bréads", "bréad"),
    ("control character in the span: whole words", "what", "x loaf \x07 mill y",
     "loaf \x07 mill"),
]


@pytest.fixture(scope="module")
def steered(tmp_path_factory):
    """The steered model and its SQuAD 1.1 and 2.0 exports."""
    model = _steered_model(STARTS, ENDS)
    return model, {version_2: _export(model, tmp_path_factory.mktemp("steered"), version_2)
                   for version_2 in (False, True)}


def test_steered_model_scores_the_chosen_tokens(steered):
    model, _ = steered
    tokenizer = tokenization.FullTokenizer(VOCAB, do_lower_case=True)
    tokens = ["[CLS]", "where", "[SEP]", "the", "bread", "mill", "loaf", "[SEP]"]
    ids = tokenizer.convert_tokens_to_ids(tokens)
    outputs = model({"input_ids": tf.constant([ids]), "input_mask": tf.ones([1, 8], tf.int32),
                     "segment_ids": tf.constant([[0, 0, 0, 1, 1, 1, 1, 1]])})
    expected_start = [10 * STARTS.get(token, 0) for token in tokens]
    expected_end = [10 * ENDS.get(token, 0) for token in tokens]
    np.testing.assert_allclose(outputs["start_logits"][0], expected_start, atol=0.5)
    np.testing.assert_allclose(outputs["end_logits"][0], expected_end, atol=0.5)


@pytest.mark.parametrize("name, question, context, answer", STEERED_CASES,
                         ids=[case[0] for case in STEERED_CASES])
def test_steered_answers_equal_google(steered, name, question, context, answer):
    _, exports = steered
    loaded = tf.saved_model.load(exports[False])
    assert _check_against_google(loaded, [(question, context)], version_2=False) == [answer]


def test_null_wins_in_one_window_and_loses_in_another(steered):
    _, exports = steered
    loaded = tf.saved_model.load(exports[True])
    # "bread" only in the last window: [CLS] beats the first window's best span and
    # loses to the last one's.
    long_context = f"{FILLER} {FILLER} {FILLER} bread"
    pairs = [("where", long_context), ("where", FILLER), ("where", "the bread")]
    answers = _check_against_google(loaded, pairs, version_2=True)
    assert answers == ["bread", "", "bread"]
    served = _served(loaded.signatures[serving.SERVING_DEFAULT], pairs)
    assert served["null_odds"][0] < 0 < served["null_odds"][1]
    # Per window, from the same logits: the null wins the first and loses the last.
    tokenizer = tf_models_tokenization.FullTokenizer(VOCAB, do_lower_case=True)
    features = []
    squad_lib.convert_examples_to_features(
        [squad_lib.SquadExample("0", "where", long_context.split())], tokenizer,
        SETTINGS["max_seq_length"], SETTINGS["doc_stride"], SETTINGS["max_query_length"],
        is_training=False, output_fn=lambda feature, is_padding: features.append(feature),
        batch_size=1)
    assert len(features) >= 3
    logits = loaded.signatures[serving.SERVE_IDS](**{
        name: tf.constant([getattr(f, name) for f in features]) for name in INPUT_NAMES})
    start, end = logits["start_logits"].numpy(), logits["end_logits"].numpy()
    null = start[:, 0] + end[:, 0]
    passage = [sorted(f.token_to_orig_map) for f in features]
    best = [start[i, p].max() + end[i, p].max() for i, p in enumerate(passage)]
    assert null[0] > best[0] and null[-1] < best[-1]


def test_null_score_threshold_as_google(steered, tmp_path):
    model, exports = steered
    pairs = [("where", "the church"), ("where", "the bread"), ("where", FILLER)]
    # A span of about 8 against a null score of about 10: "" at threshold 0, the
    # span at threshold 5.
    loaded = tf.saved_model.load(exports[True])
    assert _check_against_google(loaded, pairs, version_2=True) == ["", "bread", ""]
    loaded = tf.saved_model.load(_export(model, tmp_path, version_2=True,
                                         null_score_diff_threshold=5.0))
    assert _check_against_google(loaded, pairs, version_2=True, threshold=5.0) == [
        "church", "bread", ""]


def test_first_occurrence_of_the_predicted_text_is_cut(tmp_path):
    # "Salt-salt" is salt - salt for an uncased model. The second "salt" is predicted
    # (the first one's position is weakened), but Google's get_final_text finds
    # "salt" first at the word's start, and answers "Salt"; so does the export.
    tokenizer = tokenization.FullTokenizer(VOCAB, do_lower_case=True)
    pieces = ["[CLS]", "where", "[SEP]", "salt", "-", "salt", "[SEP]"]
    assert tokenizer.tokenize("where Salt-salt") == pieces[1:2] + pieces[3:6]
    model = _steered_model({"salt": 0.7}, {"salt": 0.7}, weakened_positions=(3,))
    logits = model({"input_ids": tf.constant([tokenizer.convert_tokens_to_ids(pieces)]),
                    "input_mask": tf.ones([1, 7], tf.int32),
                    "segment_ids": tf.constant([[0, 0, 0, 1, 1, 1, 1]])})
    for name in ("start_logits", "end_logits"):
        assert logits[name][0, 5] > logits[name][0, 3] + 2
    loaded = tf.saved_model.load(_export(model, tmp_path))
    pair = ("where", "Salt-salt")
    assert _check_against_google(loaded, [pair], version_2=False) == ["Salt"]
    served = _served(loaded.signatures[serving.SERVING_DEFAULT], [pair])
    assert (served["start_char"][0], served["end_char"][0]) == (0, 4)


# ---------------------------------------------------------------- serve_ids, files


def test_ids_signature_equals_the_keras_model(random_model, random_exports):
    tokenizer = tokenization.FullTokenizer(VOCAB, do_lower_case=True)
    rows = [["[CLS]", "where", "[SEP]", "the", "bread", "[SEP]"],
            ["[CLS]", "[SEP]", "salt", "-", "salt", "[SEP]"]]
    inputs = {"input_ids": tf.constant([tokenizer.convert_tokens_to_ids(r) for r in rows]),
              "input_mask": tf.constant([[1] * 6, [1] * 5 + [0]]),
              "segment_ids": tf.constant([[0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 1, 0]])}
    expected = random_model(inputs, training=False)
    outputs = tf.saved_model.load(random_exports[False]).signatures[serving.SERVE_IDS](
        **inputs)
    assert set(outputs) == {"start_logits", "end_logits"}
    for name in outputs:
        np.testing.assert_allclose(outputs[name].numpy(), expected[name].numpy(), atol=1e-5)


@pytest.mark.parametrize("name, value, message", out_of_range_id_cases(position=1))
def test_ids_signature_rejects_ids_out_of_range(random_model, random_exports, name, value,
                                                message):
    vocab = random_model.config.vocab_size
    rows = {"input_ids": [2, 40, 41, 3], "segment_ids": [0, 0, 1, 1]}
    rows[name][1] = vocab if value == "vocab" else value
    serve_ids = tf.saved_model.load(random_exports[False]).signatures[serving.SERVE_IDS]
    with pytest.raises(tf.errors.InvalidArgumentError, match=message.format(vocab=vocab)):
        serve_ids(input_ids=tf.constant([rows["input_ids"]]),
                  input_mask=tf.ones([1, 4], tf.int32),
                  segment_ids=tf.constant([rows["segment_ids"]]))


@pytest.mark.parametrize("shape", [(0, 0), (0, 5), (2, 0)])
def test_ids_signature_answers_empty_with_empty(random_exports, shape):
    serve_ids = tf.saved_model.load(random_exports[True]).signatures[serving.SERVE_IDS]
    outputs = serve_ids(**{name: tf.zeros(shape, tf.int32) for name in INPUT_NAMES})
    assert {name: tuple(value.shape) for name, value in outputs.items()} == {
        "start_logits": shape, "end_logits": shape}


def test_export_info_and_files(random_model, random_exports):
    path = random_exports[True]
    assert pathlib.Path(path).name.isdigit()
    assert (pathlib.Path(path) / "assets" / "vocab.txt").read_bytes() == (
        SAMPLE_VOCAB.read_bytes())
    assert BertConfig.from_json_file(os.path.join(path, "bert_config.json")) == (
        random_model.config)
    info = json.loads((pathlib.Path(path) / serving.EXPORT_INFO_FILE).read_text())
    assert {key: info[key] for key in (
        "task", "do_lower_case", "max_seq_length", "doc_stride", "max_query_length",
        "n_best_size", "max_answer_length", "version_2_with_negative",
        "null_score_diff_threshold", "max_context_chars", "jit_compile", "text_padding")
    } == {"task": "question_answering", "do_lower_case": True, **SETTINGS,
          "version_2_with_negative": True, "null_score_diff_threshold": 0.0,
          "max_context_chars": RANDOM_CAP, "jit_compile": False,
          "text_padding": "max_seq_length"}
    assert info["signatures"] == {
        "serve_ids": {"inputs": list(INPUT_NAMES),
                      "outputs": ["start_logits", "end_logits"]},
        "serving_default": {"inputs": ["question", "context"],
                            "outputs": ["answer", "start_char", "end_char", "score",
                                        "null_odds"]},
    }
    v1_info = json.loads((pathlib.Path(random_exports[False]) / serving.EXPORT_INFO_FILE)
                         .read_text())
    assert v1_info["signatures"]["serving_default"]["outputs"] == [
        "answer", "start_char", "end_char", "score"]


# Loads a SavedModel where bert_tf cannot be imported and prints its answers as JSON.
_LOAD_WITHOUT_BERT_TF = BLOCK_BERT_TF + r"""
pairs = json.loads(sys.argv[1])
signature = tf.saved_model.load(sys.argv[2]).signatures["serving_default"]
outputs = signature(question=tf.constant([q for q, _ in pairs]),
                    context=tf.constant([c for _, c in pairs]))
assert not [name for name in sys.modules if name.startswith("bert_tf")]
print(json.dumps([answer.decode() for answer in outputs["answer"].numpy().tolist()]))
"""


def test_loads_without_bert_tf(random_exports, tmp_path):
    pairs = RANDOM_PAIRS[:20]
    result = subprocess.run(
        [sys.executable, "-I", "-c", _LOAD_WITHOUT_BERT_TF, json.dumps(pairs),
         random_exports[True]], capture_output=True, text=True, cwd=tmp_path,
        env=subprocess_env())
    assert result.returncode == 0, result.stderr[-3000:]
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    served = _served(tf.saved_model.load(random_exports[True]).signatures[
        serving.SERVING_DEFAULT], pairs)
    assert answers == [answer.decode() for answer in served["answer"]]


def test_ids_signature_uses_only_core_tensorflow_ops(random_exports):
    assert [op for op in signature_ops(random_exports[True], serving.SERVE_IDS)
            if not hasattr(tf.raw_ops, op)] == []


def test_ids_only_export_under_xla(random_model, tmp_path):
    path = serving.export_question_answerer(
        random_model, str(tmp_path), vocab_file=VOCAB, do_lower_case=True,
        text_signature=False, jit_compile=True, **SETTINGS)
    loaded = tf.saved_model.load(path)
    assert set(loaded.signatures) == {serving.SERVE_IDS}
    inputs = {"input_ids": tf.constant([[2, 40, 41, 3, 42, 3, 0]]),
              "input_mask": tf.constant([[1, 1, 1, 1, 1, 1, 0]]),
              "segment_ids": tf.constant([[0, 0, 0, 0, 1, 1, 0]])}
    outputs = loaded.signatures[serving.SERVE_IDS](**inputs)
    expected = random_model(inputs, training=False)
    for name in ("start_logits", "end_logits"):
        np.testing.assert_allclose(outputs[name].numpy(), expected[name].numpy(), atol=1e-5)
    info = json.loads((pathlib.Path(path) / serving.EXPORT_INFO_FILE).read_text())
    assert info["max_context_chars"] is None and info["jit_compile"] is True


@pytest.mark.parametrize("kwargs, message", [
    ({"max_seq_length": 65}, "max_position_embeddings"),
    ({"max_query_length": 13}, r"max_seq_length=16 must be more than max_query_length "
                               r"\+ 3 = 16"),
    ({"max_query_length": 0}, "max_query_length=0 must be at least 1"),
    ({"doc_stride": 0}, "doc_stride=0 must be at least 1"),
    ({"n_best_size": 0}, "n_best_size=0 must be at least 1"),
    ({"max_answer_length": -1}, "max_answer_length=-1 must be at least 1"),
    ({"max_context_chars": 0}, "max_context_chars=0 must be at least 1"),
    ({"null_score_diff_threshold": float("nan")}, "null_score_diff_threshold=nan must be "
                                                  "a finite number"),
])
def test_refuses_bad_arguments(random_model, tmp_path, kwargs, message):
    arguments = {"vocab_file": VOCAB, "do_lower_case": True, "max_seq_length": 16,
                 "max_query_length": 4, **kwargs}
    with pytest.raises(InvalidArgumentError, match=message):
        serving.export_question_answerer(random_model, str(tmp_path / "out"), **arguments)
    assert not (tmp_path / "out").exists()


def test_refuses_another_model_and_a_vocabulary_that_does_not_fit(tmp_path):
    with pytest.raises(TypeError, match="BertSpanExtractor"):
        serving.export_question_answerer(
            BertClassifier(sample_vocab_config(), 2), str(tmp_path), vocab_file=VOCAB,
            do_lower_case=True, max_seq_length=16, max_query_length=4)
    small = BertSpanExtractor(BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1,
                                         num_attention_heads=2, intermediate_size=8))
    with pytest.raises(UserInputError, match="vocab_size is 50"):
        serving.export_question_answerer(small, str(tmp_path), vocab_file=VOCAB,
                                         do_lower_case=True, max_seq_length=16,
                                         max_query_length=4)
