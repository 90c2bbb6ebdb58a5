"""SavedModel export of token classifiers (NER): the served word tags equal
`run_ner.py`'s prediction (FullTokenizer per word, first-piece labels, max-context
windows, argmax or CRF Viterbi), the words are Google's BasicTokenizer split of the
cased text, the entities are `get_chunks` of the tags, and the model loads without
bert_tf.

Over 400 lines on purpose: every test here reads the same three exports (module
fixtures, each a SavedModel build), which a split would build again per file."""

import json
import os
import pathlib
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert_tf import serving
from bert_tf.configs import BertConfig
from bert_tf.errors import UserInputError
from bert_tf.modeling import (INPUT_NAMES, BertClassifier, BertCrfTokenClassifier,
                              BertTokenClassifier)
from bert_tf.serving.entities import TagScheme
from bert_tf.tasks.ner import conll
from bert_tf.tasks.ner import features as ner_features
from bert_tf.tasks.ner.entity_metrics import get_chunks
from bert_tf.tasks.ner.objectives import decode
from bert_tf.text import tokenization
from tests.conftest import (BLOCK_BERT_TF, SAMPLE_VOCAB, out_of_range_id_cases,
                            sample_vocab_config, saved_model_cli, signature_ops, subprocess_env)

VOCAB = str(SAMPLE_VOCAB)
LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
PLAIN_MAX_SEQ_LENGTH = 24
CRF_MAX_SEQ_LENGTH, CRF_DOC_STRIDE = 12, 3

# Case, accents, punctuation, CJK, a lone combining accent (a word for the cased split
# that has no pieces once lower-cased: it becomes [UNK]), control characters and odd
# whitespace, an empty text, and texts longer than one window.
TEXTS = [
    "John Smith lives in New York.",
    "Héllo, WÖRLD! Ça va? 中文字符",
    "a \u0301 b\u00a0c\x07d\u2028Ünïcode-test's",
    "",
    "The European Commission said on Thursday it disagreed with German advice to "
    "consumers to shun British lamb until scientists determine whether mad cow disease "
    "can be transmitted to sheep.",
    "Peter Blackburn , BRUSSELS 1996-08-22 : unbelievably long hyphenated-words here.",
]
# Pre-split words (CoNLL style), padded with "": punctuation inside a word, an empty
# word inside a row, a control character, a row of padding only.
WORDS = [
    ["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."],
    ["U.S.", "officials", "", "said", "\x07", "Fri."],
    [],
    ["Peter"] * 20,
]


def _tagger(model_class, seed: int) -> BertTokenClassifier:
    keras.utils.set_random_seed(seed)
    model = model_class(sample_vocab_config(), len(LABELS))
    rng = np.random.default_rng(seed)
    weights = rng.normal(0, 0.5, model.classifier.output_weights.shape)
    model.classifier.output_weights.assign(weights.astype("float32"))
    if model_class is BertCrfTokenClassifier:
        for weight in (model.crf.transitions, model.crf.start_transitions,
                       model.crf.end_transitions):
            weight.assign(rng.normal(0, 3, weight.shape).astype("float32"))
    return model


def _padded_words(rows: list[list[str]]) -> tf.Tensor:
    width = max(len(row) for row in rows) + 1  # A column of padding, too.
    return tf.constant([row + [""] * (width - len(row)) for row in rows])


def _basic_words(texts: list[str]) -> list[list[str]]:
    """Google's BasicTokenizer split of the cased text."""
    basic = tokenization.BasicTokenizer(do_lower_case=False)
    return [basic.tokenize(text) for text in texts]


def _python_tags(model, rows: list[list[str]], max_seq_length: int,
                 doc_stride: int | None = None, use_crf: bool = True) -> list[list[str]]:
    """The tags run_ner.py predicts for each row of words, one sentence each (with
    `use_crf=False`, the argmax even of a CRF model's logits)."""
    sentences = [conll.Sentence(words, [conll.OUTSIDE] * len(words)) for words in rows]
    tokenizer = tokenization.FullTokenizer(VOCAB, do_lower_case=True)
    features = ner_features.convert_documents(
        [[sentence] for sentence in sentences], tokenizer,
        {label: index for index, label in enumerate(LABELS)}, max_seq_length, doc_stride)
    inputs = {name: tf.constant(value) for name, value in features.arrays().items()
              if name in INPUT_NAMES}
    crf = getattr(model, "crf", None)
    if crf is not None:
        inputs["label_weights"] = tf.constant(features.label_weights)
    logits = model(inputs, training=False)["logits"].numpy()
    window_labels = decode(logits, features.label_weights, crf if use_crf else None)
    ids = ner_features.word_predictions(window_labels, features.mapping, sentences)
    return [[LABELS[index] for index in row] for row in ids]


def _rows(matrix: np.ndarray, counts: np.ndarray) -> list[list[str]]:
    return [[value.decode() for value in row[:count]] for row, count in zip(matrix, counts)]


def _entities(outputs: dict) -> list[list[tuple[str, int, int]]]:
    return [[(kind.decode(), int(start), int(end))
             for kind, start, end in zip(kinds[:count], starts[:count], ends[:count])]
            for kinds, starts, ends, count in zip(
                np.asarray(outputs["entity_types"]), np.asarray(outputs["entity_starts"]),
                np.asarray(outputs["entity_ends"]), np.asarray(outputs["num_entities"]))]


@pytest.fixture(scope="module")
def plain_export(tmp_path_factory):
    model = _tagger(BertTokenClassifier, seed=1)
    path = serving.export_token_classifier(
        model, str(tmp_path_factory.mktemp("plain")), vocab_file=VOCAB,
        do_lower_case=True, max_seq_length=PLAIN_MAX_SEQ_LENGTH, label_list=LABELS)
    return model, path


@pytest.fixture(scope="module")
def crf_export(tmp_path_factory):
    model = _tagger(BertCrfTokenClassifier, seed=2)
    path = serving.export_token_classifier(
        model, str(tmp_path_factory.mktemp("crf")), vocab_file=VOCAB, do_lower_case=True,
        max_seq_length=CRF_MAX_SEQ_LENGTH, label_list=LABELS, doc_stride=CRF_DOC_STRIDE,
        pad_to_max_seq_length=True)
    return model, path


# A cap small enough to test both sides of it, on windows of 6 pieces.
CAP, CAPPED_MAX_SEQ_LENGTH = 12, 8


@pytest.fixture(scope="module")
def capped_export(tmp_path_factory):
    model = _tagger(BertTokenClassifier, seed=4)
    path = serving.export_token_classifier(
        model, str(tmp_path_factory.mktemp("capped")), vocab_file=VOCAB,
        do_lower_case=True, max_seq_length=CAPPED_MAX_SEQ_LENGTH, label_list=LABELS,
        max_words_per_request=CAP)
    return model, path


@pytest.fixture(scope="module")
def plain_outputs(plain_export):
    signature = tf.saved_model.load(plain_export[1]).signatures[serving.SERVING_DEFAULT]
    return {name: value.numpy() for name, value in signature(text=tf.constant(TEXTS)).items()}


def test_words_are_googles_basic_split_of_the_cased_text(plain_outputs):
    expected = _basic_words(TEXTS)
    assert plain_outputs["num_words"].tolist() == [len(words) for words in expected]
    assert _rows(plain_outputs["words"], plain_outputs["num_words"]) == expected
    assert plain_outputs["words"].shape[1] == max(map(len, expected))
    assert "WÖRLD" in expected[1] and "\u0301" in expected[2]  # Not lower-cased.
    tags = plain_outputs["tags"]
    assert all(not value for row, count in zip(tags, plain_outputs["num_words"])
               for value in row[count:])


def test_tags_on_the_first_piece_of_each_word(plain_export, plain_outputs):
    model, _ = plain_export
    # Short texts fit one window: label = argmax at each word's first piece of
    # [CLS] pieces(word 1) pieces(word 2) ... [SEP], each word WordPiece-tokenized alone.
    tokenizer = tokenization.FullTokenizer(VOCAB, do_lower_case=True)
    for row, words in enumerate(_basic_words(TEXTS[:3])):
        pieces, first = ["[CLS]"], []
        for word in words:
            first.append(len(pieces))
            pieces += ner_features.word_pieces(word, tokenizer)
        ids = tokenizer.convert_tokens_to_ids(pieces + ["[SEP]"])
        assert len(ids) <= PLAIN_MAX_SEQ_LENGTH
        inputs = {"input_ids": tf.constant([ids]),
                  "input_mask": tf.ones([1, len(ids)], tf.int32),
                  "segment_ids": tf.zeros([1, len(ids)], tf.int32)}
        labels = model(inputs)["logits"].numpy()[0].argmax(-1)
        assert _rows(plain_outputs["tags"][row:row + 1], [len(words)])[0] == [
            LABELS[labels[position]] for position in first]


def test_text_tags_equal_run_ner_prediction_with_windows(plain_export, plain_outputs):
    model, _ = plain_export
    words = _basic_words(TEXTS)
    tokenizer = tokenization.FullTokenizer(VOCAB, do_lower_case=True)
    assert len(tokenizer.tokenize(TEXTS[4])) > 3 * PLAIN_MAX_SEQ_LENGTH  # Several windows.
    expected = _python_tags(model, words, PLAIN_MAX_SEQ_LENGTH)
    assert _rows(plain_outputs["tags"], plain_outputs["num_words"]) == expected
    assert len({tag for row in expected for tag in row}) > 2  # The labels are really mapped.


def test_entities_are_get_chunks_of_the_tags(plain_outputs):
    tags = _rows(plain_outputs["tags"], plain_outputs["num_words"])
    assert _entities(plain_outputs) == [get_chunks(row) for row in tags]
    assert any(_entities(plain_outputs))
    width = max(len(get_chunks(row)) for row in tags)
    for name, pad in (("entity_starts", -1), ("entity_ends", -1), ("entity_types", b"")):
        assert plain_outputs[name].shape == (len(TEXTS), width)
        assert all(value == pad for row, count in zip(plain_outputs[name],
                                                       plain_outputs["num_entities"])
                   for value in row[count:])


@pytest.mark.parametrize("labels", [LABELS, ["O", "B-A", "I-A", "E-A", "S-A", "B-B", "I-B"],
                                    ["O", "U-A", "L-A", "I-A", "B-B", "I-B", "L-B"]])
def test_entity_chunking_of_every_tag_sequence(labels):
    # In-graph chunking against get_chunks on random (often invalid) sequences:
    # I- after O or after another type, E-/L- endings, S-/U- singletons.
    rng = np.random.default_rng(0)
    rows = [rng.integers(0, len(labels), size=rng.integers(0, 12)).tolist()
            for _ in range(200)]
    outputs = TagScheme(labels).entities(tf.ragged.constant(rows, tf.int32))
    assert _entities(outputs) == [get_chunks([labels[i] for i in row]) for row in rows]


def test_serve_words_tags_each_given_word(plain_export):
    model, path = plain_export
    outputs = tf.saved_model.load(path).signatures[serving.SERVE_WORDS](
        words=_padded_words(WORDS))
    width = max(map(len, WORDS)) + 1
    assert outputs["words"].shape == outputs["tags"].shape == (len(WORDS), width)
    counts = outputs["num_words"].numpy()
    assert counts.tolist() == [len(row) for row in WORDS]
    assert _rows(outputs["words"].numpy(), counts) == WORDS
    tags = _rows(outputs["tags"].numpy(), counts)
    assert tags == _python_tags(model, WORDS, PLAIN_MAX_SEQ_LENGTH)
    assert _entities(outputs) == [get_chunks(row) for row in tags]


def test_crf_tags_equal_run_ner_viterbi(crf_export):
    model, path = crf_export
    loaded = tf.saved_model.load(path)
    from_text = loaded.signatures[serving.SERVING_DEFAULT](text=tf.constant(TEXTS))
    tags = _rows(from_text["tags"].numpy(), from_text["num_words"].numpy())
    words = _basic_words(TEXTS)
    assert tags == _python_tags(model, words, CRF_MAX_SEQ_LENGTH, CRF_DOC_STRIDE)
    assert _entities(from_text) == [get_chunks(row) for row in tags]
    # The transitions matter: the argmax of the same logits tags differently.
    assert tags != _python_tags(model, words, CRF_MAX_SEQ_LENGTH, CRF_DOC_STRIDE,
                                use_crf=False)
    from_words = loaded.signatures[serving.SERVE_WORDS](words=_padded_words(WORDS))
    assert _rows(from_words["tags"].numpy(), from_words["num_words"].numpy()) == (
        _python_tags(model, WORDS, CRF_MAX_SEQ_LENGTH, CRF_DOC_STRIDE))


@pytest.mark.parametrize("signature, inputs", [
    (serving.SERVING_DEFAULT, {"text": tf.constant([], tf.string)}),
    (serving.SERVING_DEFAULT, {"text": tf.constant(["", " \x07 "])}),
    (serving.SERVE_WORDS, {"words": tf.zeros([0, 3], tf.string)}),
    (serving.SERVE_WORDS, {"words": tf.constant([["", ""]])}),
])
def test_batches_without_words(crf_export, signature, inputs):
    outputs = tf.saved_model.load(crf_export[1]).signatures[signature](**inputs)
    batch = inputs[next(iter(inputs))].shape[0]
    assert outputs["num_words"].numpy().tolist() == [0] * batch
    assert outputs["num_entities"].numpy().tolist() == [0] * batch
    assert outputs["tags"].shape[0] == outputs["entity_starts"].shape[0] == batch


def test_text_at_the_word_cap_is_tagged(capped_export):
    model, path = capped_export
    text = "John Smith met Mary Jones in New York on Friday 1996 ."
    rows = _basic_words([text, "Peter"])
    assert len(rows[0]) == CAP
    outputs = tf.saved_model.load(path).signatures[serving.SERVING_DEFAULT](
        text=tf.constant([text, "Peter"]))
    assert outputs["num_words"].numpy().tolist() == [CAP, 1]
    assert _rows(outputs["tags"].numpy(), outputs["num_words"].numpy()) == _python_tags(
        model, rows, CAPPED_MAX_SEQ_LENGTH)


def test_text_over_the_word_cap_is_refused(capped_export):
    serve_text = tf.saved_model.load(capped_export[1]).signatures[serving.SERVING_DEFAULT]
    texts = ["Peter", "John Smith met Mary Jones in New York on Friday 1996 . Again"]
    assert len(_basic_words(texts)[1]) == CAP + 1
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"Row 1 of the batch has 13 words, more than the 12 words "
                             r"per row this model takes \(max_words_per_request\)"):
        serve_text(text=tf.constant(texts))


def test_serve_words_respects_the_word_cap(capped_export):
    model, path = capped_export
    serve_words = tf.saved_model.load(path).signatures[serving.SERVE_WORDS]
    at_cap = [["Peter"] * CAP, ["EU"]]
    # Padding after a row's last word is not a word: a wide tensor is fine.
    words = tf.constant([row + [""] * (3 * CAP - len(row)) for row in at_cap])
    outputs = serve_words(words=words)
    assert outputs["num_words"].numpy().tolist() == [CAP, 1]
    assert _rows(outputs["tags"].numpy(), outputs["num_words"].numpy()) == _python_tags(
        model, at_cap, CAPPED_MAX_SEQ_LENGTH)
    # An empty word before the last counts: it is tagged (as [UNK]).
    over = [["EU"], ["Peter"] * (CAP - 1) + ["", "Peter"]]
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="Row 1 of the batch has 13 words, more than the 12 words"):
        serve_words(words=_padded_words(over))


def test_default_word_cap_refuses_a_huge_text_quickly(plain_export):
    _, path = plain_export
    info = json.loads((pathlib.Path(path) / serving.EXPORT_INFO_FILE).read_text())
    assert info["max_words_per_request"] == serving.DEFAULT_MAX_WORDS_PER_REQUEST == 2048
    serve_text = tf.saved_model.load(path).signatures[serving.SERVING_DEFAULT]
    serve_text(text=tf.constant(["warm up"]))
    text = "John Smith lives in New York. " * 40_000  # 1.2M characters, 280k words.
    start = time.perf_counter()
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="Row 0 of the batch has 280000 words, more than the 2048"):
        serve_text(text=tf.constant([text]))
    # Tagging those words would take minutes (about 25,000 windows); splitting them
    # into words takes well under a second.
    assert time.perf_counter() - start < 10


def _ids_row(input_ids: list[int], segment_ids: list[int], crf: bool) -> dict[str, tf.Tensor]:
    inputs = {"input_ids": tf.constant([input_ids], tf.int32),
              "input_mask": tf.ones([1, len(input_ids)], tf.int32),
              "segment_ids": tf.constant([segment_ids], tf.int32)}
    if crf:
        inputs["label_weights"] = tf.constant([[0.0] + [1.0] * (len(input_ids) - 2) + [0.0]])
    return inputs


@pytest.mark.parametrize("fixture", ["plain_export", "crf_export"])
@pytest.mark.parametrize("name, value, message", out_of_range_id_cases(
    position=1, segment_id_past_type_vocabulary=False))
def test_ids_signature_rejects_ids_out_of_range(request, fixture, name, value, message):
    model, path = request.getfixturevalue(fixture)
    crf = fixture == "crf_export"
    vocab = model.config.vocab_size
    rows = {"input_ids": [2, 40, 41, 3], "segment_ids": [0, 0, 0, 0]}
    rows[name][1] = vocab if value == "vocab" else value
    serve_ids = tf.saved_model.load(path).signatures[serving.SERVE_IDS]
    with pytest.raises(tf.errors.InvalidArgumentError, match=message.format(vocab=vocab)):
        serve_ids(**_ids_row(rows["input_ids"], rows["segment_ids"], crf))
    inputs = _ids_row([2, 0, vocab - 1, 3], [0, 1, 1, 1], crf)  # The ends of the ranges.
    np.testing.assert_allclose(serve_ids(**inputs)["logits"].numpy(),
                               model(inputs, training=False)["logits"].numpy(), atol=1e-5)


@pytest.mark.parametrize("shape", [(0, 0), (0, 5), (2, 0)])
def test_ids_signature_answers_empty_with_empty(plain_export, crf_export, shape):
    for _, path in (plain_export, crf_export):
        inputs = {name: tf.zeros(shape, tf.int32) for name in INPUT_NAMES}
        if path == crf_export[1]:
            inputs["label_weights"] = tf.zeros(shape, tf.float32)
        outputs = tf.saved_model.load(path).signatures[serving.SERVE_IDS](**inputs)
        assert outputs["logits"].shape == (*shape, len(LABELS))
        assert outputs["tag_ids"].shape == shape


def test_ids_signature_gives_logits_and_tag_ids(plain_export, crf_export):
    rows = _basic_words(TEXTS[:3])
    tokenizer = tokenization.FullTokenizer(VOCAB, do_lower_case=True)
    features = ner_features.convert_documents(
        [[conll.Sentence(words, ["O"] * len(words))] for words in rows], tokenizer,
        {label: index for index, label in enumerate(LABELS)}, CRF_MAX_SEQ_LENGTH,
        CRF_DOC_STRIDE)
    inputs = {name: tf.constant(features.arrays()[name]) for name in INPUT_NAMES}
    weights = tf.constant(features.label_weights)
    for (model, path), extra in ((plain_export, {}), (crf_export, {"label_weights": weights})):
        outputs = tf.saved_model.load(path).signatures[serving.SERVE_IDS](**inputs, **extra)
        logits = model({**inputs, **extra}, training=False)["logits"].numpy()
        np.testing.assert_allclose(outputs["logits"].numpy(), logits, atol=1e-5)
        crf = getattr(model, "crf", None)
        np.testing.assert_array_equal(outputs["tag_ids"].numpy(),
                                      decode(logits, features.label_weights, crf))


def test_ids_signature_uses_only_core_tensorflow_ops(crf_export):
    _, path = crf_export
    assert [op for op in signature_ops(path, serving.SERVE_IDS)
            if not hasattr(tf.raw_ops, op)] == []


def test_export_info_and_files(crf_export):
    model, path = crf_export
    assert pathlib.Path(path).name.isdigit()
    assert (pathlib.Path(path) / "assets" / "vocab.txt").read_bytes() == (
        SAMPLE_VOCAB.read_bytes())
    assert BertConfig.from_json_file(os.path.join(path, "bert_config.json")) == model.config
    info = json.loads((pathlib.Path(path) / serving.EXPORT_INFO_FILE).read_text())
    assert info["task"] == "token_classification" and info["crf"] is True
    assert info["labels"] == LABELS and info["doc_stride"] == CRF_DOC_STRIDE
    assert info["max_words_per_request"] == serving.DEFAULT_MAX_WORDS_PER_REQUEST
    outputs = ["words", "tags", "num_words", "entity_starts", "entity_ends",
               "entity_types", "num_entities"]
    assert info["signatures"] == {
        "serve_ids": {"inputs": [*INPUT_NAMES, "label_weights"],
                      "outputs": ["logits", "tag_ids"]},
        "serving_default": {"inputs": ["text"], "outputs": outputs},
        "serve_words": {"inputs": ["words"], "outputs": outputs},
    }
    signatures = tf.saved_model.load(path).signatures
    assert set(signatures) == {serving.SERVING_DEFAULT, serving.SERVE_WORDS, serving.SERVE_IDS}


# Loads the SavedModels where bert_tf cannot be imported and prints what both word
# signatures return as JSON.
_LOAD_WITHOUT_BERT_TF = BLOCK_BERT_TF + r"""
def plain(outputs):
    return {key: [[v.decode() if isinstance(v, bytes) else v for v in row]
                  if isinstance(row, list) else row for row in value.numpy().tolist()]
            for key, value in outputs.items()}

texts, words = json.loads(sys.argv[1]), json.loads(sys.argv[2])
results = []
for path in sys.argv[3:]:
    signatures = tf.saved_model.load(path).signatures
    results.append([plain(signatures["serving_default"](text=tf.constant(texts))),
                    plain(signatures["serve_words"](words=tf.constant(words)))])
assert not [name for name in sys.modules if name.startswith("bert_tf")]
print(json.dumps(results))
"""


def test_loads_without_bert_tf(plain_export, crf_export, tmp_path):
    words = _padded_words(WORDS).numpy()
    words = [[word.decode() for word in row] for row in words]
    result = subprocess.run(
        [sys.executable, "-I", "-c", _LOAD_WITHOUT_BERT_TF, json.dumps(TEXTS),
         json.dumps(words), plain_export[1], crf_export[1]],
        capture_output=True, text=True, cwd=tmp_path, env=subprocess_env())
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads(result.stdout.strip().splitlines()[-1])
    for (model, _), max_seq_length, doc_stride, (from_text, from_words) in zip(
            (plain_export, crf_export), (PLAIN_MAX_SEQ_LENGTH, CRF_MAX_SEQ_LENGTH),
            (None, CRF_DOC_STRIDE), results):
        rows = _basic_words(TEXTS)
        assert [row[:count] for row, count in zip(from_text["words"],
                                                  from_text["num_words"])] == rows
        assert [row[:count] for row, count in zip(from_text["tags"], from_text["num_words"])
                ] == _python_tags(model, rows, max_seq_length, doc_stride)
        assert [row[:count] for row, count in zip(from_words["tags"],
                                                  from_words["num_words"])
                ] == _python_tags(model, WORDS, max_seq_length, doc_stride)


def test_ids_only_crf_export_runs_under_xla_without_tensorflow_text(tmp_path):
    model = _tagger(BertCrfTokenClassifier, seed=3)
    path = serving.export_token_classifier(
        model, str(tmp_path / "ids_only"), vocab_file=VOCAB, do_lower_case=True,
        max_seq_length=8, label_list=LABELS, text_signature=False, jit_compile=True)
    inputs = {"input_ids": [[2, 40, 41, 42, 3, 0]], "input_mask": [[1, 1, 1, 1, 1, 0]],
              "segment_ids": [[0] * 6], "label_weights": [[0.0, 1, 0, 1, 0, 0]]}
    exprs = ";".join(f"{name}={value}" for name, value in inputs.items())
    # The whole graph is imported on load, so this proves no tensorflow_text op is in it.
    outputs = saved_model_cli(path, serving.SERVE_IDS, exprs, tmp_path / "out",
                               register_tensorflow_text=False)
    tensors = {name: tf.constant(value, tf.float32 if name == "label_weights" else tf.int32)
               for name, value in inputs.items()}
    expected = model(tensors, training=False)
    np.testing.assert_allclose(outputs["logits"], expected["logits"].numpy(), atol=1e-5)
    np.testing.assert_array_equal(outputs["tag_ids"], expected["tags"].numpy())
    assert set(tf.saved_model.load(path).signatures) == {serving.SERVE_IDS}
    info = json.loads((pathlib.Path(path) / serving.EXPORT_INFO_FILE).read_text())
    assert info["max_words_per_request"] is None  # No signature it would apply to.


@pytest.mark.parametrize("kwargs, message", [
    ({"label_list": LABELS[:-1]}, "label_list has 6 labels"),
    ({"label_list": None}, "label_list is None"),
    ({"label_list": ["O", "B-PER", "I-PER", "PER", "x", "B-ORG", "I-ORG"]},
     "'PER', which is not a tag"),
    ({"label_list": ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "X-ORG"]},
     "'X-ORG', which is not a tag"),
    ({"max_seq_length": 2}, "between 3"),
    ({"max_seq_length": 65}, "max_position_embeddings"),
    ({"doc_stride": 15}, "doc_stride=15 must be between 1 and max_seq_length - 2 = 14"),
    ({"doc_stride": 0}, "doc_stride"),
    ({"max_words_per_request": 0}, "max_words_per_request=0 must be a positive number "
                                   "of words"),
])
def test_refuses_bad_arguments(tmp_path, kwargs, message):
    model = BertTokenClassifier(sample_vocab_config(), len(LABELS))
    arguments = {"vocab_file": VOCAB, "do_lower_case": True, "max_seq_length": 16,
                 "label_list": LABELS, **kwargs}
    with pytest.raises(UserInputError, match=message):
        serving.export_token_classifier(model, str(tmp_path / "out"), **arguments)
    assert not (tmp_path / "out").exists()


def test_refuses_a_sequence_classifier(tmp_path):
    with pytest.raises(TypeError, match="BertTokenClassifier"):
        serving.export_token_classifier(
            BertClassifier(sample_vocab_config(), len(LABELS)), str(tmp_path),
            vocab_file=VOCAB, do_lower_case=True, max_seq_length=16, label_list=LABELS)
