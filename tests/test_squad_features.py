"""SQuAD questions to windows: hand-worked cases on a tiny vocabulary, and every array
equal to tf-models' copy of Google's `run_squad.py` code on generated files."""

import json
import random

import numpy as np
import pytest

from bert_tf.errors import InvalidArgumentError
from bert_tf.tasks.squad import features as squad_features
from bert_tf.tasks.squad import squad_json
from bert_tf.text import packing
from bert_tf.text.tokenization import BasicTokenizer, FullTokenizer
from conftest import write_vocab

# ids: [PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3, [MASK] 4, what 5, is 6, the 7, gold 8, ##en 9,
# sun 10, ? 11, . 12, ( 13, ) 14, - 15, 1895 16, 1943 17, w0 18, w1 19, ... w29 47.
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "what", "is", "the", "gold", "##en",
         "sun", "?", ".", "(", ")", "-", "1895", "1943"] + [f"w{i}" for i in range(30)]
W0 = VOCAB.index("w0")
F, T = False, True
ALL_ARRAYS = ("input_ids", "input_mask", "segment_ids", "start_positions", "end_positions",
              "example_index", "doc_span_index", "token_to_word", "token_is_max_context")


@pytest.fixture
def vocab_file(tmp_path) -> str:
    return write_vocab(tmp_path, VOCAB)


@pytest.fixture
def tokenizer(vocab_file) -> FullTokenizer:
    return FullTokenizer(vocab_file, do_lower_case=True)


def squad_file(tmp_path, context: str, questions: list[tuple], is_training: bool = True,
               version_2_with_negative: bool = False) -> squad_json.SquadFile:
    """Reads a one-paragraph file; each question is (id, text, answer text or None for
    impossible); the answer's start is where its text first occurs in the context."""
    qas = []
    for qas_id, text, answer in questions:
        qas.append({"id": qas_id, "question": text, "is_impossible": answer is None,
                    "answers": [] if answer is None else
                    [{"text": answer, "answer_start": context.index(answer)}]})
    path = tmp_path / "squad.json"
    path.write_text(json.dumps({"data": [{"paragraphs": [{"context": context, "qas": qas}]}]}))
    return squad_json.read_squad_file(str(path), is_training, version_2_with_negative)


def test_a_sub_word_answer_is_narrowed_to_its_piece(tmp_path, tokenizer):
    # "gold" is a character span of the word "golden": Google's word-level target
    # covers "gold ##en"; _improve_answer_span narrows it to the piece "gold".
    read = squad_file(tmp_path, "The golden sun.", [("q", "What is the sun?", "gold")])
    features = squad_features.convert_examples_to_features(read, tokenizer, 16, 4, 8, True)
    assert len(features) == 1
    assert features.input_ids.tolist() == [[2, 5, 6, 7, 10, 11, 3, 7, 8, 9, 10, 12, 3, 0, 0, 0]]
    assert features.input_mask.tolist() == [[1] * 13 + [0] * 3]
    assert features.segment_ids.tolist() == [[0] * 7 + [1] * 6 + [0] * 3]
    assert features.start_positions.tolist() == [8] and features.end_positions.tolist() == [8]
    assert features.token_to_word.tolist() == [[-1] * 7 + [0, 1, 1, 2, 2] + [-1] * 4]
    assert features.token_is_max_context.tolist() == [[F] * 7 + [T] * 5 + [F] * 4]
    assert features.example_index.tolist() == [0] and features.doc_span_index.tolist() == [0]
    for name, array in features.arrays().items():
        assert array.dtype == np.int32, name
    assert set(features.arrays()) == {"input_ids", "input_mask", "segment_ids",
                                      "start_positions", "end_positions"}


def test_an_answer_inside_punctuation_is_its_own_piece(tmp_path, tokenizer):
    # Google's own example: "1895" in the word "(1895-1943).", pieces ( 1895 - 1943 ) .
    read = squad_file(tmp_path, "the sun (1895-1943).", [("q", "what?", "1895")])
    assert read.examples[0].start_position == read.examples[0].end_position == 2
    features = squad_features.convert_examples_to_features(read, tokenizer, 16, 4, 8, True)
    assert features.input_ids.tolist() == [[2, 5, 11, 3, 7, 10, 13, 16, 15, 17, 14, 12, 3, 0,
                                            0, 0]]
    # [CLS] what ? [SEP] the sun ( 1895: position 7.
    assert (features.start_positions.tolist(), features.end_positions.tolist()) == ([7], [7])
    assert features.token_to_word.tolist() == [[-1] * 4 + [0, 1, 2, 2, 2, 2, 2, 2] + [-1] * 4]


NINE_WORDS = " ".join(f"w{i}" for i in range(9))


def test_windows_positions_and_max_context_by_hand(tmp_path, tokenizer):
    # Nine one-piece words; the question is cut to max_query_length = 1 piece ("what"),
    # so a window of 8 holds [CLS] what [SEP] + 4 passage pieces + [SEP]. With
    # doc_stride 3 the windows are [0, 4), [3, 7), [6, 9): Google's last one is shorter.
    read = squad_file(tmp_path, NINE_WORDS, [
        ("edge", "what is the sun?", "w3"),     # last piece of window 0, first of 1
        ("pair", "what is the sun?", "w5 w6"),  # whole only in window 1
        ("end", "what is the sun?", "w8"),      # only in window 2
    ])
    features = squad_features.convert_examples_to_features(read, tokenizer, 8, 3, 1, True)
    w = [W0 + i for i in range(9)]
    windows = [[2, 5, 3, w[0], w[1], w[2], w[3], 3],
               [2, 5, 3, w[3], w[4], w[5], w[6], 3],
               [2, 5, 3, w[6], w[7], w[8], 3, 0]]
    assert features.input_ids.tolist() == windows * 3
    assert features.input_mask.tolist() == [[1] * 8, [1] * 8, [1] * 7 + [0]] * 3
    assert features.segment_ids.tolist() == [
        [0, 0, 0, 1, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1, 1, 0]] * 3
    assert features.example_index.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert features.doc_span_index.tolist() == [0, 1, 2] * 3
    assert features.token_to_word.tolist() == [
        [-1, -1, -1, 0, 1, 2, 3, -1], [-1, -1, -1, 3, 4, 5, 6, -1],
        [-1, -1, -1, 6, 7, 8, -1, -1]] * 3
    # Piece 3: min(3, 0) + 0.04 in window 0 ties min(0, 3) + 0.04 in window 1: the
    # first wins. Piece 6: min(3, 0) + 0.04 in window 1 beats min(0, 2) + 0.03 in the
    # shorter window 2, by the 0.01-per-piece term alone.
    assert features.token_is_max_context.tolist() == [
        [F, F, F, T, T, T, T, F], [F, F, F, F, T, T, T, F], [F, F, F, F, T, T, F, F]] * 3
    # "w3" is the last passage position (6) of window 0 and the first (3) of window 1;
    # windows not holding the whole answer point at [CLS].
    assert features.start_positions.tolist() == [6, 3, 0, 0, 5, 0, 0, 0, 5]
    assert features.end_positions.tolist() == [6, 3, 0, 0, 6, 0, 0, 0, 5]
    # The same windows for prediction, without targets.
    read = squad_file(tmp_path, NINE_WORDS, [("edge", "what is the sun?", "w3")],
                      is_training=False)
    predict = squad_features.convert_examples_to_features(read, tokenizer, 8, 3, 1, False)
    assert predict.input_ids.tolist() == windows
    assert predict.start_positions.tolist() == predict.end_positions.tolist() == [0, 0, 0]


def test_max_context_decided_by_the_window_length_term(tmp_path, tokenizer):
    # 125 one-piece words; 124 - 1 - 3 = 120 pieces a window, every 110: windows
    # [0, 120) and [110, 125). Piece 115 has min(115, 4) + 1.20 = 5.20 in the first and
    # min(5, 9) + 0.15 = 5.15 in the second: the long window wins although the short
    # one gives it more context on its shorter side. Piece 116: 4.20 against 6.15.
    context = " ".join(f"w{i % 30}" for i in range(125))
    read = squad_file(tmp_path, context, [("q", "what?", "w0")], is_training=False)
    features = squad_features.convert_examples_to_features(read, tokenizer, 124, 110, 1,
                                                           False)
    assert features.doc_span_index.tolist() == [0, 1]
    assert features.token_to_word[0, 3:123].tolist() == list(range(120))
    assert features.token_to_word[1, 3:18].tolist() == list(range(110, 125))
    assert features.token_is_max_context[0].tolist() == [F] * 3 + [T] * 116 + [F] * 5
    assert features.token_is_max_context[1].tolist() == [F] * 3 + [F] * 6 + [T] * 9 + [
        F] * 106


def test_a_stride_longer_than_the_window_and_a_long_question(tmp_path, tokenizer):
    # max_query_length 4 keeps "what is the sun" of "what is the sun?"; 12 - 4 - 3 = 5
    # passage pieces a window; a doc_stride of 7 advances by the window's length (5).
    read = squad_file(tmp_path, NINE_WORDS, [("q", "what is the sun?", "w4 w5")])
    features = squad_features.convert_examples_to_features(read, tokenizer, 12, 7, 4, True)
    w = [W0 + i for i in range(9)]
    assert features.input_ids.tolist() == [
        [2, 5, 6, 7, 10, 3, w[0], w[1], w[2], w[3], w[4], 3],
        [2, 5, 6, 7, 10, 3, w[5], w[6], w[7], w[8], 3, 0]]
    assert features.token_is_max_context[:, 6:].sum() == 9  # No overlap: all pieces win.
    assert features.start_positions.tolist() == features.end_positions.tolist() == [0, 0]


def test_google_whitespace_and_words_of_several_pieces(tmp_path, tokenizer):
    # Tab, U+202F, LF and CR separate words; U+00A0 does not (one word "w1\u00a0w2",
    # two pieces). Upper case is lowered.
    context = "the\tGolden\u202fsun\n.\r\nw1\u00a0w2"
    read = squad_file(tmp_path, context, [("q", "what?", "w2")])
    assert read.contexts[0].words == ("the", "Golden", "sun", ".", "w1\u00a0w2")
    assert read.examples[0].start_position == read.examples[0].end_position == 4
    features = squad_features.convert_examples_to_features(read, tokenizer, 16, 4, 8, True)
    assert features.input_ids.tolist() == [[2, 5, 11, 3, 7, 8, 9, 10, 12, 19, 20, 3, 0, 0, 0,
                                            0]]
    assert features.token_to_word.tolist() == [[-1] * 4 + [0, 1, 1, 2, 3, 4, 4] + [-1] * 5]
    # The word "w1\u00a0w2" is pieces 5 and 6; the answer is the piece "w2" (position 10).
    assert (features.start_positions.tolist(), features.end_positions.tolist()) == ([10], [10])


def test_impossible_questions_point_at_cls(tmp_path, tokenizer):
    read = squad_file(tmp_path, NINE_WORDS, [("none", "what?", None), ("w7", "what?", "w7")],
                      version_2_with_negative=True)
    assert [(e.start_position, e.end_position) for e in read.examples] == [(-1, -1), (7, 7)]
    features = squad_features.convert_examples_to_features(read, tokenizer, 10, 3, 2, True)
    # 10 - 2 - 3 = 5 pieces a window, every 3: [0, 5), [3, 8), [6, 9).
    assert features.example_index.tolist() == [0, 0, 0, 1, 1, 1]
    assert features.start_positions.tolist() == [0, 0, 0, 0, 8, 5]
    assert features.end_positions.tolist() == [0, 0, 0, 0, 8, 5]


def test_skipped_questions_have_no_windows(tmp_path, tokenizer):
    context = "w0 w1\u00a0w2 w3"
    path = tmp_path / "skip.json"
    path.write_text(json.dumps({"data": [{"paragraphs": [{"context": context, "qas": [
        {"id": "lost", "question": "what?", "answers": [{"text": "w1\u00a0w2",
                                                         "answer_start": 3}]},
        {"id": "kept", "question": "what?", "answers": [{"text": "w3", "answer_start": 9}]},
    ]}]}]}))
    read = squad_json.read_squad_file(str(path), True, False)
    assert read.skipped == 1 and [e.qas_id for e in read.examples] == ["kept"]
    features = squad_features.convert_examples_to_features(read, tokenizer, 16, 4, 8, True)
    assert features.example_index.tolist() == [0]
    assert features.start_positions.tolist() == [7]  # [CLS] what ? [SEP] w0 w1 w2 w3


def test_empty_passages_and_files_give_no_windows(tmp_path, tokenizer):
    # A context whose only word tokenizes to nothing (a control character) has no
    # pieces and, as in Google's code, no window.
    read = squad_file(tmp_path, "\x07", [("q", "what?", "\x07")])
    features = squad_features.convert_examples_to_features(read, tokenizer, 16, 4, 8, True)
    assert len(features) == 0
    for name in ALL_ARRAYS:
        assert getattr(features, name).shape[0] == 0, name
    assert features.input_ids.shape == (0, 16)


def test_a_file_read_for_prediction_has_no_targets(tmp_path, tokenizer):
    read = squad_file(tmp_path, NINE_WORDS, [("q", "what?", "w1")], is_training=False)
    with pytest.raises(ValueError, match="read the file with read_squad_file"):
        squad_features.convert_examples_to_features(read, tokenizer, 16, 4, 8, True)


def test_length_checks(tmp_path, tokenizer):
    packing.check_query_length(68, 64)
    with pytest.raises(InvalidArgumentError, match=r"max_seq_length=67 must be more than "
                       r"max_query_length \+ 3 = 67"):
        packing.check_query_length(67, 64)
    with pytest.raises(InvalidArgumentError, match="max_query_length=0 must be at least 1"):
        packing.check_query_length(384, 0)
    read = squad_file(tmp_path, NINE_WORDS, [("q", "what?", "w1")])
    with pytest.raises(InvalidArgumentError, match="doc_stride=0 must be at least 1"):
        squad_features.convert_examples_to_features(read, tokenizer, 16, 0, 8, True)
    with pytest.raises(InvalidArgumentError, match="max_seq_length=11"):
        squad_features.convert_examples_to_features(read, tokenizer, 11, 4, 8, True)


@pytest.mark.parametrize("do_lower_case", [True, False])
def test_ascii_route_equals_the_basic_tokenizer(do_lower_case):
    basic = BasicTokenizer(do_lower_case)
    texts = [chr(code) for code in range(128)]
    texts += [f"a{chr(code)}B{chr(code) * 2}c 9" for code in range(128)]
    rng = random.Random(0)
    texts += ["".join(chr(rng.randrange(128)) for _ in range(rng.randrange(1, 20)))
              for _ in range(3000)]
    for text in texts:
        assert squad_features._ascii_basic_tokens(text, do_lower_case) == basic.tokenize(text), (
            repr(text))


# --------------------------------------------------------- against tf-models (Google)

# Words of the generated contexts: one piece, several pieces, punctuation inside,
# upper case, unknown to the vocabulary, holding U+00A0 or accents, a control character
# that tokenizes to nothing, and CJK.
WORDS = [f"w{i}" for i in range(30)] + [
    "golden", "Gold", "sun.", "(1895-1943).", "w1-w2", "zzz", "w3\u00a0w4", "w5,", "Thé",
    "\x07", "日本", "?", "what", "is", "the", "goldenen", "W7"]


def generated_file(path, rng: random.Random, num_questions: int, impossible: bool) -> None:
    """A SQuAD file of random paragraphs and questions, one answer each (tf-models
    trains only on those): answers are word spans, or parts of a word."""
    paragraphs, count = [], 0
    while count < num_questions:
        separators = [" ", " ", " ", "\t", "\n", "\u202f", "  ", " \r\n"]
        length = rng.randrange(1, 45) if rng.random() < 0.8 else rng.randrange(120, 260)
        words = [rng.choice(WORDS) for _ in range(length)]
        context, starts = "", []
        for word in words:
            if context:
                context += rng.choice(separators)
            starts.append(len(context))
            context += word
        qas = []
        for _ in range(rng.randrange(1, 5)):
            question = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(1, 9)))
            qa = {"id": f"q{count}", "question": question, "answers": [],
                  "is_impossible": impossible and rng.random() < 0.3}
            if not qa["is_impossible"]:
                first = rng.randrange(len(words))
                last = min(len(words) - 1, first + rng.randrange(3))
                start, end = starts[first], starts[last] + len(words[last])
                if rng.random() < 0.3 and end - start > 1:  # Part of the span.
                    start += rng.randrange(end - start - 1)
                    end = rng.randrange(start + 1, end + 1)
                if context[start:end].strip():
                    qa["answers"] = [{"text": context[start:end], "answer_start": start}]
                else:
                    qa["is_impossible"] = impossible
                    if not impossible:
                        continue
            qas.append(qa)
            count += 1
        paragraphs.append({"context": context, "qas": qas})
    path.write_text(json.dumps({"data": [{"paragraphs": paragraphs}]}), encoding="utf-8")


def google_arrays(squad_lib, path: str, tokenizer, is_training: bool, version_2: bool,
                  max_seq_length: int, doc_stride: int, max_query_length: int) -> dict:
    """tf-models' read_squad_examples + convert_examples_to_features, as our arrays."""
    examples = squad_lib.read_squad_examples(path, is_training, version_2)
    collected = []
    squad_lib.convert_examples_to_features(
        examples, tokenizer, max_seq_length, doc_stride, max_query_length, is_training,
        output_fn=lambda feature, is_padding=False: collected.append(feature), batch_size=1)
    token_to_word = np.full((len(collected), max_seq_length), -1)
    is_max_context = np.zeros((len(collected), max_seq_length), bool)
    for row, feature in enumerate(collected):
        for position, word in feature.token_to_orig_map.items():
            token_to_word[row, position] = word
        for position, value in feature.token_is_max_context.items():
            is_max_context[row, position] = value
    arrays = {name: np.array([getattr(feature, name) for feature in collected])
              for name in ("input_ids", "input_mask", "segment_ids", "example_index",
                           "doc_span_index")}
    arrays.update(start_positions=np.array([f.start_position for f in collected]),
                  end_positions=np.array([f.end_position for f in collected]),
                  token_to_word=token_to_word, token_is_max_context=is_max_context)
    return {"examples": examples, **arrays}


@pytest.mark.parametrize("version_2", [False, True])
@pytest.mark.parametrize("do_lower_case", [True, False])
def test_equal_to_tf_models_squad_lib(tmp_path, vocab_file, version_2, do_lower_case):
    squad_lib = pytest.importorskip("official.nlp.data.squad_lib")
    google_tokenization = pytest.importorskip("official.nlp.tools.tokenization")
    rng = random.Random(version_2 * 2 + do_lower_case)
    path = tmp_path / "generated.json"
    generated_file(path, rng, 30, impossible=version_2)
    google_tokenizer = google_tokenization.FullTokenizer(vocab_file, do_lower_case)
    tokenizers = {"ours": FullTokenizer(vocab_file, do_lower_case),
                  "theirs": google_tokenizer}  # Any tokenizer works, called as it is.
    windows = 0
    for is_training in (True, False):
        read = squad_json.read_squad_file(str(path), is_training, version_2)
        for max_seq_length, doc_stride, max_query_length in ((32, 8, 6), (24, 3, 4),
                                                             (40, 30, 10), (150, 110, 8)):
            expected = google_arrays(squad_lib, str(path), google_tokenizer, is_training,
                                     version_2, max_seq_length, doc_stride,
                                     max_query_length)
            assert [e.qas_id for e in expected["examples"]] == [
                e.qas_id for e in read.examples]
            if is_training:
                assert [(e.start_position, e.end_position, e.is_impossible)
                        for e in expected["examples"]] == [
                    (e.start_position, e.end_position, e.is_impossible) for e in read.examples]
            for name, tokenizer in tokenizers.items():
                features = squad_features.convert_examples_to_features(
                    read, tokenizer, max_seq_length, doc_stride, max_query_length,
                    is_training)
                for array in ALL_ARRAYS:
                    np.testing.assert_array_equal(
                        getattr(features, array), expected[array],
                        err_msg=f"{array}, {name} tokenizer, training={is_training}, "
                                f"{max_seq_length}/{doc_stride}/{max_query_length}")
            windows += len(expected["input_ids"])
    # The generated files exercise what the test is for.
    assert windows > 200
    train = squad_json.read_squad_file(str(path), True, version_2)
    assert any(e.is_impossible for e in train.examples) == version_2
