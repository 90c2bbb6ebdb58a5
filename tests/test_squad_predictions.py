"""SQuAD post-processing: hand-worked windows and logits, and tf-models' copy of
Google's `write_predictions` (`postprocess_output`) on random ones."""

import collections
import dataclasses
import json
import math

import numpy as np
import pytest

from bert_tf.tasks.squad import predictions as squad_predictions
from bert_tf.tasks.squad import squad_json
from bert_tf.tasks.squad.features import SquadFeatures
from bert_tf.text import tokenization

SEQ = 20
BASE = -10.0  # The logit of every position a test does not set.

# "Steve Smith's team won in (1895). golden", uncased, after the question "who won":
#   0 [CLS] 1 who 2 won 3 [SEP] 4 steve 5 smith 6 ' 7 s 8 team 9 won 10 in 11 ( 12 1895
#   13 ) 14 . 15 gold 16 ##en 17 [SEP] 18, 19 padding
STEVE = "Steve Smith's team won in (1895). golden"
STEVE_PIECES = [("steve", 0), ("smith", 1), ("'", 1), ("s", 1), ("team", 2), ("won", 3),
                ("in", 4), ("(", 5), ("1895", 5), (")", 5), (".", 5), ("gold", 6),
                ("##en", 6)]


def make_file(*contexts: str) -> squad_json.SquadFile:
    """One question per context, with ids q0, q1, ..."""
    return squad_json.SquadFile(
        "hand.json", [squad_json.Context.from_text(text) for text in contexts],
        [squad_json.SquadExample(f"q{index}", "?", index, (), False, None, None)
         for index in range(len(contexts))], skipped=0)


def window(example: int, question: str, pieces: list[tuple[str, int]],
           not_max_context: tuple[int, ...] = ()) -> dict:
    """A window `[CLS] question [SEP] pieces [SEP]`; `pieces` are (WordPiece, word)."""
    tokens = ["[CLS]", *question.split(), "[SEP]"]
    token_to_word = [-1] * len(tokens)
    for piece, word in pieces:
        tokens.append(piece)
        token_to_word.append(word)
    tokens.append("[SEP]")
    token_to_word.append(-1)
    max_context = [word >= 0 and position not in not_max_context
                   for position, word in enumerate(token_to_word)]
    return {"example": example, "tokens": tokens, "token_to_word": token_to_word,
            "max_context": max_context}


def make_features(windows: list[dict], seq_length: int = SEQ,
                  vocab: list[str] | None = None) -> tuple[SquadFeatures, list[str]]:
    """The windows as `SquadFeatures` (padded to `seq_length`) and the vocabulary."""
    vocab = vocab or ["[PAD]", *sorted({token for row in windows for token in row["tokens"]})]
    ids = {token: index for index, token in enumerate(vocab)}
    count = len(windows)
    input_ids = np.zeros([count, seq_length], np.int32)
    token_to_word = np.full([count, seq_length], -1, np.int32)
    max_context = np.zeros([count, seq_length], bool)
    for row, values in enumerate(windows):
        size = len(values["tokens"])
        input_ids[row, :size] = [ids[token] for token in values["tokens"]]
        token_to_word[row, :size] = values["token_to_word"]
        max_context[row, :size] = values["max_context"]
    example_index = np.array([row["example"] for row in windows], np.int32)
    doc_span_index = np.array([sum(other["example"] == row["example"]
                                   for other in windows[:index])
                               for index, row in enumerate(windows)], np.int32)
    zeros = np.zeros([count], np.int32)
    features = SquadFeatures(
        input_ids=input_ids, input_mask=(input_ids > 0).astype(np.int32),
        segment_ids=np.zeros_like(input_ids), start_positions=zeros, end_positions=zeros,
        example_index=example_index, doc_span_index=doc_span_index,
        token_to_word=token_to_word, token_is_max_context=max_context)
    return features, vocab


def logits(*rows: dict[int, float], length: int = SEQ) -> np.ndarray:
    """float32 [len(rows), length]: BASE except at the given positions."""
    result = np.full([len(rows), length], BASE, np.float32)
    for row, values in enumerate(rows):
        for position, value in values.items():
            result[row, position] = value
    return result


def predict(squad_file, features, vocab, start, end, **options):
    arguments = dict(id_to_token=vocab, n_best_size=20, max_answer_length=30,
                     do_lower_case=True, version_2_with_negative=False,
                     null_score_diff_threshold=0.0)
    arguments.update(options)
    return squad_predictions.compute_predictions(squad_file, features, start, end,
                                                 **arguments)


def entries(result, qas_id: str = "q0") -> list[tuple]:
    return [(entry["text"], entry["start_logit"], entry["end_logit"])
            for entry in result.nbest[qas_id]]


def softmax(*scores: float) -> list[float]:
    exps = [math.exp(score - max(scores)) for score in scores]
    return [value / sum(exps) for value in exps]


# (pred_text, orig_text, do_lower_case) -> Google's answer, worked out by hand.
FINAL_TEXTS = [
    ("steve smith", "Steve Smith's", True, "Steve Smith"),
    ("1895", "(1895).", True, "1895"),
    ("1895 ) .", "(1895).", True, "1895)."),
    # The lower-cased pieces are found in the lower-cased words, the case comes back.
    ("john", "JOHN's", True, "JOHN"),
    ("Smith", "Smith's", False, "Smith"),
    # A cased model's pieces are not lower-cased: not found, all words returned.
    ("john", "JOHN's", False, "JOHN's"),
    # A precomposed accent is stripped one character for one: aligned.
    ("cafe", "Caf\u00e9!", True, "Caf\u00e9"),
    # A combining accent is a character of its own: lengths differ, all words.
    ("cafe", "Cafe\u0301!", True, "Cafe\u0301!"),
    # The first piece of "golden".
    ("gold", "golden", True, "gold"),
    # The first occurrence, even when the span was the second piece (Google's).
    ("gold", "goldGold", True, "gold"),
    ("xyzzy", "plugh", True, "plugh"),
    # Found at 0, but ending at -1, which maps to nothing: all words.
    ("", "abc", True, "abc"),
]


@pytest.mark.parametrize("pred_text, orig_text, do_lower_case, expected", FINAL_TEXTS)
def test_get_final_text(pred_text, orig_text, do_lower_case, expected):
    assert squad_predictions.get_final_text(pred_text, orig_text, do_lower_case) == expected


def test_get_final_text_as_tf_models():
    squad_lib = pytest.importorskip("official.nlp.data.squad_lib")
    for pred_text, orig_text, do_lower_case, expected in FINAL_TEXTS:
        assert squad_lib.get_final_text(pred_text, orig_text, do_lower_case) == expected


@pytest.mark.parametrize("do_lower_case", [True, False])
def test_words_tokenize_on_their_own(do_lower_case):
    """What the per-word cache of basic tokens rests on: words joined by spaces
    tokenize to the words' tokens one after the other, whatever their characters."""
    rng = np.random.default_rng(3)
    drawn = np.concatenate([rng.integers(1, 0x3100, 4000), rng.integers(1, 0x30000, 2000)])
    code_points = [cp for cp in drawn.tolist()
                   if chr(cp) not in squad_json.WORD_SEPARATORS
                   and not 0xD800 <= cp <= 0xDFFF]
    words = ["".join(map(chr, code_points[index:index + 3]))
             for index in range(0, len(code_points), 3)]
    tokenizer = tokenization.BasicTokenizer(do_lower_case=do_lower_case)
    for index in range(0, len(words), 4):
        group = words[index:index + 4]
        assert tokenizer.tokenize(" ".join(group)) == [
            token for word in group for token in tokenizer.tokenize(word)]


def test_the_span_is_cut_out_of_its_words():
    features, vocab = make_features([window(0, "who won", STEVE_PIECES)])
    result = predict(make_file(STEVE), features, vocab, logits({4: 5.0}), logits({5: 4.0}),
                     n_best_size=3)
    # Starts 4, 0, 1 and ends 5, 0, 1: only (4, 5) lies in the passage.
    assert result.predictions == {"q0": "Steve Smith"}
    assert result.nbest == {"q0": [{"text": "Steve Smith", "probability": 1.0,
                                    "start_logit": 5.0, "end_logit": 4.0}]}
    assert result.null_odds is None


def test_candidate_filters_ranking_and_probabilities():
    features, vocab = make_features([window(0, "who won", STEVE_PIECES,
                                            not_max_context=(15,))])
    # Start ranks: 2 (question), 15 (not its max context), 12, 10, 19 (padding).
    start = logits({2: 9.0, 15: 8.0, 12: 7.0, 10: 6.0, 19: 5.0})
    # End ranks: 18 (padding), 12, 9, 16, 14.
    end = logits({18: 10.0, 12: 9.0, 9: 8.0, 16: 7.0, 14: 6.0})
    result = predict(make_file(STEVE), features, vocab, start, end, n_best_size=5,
                     max_answer_length=4)
    # Kept: (12, 12) 16, (10, 12) 15, (12, 14) 13. Dropped: start 12 with end 9 (before
    # it) and 16 (5 pieces); start 10 with end 14 (5) and 16 (7).
    assert entries(result) == [("1895", 7.0, 9.0), ("in (1895", 6.0, 9.0),
                               ("1895).", 7.0, 6.0)]
    assert [entry["probability"] for entry in result.nbest["q0"]] == pytest.approx(
        softmax(16.0, 15.0, 13.0), rel=1e-15)
    assert [entry["probability"] for entry in result.nbest["q0"]] == pytest.approx(
        [0.70538451, 0.25949646, 0.03511903])
    assert result.predictions["q0"] == "1895"
    # Five pieces allowed: (12, 16) 14 and (10, 14) 12 join.
    longer = predict(make_file(STEVE), features, vocab, start, end, n_best_size=5,
                     max_answer_length=5)
    assert [text for text, _, _ in entries(longer)] == [
        "1895", "in (1895", "1895). golden", "1895).", "in (1895)."]


@pytest.mark.parametrize("n_best_size, texts", [
    (1, ["team won"]),
    (2, ["team won", "team won in"]),
    (3, ["team won", "team won in", "won"]),
])
def test_ties_go_to_the_lower_position_and_the_earlier_pair(n_best_size, texts):
    features, vocab = make_features([window(0, "who won", STEVE_PIECES)])
    # Starts 8 and 9 tie, ends 9 and 10 tie; all four pairs score 10.
    result = predict(make_file(STEVE), features, vocab, logits({8: 5.0, 9: 5.0}),
                     logits({9: 5.0, 10: 5.0}), n_best_size=n_best_size)
    assert [text for text, _, _ in entries(result)] == texts


def test_duplicate_texts_are_skipped():
    # "gold or gold": 0 [CLS] 1 which 2 [SEP] 3 gold 4 or 5 gold 6 [SEP]
    features, vocab = make_features([window(0, "which", [("gold", 0), ("or", 1),
                                                         ("gold", 2)])])
    result = predict(make_file("gold or gold"), features, vocab,
                     logits({3: 5.0, 5: 4.0, 4: 0.0}), logits({3: 5.0, 5: 4.0, 4: 0.0}),
                     n_best_size=3)
    # Ranked: (3,3) 10 "gold", (3,5) 9, (5,5) 8 "gold" again, (3,4) 5, (4,5) 4, (4,4) 0.
    assert entries(result) == [("gold", 5.0, 5.0), ("gold or gold", 5.0, 4.0),
                               ("gold or", 5.0, 0.0)]


def test_nothing_valid_gives_the_nonce_answer():
    features, vocab = make_features([window(0, "who won", STEVE_PIECES)])
    result = predict(make_file(STEVE), features, vocab, logits({1: 5.0, 2: 4.0}),
                     logits({1: 5.0, 2: 4.0}), n_best_size=2)
    assert result.predictions == {"q0": "empty"}
    assert result.nbest == {"q0": [{"text": "empty", "probability": 1.0,
                                    "start_logit": 0.0, "end_logit": 0.0}]}


def test_a_question_without_windows():
    features, vocab = make_features([window(1, "who won", STEVE_PIECES)])
    files = make_file("", STEVE)
    start, end = logits({4: 1.0}), logits({4: 1.0})
    assert predict(files, features, vocab, start, end).predictions == {
        "q0": "empty", "q1": "Steve"}
    v2 = predict(files, features, vocab, start, end, version_2_with_negative=True)
    assert v2.nbest["q0"] == [{"text": "", "probability": 1.0, "start_logit": 0.0,
                               "end_logit": 0.0}]
    assert v2.predictions["q0"] == ""
    assert v2.null_odds["q0"] == squad_predictions.NO_SPAN_NULL_ODDS


# "one two three four five six" in two windows after the question "q":
#   A: 0 [CLS] 1 q 2 [SEP] 3 one 4 two 5 three 6 four 7 [SEP]  ("four" has more context in B)
#   B: 0 [CLS] 1 q 2 [SEP] 3 three 4 four 5 five 6 six 7 [SEP]  ("three" has more in A)
SIX = "one two three four five six"
TWO_WINDOWS = [window(0, "q", [("one", 0), ("two", 1), ("three", 2), ("four", 3)],
                      not_max_context=(6,)),
               window(0, "q", [("three", 2), ("four", 3), ("five", 4), ("six", 5)],
                      not_max_context=(3,))]


@pytest.mark.parametrize("threshold, prediction", [
    (0.0, "two three"), (-1.0, "two three"), (-1.5, "")])
def test_null_score_is_the_lowest_over_the_windows(threshold, prediction):
    features, vocab = make_features(TWO_WINDOWS)
    # A: null 2.5 + 2.5 = 5 loses to "two three" (3 + 3). B: null 4 + 4 = 8 beats "five"
    # (2 + 2). The question's null score is A's 5: ranked between the two spans.
    start = logits({0: 2.5, 4: 3.0}, {0: 4.0, 5: 2.0})
    end = logits({0: 2.5, 5: 3.0}, {0: 4.0, 5: 2.0})
    result = predict(make_file(SIX), features, vocab, start, end, n_best_size=3,
                     version_2_with_negative=True, null_score_diff_threshold=threshold)
    assert entries(result) == [("two three", 3.0, 3.0), ("", 2.5, 2.5), ("five", 2.0, 2.0)]
    assert [entry["probability"] for entry in result.nbest["q0"]] == pytest.approx(
        softmax(6.0, 5.0, 4.0), rel=1e-15)
    assert result.null_odds == {"q0": -1.0}  # 5 - 3 - 3
    assert result.predictions == {"q0": prediction}


def test_null_ties_rank_after_the_span():
    features, vocab = make_features(TWO_WINDOWS)
    start = logits({0: 3.0, 4: 3.0}, {0: 4.0, 5: 2.0})
    end = logits({0: 3.0, 5: 3.0}, {0: 4.0, 5: 2.0})
    result = predict(make_file(SIX), features, vocab, start, end, n_best_size=2,
                     version_2_with_negative=True)
    assert entries(result) == [("two three", 3.0, 3.0), ("", 3.0, 3.0)]
    assert result.null_odds == {"q0": 0.0}
    assert result.predictions == {"q0": "two three"}  # 0.0 is not above 0.0.


def test_null_is_added_when_the_nbest_is_full():
    features, vocab = make_features(TWO_WINDOWS)
    start = logits({0: 1.0, 4: 3.0}, {0: 4.0, 5: 2.0})
    end = logits({0: 1.0, 5: 3.0}, {0: 4.0, 5: 2.0})
    result = predict(make_file(SIX), features, vocab, start, end, n_best_size=2,
                     version_2_with_negative=True)
    # Ranked "two three" 6, "five" 4, null 2: the n-best fills, then "" is added.
    assert entries(result) == [("two three", 3.0, 3.0), ("five", 2.0, 2.0),
                               ("", 1.0, 1.0)]
    assert result.null_odds == {"q0": -4.0}


@pytest.mark.parametrize("n_best_size, start, end", [
    # No span survives: only starts in the question.
    (3, logits({1: 5.0, 2: 4.0}, {1: 5.0}), logits({1: 5.0}, {1: 5.0})),
    # One place in the n-best, and the null (A: 4 + 4) takes it from "two three" (6).
    (1, logits({0: 4.0, 4: 3.0}, {0: 9.0}), logits({0: 4.0, 5: 3.0}, {0: 9.0})),
])
def test_no_non_null_answer(n_best_size, start, end):
    features, vocab = make_features(TWO_WINDOWS)
    result = predict(make_file(SIX), features, vocab, start, end, n_best_size=n_best_size,
                     version_2_with_negative=True)
    assert [text for text, _, _ in entries(result)] == [""]
    assert result.nbest["q0"][0]["probability"] == 1.0
    assert result.predictions == {"q0": ""}
    assert result.null_odds == {"q0": squad_predictions.NO_SPAN_NULL_ODDS}


def test_dynamically_padded_logits():
    features, vocab = make_features([window(0, "who won", STEVE_PIECES)])
    start, end = logits({4: 5.0}, length=18), logits({5: 4.0}, length=18)
    result = predict(make_file(STEVE), features, vocab, start, end)
    assert result.predictions == {"q0": "Steve Smith"}
    with pytest.raises(ValueError, match="passage tokens beyond"):
        predict(make_file(STEVE), features, vocab, start[:, :16], end[:, :16])
    with pytest.raises(ValueError, match=r"must both be \[1, L\] with L <= 20"):
        predict(make_file(STEVE), features, vocab, start, end[:, :17])


def test_prediction_files(tmp_path):
    result = squad_predictions.SquadPredictions(
        predictions={"q1": "Caf\u00e9", "q0": ""},
        nbest={"q1": [{"text": "Caf\u00e9", "probability": 0.75, "start_logit": 1.5,
                       "end_logit": -0.25}],
               "q0": [{"text": "", "probability": 1.0, "start_logit": 0.0,
                       "end_logit": 0.0}]},
        null_odds={"q1": -2.5, "q0": 1000000.0})
    paths = squad_predictions.write_prediction_files(str(tmp_path), result)
    assert paths == {name: str(tmp_path / name) for name in (
        "predictions.json", "nbest_predictions.json", "null_odds.json")}
    assert (tmp_path / "predictions.json").read_text() == (
        '{\n    "q1": "Caf\\u00e9",\n    "q0": ""\n}\n')
    assert (tmp_path / "null_odds.json").read_text() == (
        '{\n    "q1": -2.5,\n    "q0": 1000000.0\n}\n')
    assert (tmp_path / "nbest_predictions.json").read_text() == """\
{
    "q1": [
        {
            "text": "Caf\\u00e9",
            "probability": 0.75,
            "start_logit": 1.5,
            "end_logit": -0.25
        }
    ],
    "q0": [
        {
            "text": "",
            "probability": 1.0,
            "start_logit": 0.0,
            "end_logit": 0.0
        }
    ]
}
"""
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "nbest_predictions.json", "null_odds.json", "predictions.json"]
    (tmp_path / "v1").mkdir()
    v1 = dataclasses.replace(result, null_odds=None)
    assert list(squad_predictions.write_prediction_files(str(tmp_path / "v1"), v1)) == [
        "predictions.json", "nbest_predictions.json"]


# --- Against tf-models' postprocess_output on random windows and logits. ---

WORDS = ["Steve", "Smith's", "team", "won", "in", "(1895).", "golden", "gold", "Gold",
         "running", "cats,", "the", "The", "Caf\u00e9", "na\u00efve", "xyzzy", "won't",
         "a", "mat.",
         # Inner whitespace of the tokenizer's, an invisible (control) character alone
         # and in a word, CJK ideographs.
         "a\u00a0mat", "\u200b", "cat\u200b", "\u65e5\u672c"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "steve", "smith", "'", "s", "team", "won",
         "in", "(", "1895", ")", ".", "gold", "##en", "run", "##ning", "cat", "##s", ",",
         "the", "cafe", "naive", "t", "a", "mat"]
RawResult = collections.namedtuple("RawResult", ["unique_id", "start_logits", "end_logits"])


@pytest.fixture(scope="module")
def random_windows(tmp_path_factory):
    """30 questions on random passages, windowed by tf-models' converter (max_seq_length
    24, doc_stride 5: most passages get several windows), as tf-models' objects and as
    ours, for an uncased and a cased tokenizer."""
    squad_lib = pytest.importorskip("official.nlp.data.squad_lib")
    from official.nlp.tools import tokenization as tf_models_tokenization
    vocab_file = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    vocab_file.write_text("".join(token + "\n" for token in VOCAB))
    rng = np.random.default_rng(7)
    passages = [list(rng.choice(WORDS, size=rng.integers(1, 40))) for _ in range(30)]
    questions = [" ".join(rng.choice(WORDS, size=rng.integers(1, 8))) for _ in range(30)]
    squad_file = squad_json.SquadFile(
        "random.json", [squad_json.Context.from_text(" ".join(words)) for words in passages],
        [squad_json.SquadExample(f"q{index}", question, index, (), False, None, None)
         for index, question in enumerate(questions)], skipped=0)
    result = {}
    for do_lower_case in (True, False):
        tokenizer = tf_models_tokenization.FullTokenizer(str(vocab_file), do_lower_case)
        examples = [squad_lib.SquadExample(qas_id=f"q{index}", question_text=question,
                                           doc_tokens=words)
                    for index, (question, words) in enumerate(zip(questions, passages))]
        windows = []
        squad_lib.convert_examples_to_features(
            examples, tokenizer, max_seq_length=24, doc_stride=5, max_query_length=5,
            is_training=False, output_fn=lambda feature, is_padding: windows.append(feature),
            batch_size=1)
        rows = [{"example": feature.example_index, "tokens": feature.tokens,
                 "token_to_word": [feature.token_to_orig_map.get(position, -1)
                                   for position in range(len(feature.tokens))],
                 "max_context": [feature.token_is_max_context.get(position, False)
                                 for position in range(len(feature.tokens))]}
                for feature in windows]
        features, _ = make_features(rows, seq_length=24, vocab=VOCAB)
        assert (features.input_ids == np.array([feature.input_ids for feature in windows])).all()
        result[do_lower_case] = (squad_lib, examples, windows, features)
    return squad_file, result


@pytest.mark.parametrize("do_lower_case", [True, False])
@pytest.mark.parametrize("version_2_with_negative", [False, True])
@pytest.mark.parametrize("n_best_size, max_answer_length", [(20, 30), (4, 3), (1, 5)])
@pytest.mark.parametrize("dynamic_padding", [False, True])
def test_as_tf_models(random_windows, do_lower_case, version_2_with_negative, n_best_size,
                      max_answer_length, dynamic_padding):
    squad_file, by_case = random_windows
    squad_lib, examples, windows, features = by_case[do_lower_case]
    rng = np.random.default_rng(n_best_size + 10 * max_answer_length)
    shape = features.input_ids.shape
    # Logits on a coarse grid, so that ties (positions, pairs, null) are common.
    start = np.round(rng.normal(size=shape) * 2, 1).astype(np.float32)
    end = np.round(rng.normal(size=shape) * 2, 1).astype(np.float32)
    start[:, 0] += 2.5  # A null score that wins some questions and loses others.
    end[:, 0] += 2.5
    if dynamic_padding:  # The batch's longest window: padding positions do not exist.
        length = int(features.input_mask.sum(axis=1).max())
        start, end = start[:, :length], end[:, :length]
    options = dict(n_best_size=n_best_size, max_answer_length=max_answer_length,
                   do_lower_case=do_lower_case,
                   version_2_with_negative=version_2_with_negative,
                   null_score_diff_threshold=0.3)
    expected_predictions, expected_nbest, expected_odds = squad_lib.postprocess_output(
        examples, windows,
        [RawResult(feature.unique_id, [float(x) for x in start_row],
                   [float(x) for x in end_row])
         for feature, start_row, end_row in zip(windows, start, end)], **options)
    result = squad_predictions.compute_predictions(squad_file, features, start, end,
                                                   id_to_token=VOCAB, **options)

    assert json.dumps(result.predictions) == json.dumps(expected_predictions)
    assert json.dumps(result.nbest) == json.dumps(expected_nbest)
    assert all(type(value) is float for nbest in result.nbest.values()
               for entry in nbest for value in list(entry.values())[1:])
    if not version_2_with_negative:
        assert result.null_odds is None
        return
    # tf-models writes the null score where Google's script crashes (no non-empty
    # answer in the n-best); we write NO_SPAN_NULL_ODDS.
    no_span = {qas_id for qas_id, nbest in expected_nbest.items()
               if not any(entry["text"] for entry in nbest)}
    assert list(result.null_odds) == list(expected_odds)
    for qas_id, value in result.null_odds.items():
        assert type(value) is float
        if qas_id in no_span:
            assert value == squad_predictions.NO_SPAN_NULL_ODDS
            assert result.predictions[qas_id] == ""
        else:
            assert value == expected_odds[qas_id]
    if n_best_size == 1:
        assert no_span  # The case is exercised.
