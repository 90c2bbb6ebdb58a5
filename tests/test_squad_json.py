"""Reading SQuAD JSON: words and offsets as Google's reader makes them, training targets,
skipped answers, and one clear error for each kind of bad file."""

import json
import re

import numpy as np
import pytest

from bert_tf.errors import UserInputError
from bert_tf.tasks.squad import squad_json

TESLA = "Tesla was born in 1856 in Smiljan."


def write_squad(tmp_path, paragraphs_or_data, name="squad.json") -> str:
    """Writes a SQuAD file; a list of paragraphs becomes one article."""
    data = paragraphs_or_data
    if isinstance(data, list):
        data = {"version": "1.1", "data": [{"title": "t", "paragraphs": data}]}
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def question(qas_id, text="When?", answers=(), **more) -> dict:
    return {"id": qas_id, "question": text,
            "answers": [{"text": t, "answer_start": s} for t, s in answers], **more}


def test_words_split_on_google_whitespace_only():
    # Tab, CR, LF, space and U+202F separate words; U+00A0 does not.
    context = squad_json.Context.from_text(" The  golden\tgate\u202fbridge\r\n is.\u00a0x")
    assert context.words == ("The", "golden", "gate", "bridge", "is.\u00a0x")
    assert context.word_starts == (1, 6, 13, 18, 27)
    # Google's char_to_word_offset: whitespace belongs to the word before it, -1 before
    # the first word.
    assert context.char_to_word_offset.tolist() == (
        [-1] + [0] * 5 + [1] * 7 + [2] * 5 + [3] * 9 + [4] * 5)
    assert context.char_to_word_offset.dtype == np.int32
    assert [context.word_at(i) for i in (0, 1, 5, 12, 26, 31)] == [-1, 0, 0, 1, 3, 4]


def test_training_targets_from_the_first_answer(tmp_path):
    path = write_squad(tmp_path, [{"context": TESLA, "qas": [
        question("year", answers=[("1856", 18), ("in 1856", 15)]),
        question("span", answers=[("born in 1856", 10)]),
        question("punct", answers=[("Smiljan", 26)]),  # Inside the word "Smiljan.".
        question("first", answers=[("Tesla", 0)]),
    ]}])
    squad_file = squad_json.read_squad_file(path, is_training=True,
                                            version_2_with_negative=False)
    assert squad_file.skipped == 0 and squad_file.has_answers
    assert [(e.qas_id, e.start_position, e.end_position) for e in squad_file.examples] == [
        ("year", 4, 4), ("span", 2, 4), ("punct", 6, 6), ("first", 0, 0)]
    year = squad_file.examples[0]
    assert year.answers == (squad_json.Answer("1856", 18), squad_json.Answer("in 1856", 15))
    assert year.context_index == 0 and year.question_text == "When?"
    assert not year.is_impossible
    # One context object for the paragraph, its words computed once.
    assert len(squad_file.contexts) == 1
    assert squad_file.contexts[0].words == ("Tesla", "was", "born", "in", "1856", "in",
                                            "Smiljan.")
    # Not training: no targets, every answer kept.
    predict = squad_json.read_squad_file(path, is_training=False,
                                         version_2_with_negative=False)
    assert [(e.start_position, e.end_position) for e in predict.examples] == [(None, None)] * 4
    assert predict.examples[0].answers == year.answers


def test_unrecoverable_answers_are_skipped_in_training_only(tmp_path):
    # The answer holds U+00A0, which Python's split() treats as whitespace but Google's
    # reader does not: "10 km" is not found in the word "10\u00a0km".
    context = "It lies 10\u00a0km away, in Smiljan."
    path = write_squad(tmp_path, [{"context": context, "qas": [
        question("kept", answers=[("away", 14)]),
        question("lost", answers=[("10\u00a0km", 8)]),
        question("also kept", answers=[("Smiljan", 23)]),
    ]}])
    squad_file = squad_json.read_squad_file(path, True, False)
    assert squad_file.skipped == 1
    assert [e.qas_id for e in squad_file.examples] == ["kept", "also kept"]
    assert [(e.start_position, e.end_position) for e in squad_file.examples] == [
        (3, 3), (5, 5)]
    predict = squad_json.read_squad_file(path, False, False)
    assert predict.skipped == 0 and len(predict.examples) == 3


def test_impossible_questions(tmp_path):
    path = write_squad(tmp_path, [{"context": TESLA, "qas": [
        question("none", is_impossible=True),
        question("some", answers=[("1856", 18)], is_impossible=False),
        question("unmarked", answers=[("Tesla", 0)]),
    ]}])
    train = squad_json.read_squad_file(path, True, version_2_with_negative=True)
    assert [(e.is_impossible, e.start_position, e.end_position, e.answers)
            for e in train.examples] == [
        (True, -1, -1, ()), (False, 4, 4, (squad_json.Answer("1856", 18),)),
        (False, 0, 0, (squad_json.Answer("Tesla", 0),))]
    assert train.has_answers
    # Without version_2_with_negative the flag is not read: a question without answers
    # cannot be trained on, and cannot be scored.
    with pytest.raises(UserInputError, match=re.escape(
            "data[0].paragraphs[0].qas[0] (question id 'none') has no answers") +
            ".*pass --version_2_with_negative"):
        squad_json.read_squad_file(path, True, version_2_with_negative=False)
    predict = squad_json.read_squad_file(path, False, version_2_with_negative=False)
    assert not predict.examples[0].is_impossible and not predict.has_answers
    assert squad_json.read_squad_file(path, False, version_2_with_negative=True).has_answers


def test_questions_without_answers_can_be_predicted(tmp_path):
    path = write_squad(tmp_path, [{"context": TESLA, "qas": [
        {"id": "a", "question": "Who?"}, {"id": "b", "question": "Where?", "answers": []}]}])
    squad_file = squad_json.read_squad_file(path, False, False)
    assert [e.answers for e in squad_file.examples] == [(), ()]
    assert not squad_file.has_answers


def test_contexts_of_several_articles_and_a_byte_order_mark(tmp_path):
    data = {"data": [
        {"paragraphs": [{"context": "a b", "qas": [question("1", answers=[("b", 2)])]},
                        {"context": "c", "qas": []}]},
        {"paragraphs": [{"context": "d e", "qas": [question("2", answers=[("d", 0)]),
                                                   question(3, answers=[("e", 2)])]}]}]}
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(data).encode())
    squad_file = squad_json.read_squad_file(str(path), True, False)
    assert [c.text for c in squad_file.contexts] == ["a b", "c", "d e"]
    assert [(e.qas_id, e.context_index) for e in squad_file.examples] == [
        ("1", 0), ("2", 2), ("3", 2)]


GOOD = {"context": TESLA, "qas": [question("q0", answers=[("1856", 18)])]}


@pytest.mark.parametrize("paragraphs_or_data, expected", [
    pytest.param([GOOD, {"qas": []}],
                 r"data\[0\]\.paragraphs\[1\] has no 'context'; SQuAD's layout is", id="context"),
    pytest.param([{"context": TESLA}], r"data\[0\]\.paragraphs\[0\] has no 'qas'", id="qas"),
    pytest.param({"version": "1.1"}, "the top-level object has no 'data'", id="data"),
    pytest.param({"data": [{"title": "x"}]}, r"data\[0\] has no 'paragraphs'",
                 id="paragraphs"),
    pytest.param({"data": {"paragraphs": []}}, "data is a JSON object, not a list",
                 id="data-object"),
    pytest.param([{"context": 5, "qas": []}],
                 r"data\[0\]\.paragraphs\[0\]\.context is a JSON integer, not a string",
                 id="context-type"),
    pytest.param([{"context": TESLA, "qas": [{"question": "Who?", "answers": []}]}],
                 r"data\[0\]\.paragraphs\[0\]\.qas\[0\] has no 'id'", id="id"),
    pytest.param([{"context": TESLA, "qas": [{"id": "x7", "answers": []}]}],
                 r"data\[0\]\.paragraphs\[0\]\.qas\[0\] \(question id 'x7'\) has no 'question'",
                 id="question"),
    pytest.param([GOOD, {"context": "b", "qas": [question("z", is_impossible=True),
                                                 question("q0")]}],
                 r"the question id 'q0' appears twice, at data\[0\]\.paragraphs\[0\]\.qas\[0\] "
                 r"and at data\[0\]\.paragraphs\[1\]\.qas\[1\]; give each question its own id",
                 id="duplicate-id"),
    pytest.param([{"context": TESLA, "qas": [question("q1", answers=[("1856", 18),
                                                                     ("1865", 18)])]}],
                 r"data\[0\]\.paragraphs\[0\]\.qas\[0\]\.answers\[1\] \(question id 'q1'\) has "
                 r"the answer '1865' at answer_start 18, but the context there reads '1856'",
                 id="answer-text"),
    pytest.param([{"context": TESLA, "qas": [question("q2", answers=[("1856", 34)])]}],
                 r"qas\[0\]\.answers\[0\] \(question id 'q2'\) has answer_start 34, but an "
                 r"answer of 4 characters must start between 0 and 30 in its context of 34",
                 id="answer-start-past-end"),
    pytest.param([{"context": TESLA, "qas": [question("q3", answers=[("T", -1)])]}],
                 r"\(question id 'q3'\) has answer_start -1", id="answer-start-negative"),
    pytest.param([{"context": TESLA, "qas": [question("q4", answers=[("1856", "18")])]}],
                 r"answers\[0\]\.answer_start \(question id 'q4'\) is a JSON string, not an "
                 "integer", id="answer-start-string"),
    pytest.param([{"context": TESLA, "qas": [question("q5", answers=[(" ", 5)])]}],
                 r"\(question id 'q5'\) has an empty answer text", id="answer-empty"),
    pytest.param([{"context": TESLA, "qas": [{"id": "q6", "question": "?",
                                              "answers": [{"text": "Tesla"}]}]}],
                 r"answers\[0\] \(question id 'q6'\) has no 'answer_start'",
                 id="answer-start-missing"),
    pytest.param([{"context": TESLA, "qas": [question("q7", is_impossible="no")]}],
                 r"qas\[0\]\.is_impossible \(question id 'q7'\) is a JSON string, not true or "
                 "false", id="is-impossible-type"),
    pytest.param([{"context": TESLA, "qas": [question("q8", answers=[])]}],
                 r"qas\[0\] \(question id 'q8'\) has no answers, which training needs; give "
                 r'it one, or if it is unanswerable mark it "is_impossible": true\.',
                 id="no-answers"),
])
def test_bad_files_get_one_sentence_naming_file_and_place(tmp_path, paragraphs_or_data,
                                                          expected):
    path = write_squad(tmp_path, paragraphs_or_data)
    with pytest.raises(UserInputError) as raised:
        squad_json.read_squad_file(path, is_training=True, version_2_with_negative=True)
    message = str(raised.value)
    assert message.startswith(f"SQuAD file {path!r}: ")
    assert re.search(expected, message), message
    assert "\n" not in message and "Traceback" not in message


def test_answers_are_checked_when_predicting_too(tmp_path):
    path = write_squad(tmp_path, [{"context": TESLA, "qas": [
        question("q", answers=[("1856", 18), ("Smiljan", 0)])]}])
    with pytest.raises(UserInputError, match=r"answers\[1\] \(question id 'q'\) has the answer "
                       "'Smiljan' at answer_start 0, but the context there reads 'Tesla w'"):
        squad_json.read_squad_file(path, is_training=False, version_2_with_negative=False)


@pytest.mark.parametrize("content, expected", [
    pytest.param(b'{"data": [}', r"is not valid JSON: Expecting value at line 1, column 11; "
                 "fix the file there", id="json"),
    pytest.param(b'{"data": [\n  {"paragraphs": [],}\n]}',
                 "is not valid JSON: Expecting property name enclosed in double quotes at "
                 "line 2, column 21", id="json-line-2"),
    pytest.param(b"\xff\xfe{\x00}\x00", r"is not UTF-8 text: byte 0 \(0xff\) starts a UTF-16 "
                 "byte-order mark", id="utf-16"),
    pytest.param(b"", r"is not valid JSON: Expecting value at line 1, column 1", id="empty"),
])
def test_unreadable_files(tmp_path, content, expected):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(UserInputError) as raised:
        squad_json.read_squad_file(str(path), True, False)
    assert str(raised.value).startswith(f"SQuAD file {str(path)!r}")
    assert re.search(expected, str(raised.value)), str(raised.value)


def test_a_list_at_the_top(tmp_path):
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    with pytest.raises(UserInputError, match="list.json': the top level is a JSON list, "
                       "not an object; SQuAD's layout is"):
        squad_json.read_squad_file(str(path), True, False)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(UserInputError, match="SQuAD file .*missing.json' does not exist"):
        squad_json.read_squad_file(str(tmp_path / "missing.json"), True, False)
    with pytest.raises(UserInputError, match="is a directory; give a file"):
        squad_json.read_squad_file(str(tmp_path), True, False)
