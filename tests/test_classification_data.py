"""Classification task readers (GLUE layouts, the user's TSV/CSV), feature conversion
and the tf.data input, on small files written here."""

import pathlib

import numpy as np
import pytest
import tensorflow as tf

from bert_tf.text import tokenization
from bert_tf.tasks.classification import data as cd
from bert_tf.tasks.classification import dataset as classification_dataset
from bert_tf.errors import UserInputError
from tests.conftest import write_vocab


def _write(directory: pathlib.Path, name: str, rows: list, delimiter: str = "\t") -> str:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(delimiter.join(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def _as_tuples(examples: list[cd.InputExample]) -> list[tuple]:
    return [(e.guid, e.text_a, e.text_b, e.label) for e in examples]


# --------------------------------------------------------------- GLUE files, as released

MNLI_TRAIN_HEADER = ["index", "promptID", "pairID", "genre", "sentence1_binary_parse",
                     "sentence2_binary_parse", "sentence1_parse", "sentence2_parse",
                     "sentence1", "sentence2", "label1", "gold_label"]
MNLI_DEV_HEADER = MNLI_TRAIN_HEADER[:10] + ["label1", "label2", "label3", "label4", "label5",
                                            "gold_label"]
MNLI_TEST_HEADER = MNLI_TRAIN_HEADER[:10]
XNLI_HEADER = ["language", "gold_label", "sentence1_binary_parse", "sentence2_binary_parse",
               "sentence1_parse", "sentence2_parse", "sentence1", "sentence2", "promptID",
               "pairID", "genre", "label1", "label2", "label3", "label4", "label5",
               "sentence1_tokenized", "sentence2_tokenized", "match"]
STSB_HEADER = ["index", "genre", "filename", "year", "old_index", "source1", "source2",
               "sentence1", "sentence2", "score"]


def _mnli_row(index, a, b, labels):
    return [str(index), "31193", f"{index}n", "fiction", "( ( x ) )", "( ( y ) )",
            "(ROOT x)", "(ROOT y)", a, b, *labels]


def _xnli_row(language, label, a, b):
    return [language, label, "", "", "", "", a, b, "1", "2", "fiction", label, label, label,
            label, label, a, b, "True"]


GLUE_FILES = {
    "cola": {
        "train.tsv": [["gj04", "1", "", "Our friends won't buy this analysis."],
                      ["gj04", "0", "*", 'They drank the pub "dry".']],
        "dev.tsv": [["gj04", "1", "", "The sailors rode the breeze."]],
        "test.tsv": [["index", "sentence"], ["0", "Bill whistled past the house."]],
    },
    "mnli": {
        "train.tsv": [MNLI_TRAIN_HEADER,
                      _mnli_row(0, "Cream skimming.", "Product and geography.", ["neutral"] * 2),
                      _mnli_row(7, "You know.", "You lose.", ["entailment"] * 2)],
        "dev_matched.tsv": [MNLI_DEV_HEADER,
                            _mnli_row(3, "The new rights.", "Everyone likes.",
                                      ["neutral"] * 5 + ["contradiction"])],
        "test_matched.tsv": [MNLI_TEST_HEADER, _mnli_row(9, "Hills.", "Mountains.", [])],
        "dev_mismatched.tsv": [MNLI_DEV_HEADER,
                               _mnli_row(4, "Your gift.", "Thanks.", ["entailment"] * 6)],
        "test_mismatched.tsv": [MNLI_TEST_HEADER, _mnli_row(5, "Rain.", "Wet.", [])],
    },
    "mrpc": {
        "train.tsv": [["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"],
                      ["1", "702876", "702977", "Amrozi accused his brother.",
                       "Referring to him as the witness."],
                      ["0", "2108705", "2108831", "Yucaipa owned Dominick 's.",
                       "Yucaipa bought Dominick 's."]],
        "dev.tsv": [["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"],
                    ["1", "1355540", "1355592", "He said the foodservice.", "The foodservice."]],
        "test.tsv": [["index", "#1 ID", "#2 ID", "#1 String", "#2 String"],
                     ["0", "1089874", "1089925", "PCCW 's chief.", "Current Chief."]],
    },
    "sst-2": {
        "train.tsv": [["sentence", "label"], ["hide new secretions ", "0"],
                      ["contains no wit", "0"], ["that loves its characters", "1"]],
        "dev.tsv": [["sentence", "label"], ["it 's a charming journey .", "1"]],
        "test.tsv": [["index", "sentence"], ["0", "uneasy mishmash of styles ."]],
    },
    "qnli": {
        "train.tsv": [["index", "question", "sentence", "label"],
                      ["0", "When?", "In 1970.", "entailment"]],
        "dev.tsv": [["index", "question", "sentence", "label"],
                    ["5", "Who?", "Nobody knows.", "not_entailment"]],
        "test.tsv": [["index", "question", "sentence"], ["2", "Where?", "Here."]],
    },
    "qqp": {
        "train.tsv": [["id", "qid1", "qid2", "question1", "question2", "is_duplicate"],
                      ["133273", "213221", "213222", "How is the life?", "Is life good?", "0"],
                      # A row broken in the released file: it is skipped.
                      ["", "Was Muhammad real?", "0"],
                      ["402555", "536040", "536041", "How do I fix it?", "Fix it how?", "1"]],
        "dev.tsv": [["id", "qid1", "qid2", "question1", "question2", "is_duplicate"],
                    ["201359", "303345", "303346", "Why are people?", "Why do people?", "0"]],
        "test.tsv": [["id", "question1", "question2"], ["0", "Why?", "Why not?"]],
    },
    "rte": {
        "train.tsv": [["index", "sentence1", "sentence2", "label"],
                      ["0", "No weapons.", "Weapons found.", "not_entailment"]],
        "dev.tsv": [["index", "sentence1", "sentence2", "label"],
                    ["1", "Dana lives.", "Dana exists.", "entailment"]],
        "test.tsv": [["index", "sentence1", "sentence2"], ["0", "Maude.", "Maude was."]],
    },
    "wnli": {
        "train.tsv": [["index", "sentence1", "sentence2", "label"],
                      ["0", "I stuck a pin.", "The pin had a hole.", "1"]],
        "dev.tsv": [["index", "sentence1", "sentence2", "label"],
                    ["0", "The drain is clogged.", "The hair is clogged.", "0"]],
        "test.tsv": [["index", "sentence1", "sentence2"], ["0", "Maude.", "Maude was."]],
    },
    "sts-b": {
        "train.tsv": [STSB_HEADER,
                      ["0", "main-captions", "MSRvid", "2012test", "0001", "none", "none",
                       "A plane is taking off.", "An air plane is taking off.", "5.000"]],
        "dev.tsv": [STSB_HEADER,
                    ["0", "main-captions", "MSRvid", "2012test", "0000", "none", "none",
                     "A man with a hard hat.", "A man wearing a hard hat.", "4.250"]],
        "test.tsv": [STSB_HEADER[:9],
                     ["0", "main-captions", "MSRvid", "2012test", "0024", "none", "none",
                      "A girl is styling her hair.", "A girl is brushing her hair."]],
    },
    "xnli": {
        "multinli/multinli.train.zh.tsv": [["premise", "hypo", "label"],
                                           ["前提一", "假设一", "contradictory"],
                                           ["前提二", "假设二", "entailment"]],
        "multinli/multinli.train.de.tsv": [["premise", "hypo", "label"],
                                           ["Prämisse", "Hypothese", "neutral"]],
        "xnli.dev.tsv": [XNLI_HEADER, _xnli_row("de", "neutral", "Er sagte.", "Sie sagte."),
                         _xnli_row("zh", "entailment", "他说。", "她说。")],
        "xnli.test.tsv": [XNLI_HEADER, _xnli_row("zh", "contradiction", "好。", "不好。"),
                          _xnli_row("de", "neutral", "Gut.", "Schlecht.")],
    },
}
GLUE_FILES["mnli-mm"] = GLUE_FILES["mnli"]

# Expected (guid, text_a, text_b, label) per task and split, from the rows above.
EXPECTED = {
    "cola": {
        "train": [("train-0", "Our friends won't buy this analysis.", None, "1"),
                  ("train-1", 'They drank the pub "dry".', None, "0")],
        "dev": [("dev-0", "The sailors rode the breeze.", None, "1")],
        "test": [("test-1", "Bill whistled past the house.", None, None)],
    },
    "mnli": {
        "train": [("train-0", "Cream skimming.", "Product and geography.", "neutral"),
                  ("train-7", "You know.", "You lose.", "entailment")],
        "dev": [("dev_matched-3", "The new rights.", "Everyone likes.", "contradiction")],
        "test": [("test-9", "Hills.", "Mountains.", None)],
    },
    "mnli-mm": {
        "train": [("train-0", "Cream skimming.", "Product and geography.", "neutral"),
                  ("train-7", "You know.", "You lose.", "entailment")],
        "dev": [("dev_mismatched-4", "Your gift.", "Thanks.", "entailment")],
        "test": [("test_mismatched-5", "Rain.", "Wet.", None)],
    },
    "mrpc": {
        "train": [("train-1", "Amrozi accused his brother.", "Referring to him as the witness.",
                   "1"),
                  ("train-2", "Yucaipa owned Dominick 's.", "Yucaipa bought Dominick 's.", "0")],
        "dev": [("dev-1", "He said the foodservice.", "The foodservice.", "1")],
        "test": [("test-1", "PCCW 's chief.", "Current Chief.", None)],
    },
    "sst-2": {
        "train": [("train-1", "hide new secretions ", None, "0"),
                  ("train-2", "contains no wit", None, "0"),
                  ("train-3", "that loves its characters", None, "1")],
        "dev": [("dev-1", "it 's a charming journey .", None, "1")],
        "test": [("test-0", "uneasy mishmash of styles .", None, None)],
    },
    "qnli": {
        "train": [("train-0", "When?", "In 1970.", "entailment")],
        "dev": [("dev-5", "Who?", "Nobody knows.", "not_entailment")],
        "test": [("test-2", "Where?", "Here.", None)],
    },
    "qqp": {
        "train": [("train-133273", "How is the life?", "Is life good?", "0"),
                  ("train-402555", "How do I fix it?", "Fix it how?", "1")],
        "dev": [("dev-201359", "Why are people?", "Why do people?", "0")],
        "test": [("test-0", "Why?", "Why not?", None)],
    },
    "rte": {
        "train": [("train-0", "No weapons.", "Weapons found.", "not_entailment")],
        "dev": [("dev-1", "Dana lives.", "Dana exists.", "entailment")],
        "test": [("test-0", "Maude.", "Maude was.", None)],
    },
    "wnli": {
        "train": [("train-0", "I stuck a pin.", "The pin had a hole.", "1")],
        "dev": [("dev-0", "The drain is clogged.", "The hair is clogged.", "0")],
        "test": [("test-0", "Maude.", "Maude was.", None)],
    },
    "sts-b": {
        "train": [("train-0", "A plane is taking off.", "An air plane is taking off.", 5.0)],
        "dev": [("dev-0", "A man with a hard hat.", "A man wearing a hard hat.", 4.25)],
        "test": [("test-0", "A girl is styling her hair.", "A girl is brushing her hair.",
                  None)],
    },
    "xnli": {
        # Google's guids count every row of the file, header included.
        "train": [("train-1", "前提一", "假设一", "contradiction"),
                  ("train-2", "前提二", "假设二", "entailment")],
        "dev": [("dev-2", "他说。", "她说。", "entailment")],
        "test": [("test-1", "好。", "不好。", "contradiction")],
    },
}

LABELS = {"cola": ["0", "1"], "mnli": ["contradiction", "entailment", "neutral"],
          "mnli-mm": ["contradiction", "entailment", "neutral"], "mrpc": ["0", "1"],
          "sst-2": ["0", "1"], "qnli": ["entailment", "not_entailment"], "qqp": ["0", "1"],
          "rte": ["entailment", "not_entailment"], "wnli": ["0", "1"], "sts-b": None,
          "xnli": ["contradiction", "entailment", "neutral"]}


def _glue_dir(tmp_path: pathlib.Path, task: str) -> str:
    for name, rows in GLUE_FILES[task].items():
        _write(tmp_path, name, rows)
    return str(tmp_path)


def test_every_glue_task_is_registered():
    assert set(cd.PROCESSORS) == set(EXPECTED) | {"tsv", "csv"}


@pytest.mark.parametrize("task", sorted(EXPECTED))
def test_glue_processor_reads_every_split(tmp_path, task):
    data_dir = _glue_dir(tmp_path, task)
    processor = cd.get_processor(task.upper())
    assert _as_tuples(processor.get_train_examples(data_dir)) == EXPECTED[task]["train"]
    assert _as_tuples(processor.get_dev_examples(data_dir)) == EXPECTED[task]["dev"]
    assert _as_tuples(processor.get_test_examples(data_dir)) == EXPECTED[task]["test"]
    assert processor.get_labels() == LABELS[task]
    assert processor.is_regression == (task == "sts-b")


def test_xnli_language_is_configurable(tmp_path):
    data_dir = _glue_dir(tmp_path, "xnli")
    processor = cd.get_processor("xnli", language="de")
    assert _as_tuples(processor.get_train_examples(data_dir)) == [
        ("train-1", "Prämisse", "Hypothese", "neutral")]
    assert _as_tuples(processor.get_dev_examples(data_dir)) == [
        ("dev-1", "Er sagte.", "Sie sagte.", "neutral")]
    assert _as_tuples(processor.get_test_examples(data_dir)) == [
        ("test-2", "Gut.", "Schlecht.", "neutral")]


# -------------------------------------------------------------------- GLUE file errors


def test_wrong_column_count_names_file_and_line(tmp_path):
    files = dict(GLUE_FILES["mrpc"])
    files["train.tsv"] = files["train.tsv"] + [["1", "3", "4", "A tab\tinside", "B"]]
    for name, rows in files.items():
        _write(tmp_path, name, rows)
    with pytest.raises(UserInputError) as error:
        cd.MrpcProcessor().get_train_examples(str(tmp_path))
    message = str(error.value)
    assert str(tmp_path / "train.tsv") in message and "line 4" in message
    assert "6 columns, expected 5" in message


def test_wrong_column_count_in_a_file_without_header(tmp_path):
    _write(tmp_path, "train.tsv", [["gj04", "1", "", "Fine."], ["gj04", "0", "Bad."]])
    with pytest.raises(UserInputError, match=r"train\.tsv, line 2: 3 columns, expected 4"):
        cd.ColaProcessor().get_train_examples(str(tmp_path))


def test_unknown_label_names_file_and_line(tmp_path):
    _write(tmp_path, "dev.tsv", [["index", "sentence1", "sentence2", "label"],
                                 ["0", "a", "b", "entailment"], ["1", "a", "b", "maybe"]])
    with pytest.raises(UserInputError) as error:
        cd.RteProcessor().get_dev_examples(str(tmp_path))
    message = str(error.value)
    assert str(tmp_path / "dev.tsv") in message and "line 3" in message
    assert "'maybe'" in message and "not_entailment" in message


def test_non_numeric_sts_b_score(tmp_path):
    _write(tmp_path, "train.tsv", [STSB_HEADER, ["0"] * 7 + ["a", "b", "high"]])
    with pytest.raises(UserInputError, match=r"train\.tsv, line 2: the score 'high'"):
        cd.StsbProcessor().get_train_examples(str(tmp_path))


def test_missing_split_file_names_the_full_path(tmp_path):
    with pytest.raises(UserInputError) as error:
        cd.MnliProcessor().get_dev_examples(str(tmp_path))
    assert str(tmp_path / "dev_matched.tsv") in str(error.value)
    with pytest.raises(UserInputError) as error:
        cd.XnliProcessor("fr").get_train_examples(str(tmp_path))
    assert str(tmp_path / "multinli" / "multinli.train.fr.tsv") in str(error.value)


def test_header_too_narrow_for_the_task(tmp_path):
    _write(tmp_path, "train.tsv", [["sentence", "label"], ["text", "0"]])
    with pytest.raises(UserInputError, match=r"train\.tsv, line 1: the header has 2 columns"):
        cd.QnliProcessor().get_train_examples(str(tmp_path))


def test_unknown_task_lists_the_valid_ones():
    with pytest.raises(UserInputError) as error:
        cd.get_processor("glue")
    message = str(error.value)
    assert "'glue'" in message
    assert all(name in message for name in ("cola", "mnli-mm", "sts-b", "tsv", "csv"))


def test_options_that_a_task_does_not_take_are_refused():
    with pytest.raises(UserInputError, match="text_a_column"):
        cd.get_processor("mrpc", text_a_column=1)
    with pytest.raises(UserInputError, match="language"):
        cd.get_processor("mrpc", language="de")
    with pytest.raises(UserInputError, match="label_column"):
        cd.get_processor("tsv", data_dir="/tmp", text_a_column=0)


# ------------------------------------------------------------------ the user's own data


def test_tsv_pair_with_header_by_name(tmp_path):
    header = ["id", "question", "answer", "verdict"]
    _write(tmp_path, "train.tsv", [header, ["1", "q1", "a1", "yes"], ["2", "q2", "a2", "no"],
                                   ["3", "q3", "a3", "yes"]])
    _write(tmp_path, "dev.tsv", [header, ["4", "q4", "a4", "no"]])
    _write(tmp_path, "test.tsv", [["id", "question", "answer"], ["5", "q5", "a5"]])
    processor = cd.get_processor("tsv", data_dir=str(tmp_path), text_a_column="question",
                                 text_b_column="answer", label_column="verdict")
    assert processor.get_labels() == ["no", "yes"]
    assert _as_tuples(processor.get_train_examples(str(tmp_path))) == [
        ("train-2", "q1", "a1", "yes"), ("train-3", "q2", "a2", "no"),
        ("train-4", "q3", "a3", "yes")]
    assert _as_tuples(processor.get_dev_examples(str(tmp_path))) == [
        ("dev-2", "q4", "a4", "no")]
    assert _as_tuples(processor.get_test_examples(str(tmp_path))) == [
        ("test-2", "q5", "a5", None)]


def test_tsv_single_text_by_index_with_detected_header(tmp_path):
    _write(tmp_path, "train.tsv", [["label", "text"], ["2", "b"], ["10", "c"], ["2", "d"]])
    _write(tmp_path, "dev.tsv", [["label", "text"], ["10", "e"]])
    _write(tmp_path, "test.tsv", [["label", "text"], ["2", "f"]])
    processor = cd.get_processor("tsv", data_dir=str(tmp_path), text_a_column="1",
                                 label_column=0)
    assert processor.get_labels() == ["2", "10"]  # Integer labels sort by value.
    assert _as_tuples(processor.get_train_examples(str(tmp_path))) == [
        ("train-2", "b", None, "2"), ("train-3", "c", None, "10"), ("train-4", "d", None, "2")]
    assert _as_tuples(processor.get_dev_examples(str(tmp_path))) == [
        ("dev-2", "e", None, "10")]
    assert _as_tuples(processor.get_test_examples(str(tmp_path))) == [
        ("test-2", "f", None, None)]


def test_tsv_without_header(tmp_path):
    _write(tmp_path, "train.tsv", [["good film", "pos"], ["bad film", "neg"],
                                   ["fine film", "pos"]])
    _write(tmp_path, "dev.tsv", [["great film", "pos"]])
    # The test file has no label column: read like the train file (no header).
    _write(tmp_path, "test.tsv", [["odd film"], ["dull film"]])
    processor = cd.get_processor("tsv", data_dir=str(tmp_path), text_a_column=0,
                                 label_column=1)
    assert processor.get_labels() == ["neg", "pos"]
    assert [e.text_a for e in processor.get_train_examples(str(tmp_path))] == [
        "good film", "bad film", "fine film"]
    assert _as_tuples(processor.get_dev_examples(str(tmp_path))) == [
        ("dev-1", "great film", None, "pos")]
    assert _as_tuples(processor.get_test_examples(str(tmp_path))) == [
        ("test-1", "odd film", None, None), ("test-2", "dull film", None, None)]


def test_explicit_has_header_false_keeps_the_first_row(tmp_path):
    # "pos" appears only once: auto-detection would take it for a header.
    _write(tmp_path, "train.tsv", [["good", "pos"], ["bad", "neg"], ["worse", "neg"]])
    processor = cd.get_processor("tsv", data_dir=str(tmp_path), text_a_column=0,
                                 label_column=1, has_header=False)
    assert [e.text_a for e in processor.get_train_examples(str(tmp_path))] == [
        "good", "bad", "worse"]
    auto = cd.get_processor("tsv", data_dir=str(tmp_path), text_a_column=0, label_column=1)
    assert [e.text_a for e in auto.get_train_examples(str(tmp_path))] == ["bad", "worse"]


def test_csv_pair_with_quoting(tmp_path):
    (tmp_path / "train.csv").write_text(
        'label,premise,hypothesis\n'
        'yes,"Hello, world","She said ""hi"""\n'
        'no,"Two\nlines",plain\n', encoding="utf-8")
    processor = cd.get_processor("csv", data_dir=str(tmp_path), text_a_column="premise",
                                 text_b_column="hypothesis", label_column="label")
    assert _as_tuples(processor.get_train_examples(str(tmp_path))) == [
        ("train-2", "Hello, world", 'She said "hi"', "yes"),
        ("train-3", "Two\nlines", "plain", "no")]
    assert processor.get_labels() == ["no", "yes"]


def test_csv_single_text_without_header_and_given_labels(tmp_path):
    _write(tmp_path, "train.csv", [["a", "x"], ["b", "y"]], delimiter=",")
    processor = cd.get_processor("csv", data_dir=str(tmp_path), text_a_column=1,
                                 label_column=0, labels=["b", "a"])
    assert processor.get_labels() == ["b", "a"]
    assert _as_tuples(processor.get_train_examples(str(tmp_path))) == [
        ("train-1", "x", None, "a"), ("train-2", "y", None, "b")]


def test_generic_unknown_label_in_dev(tmp_path):
    _write(tmp_path, "train.tsv", [["text", "label"], ["a", "x"], ["b", "y"]])
    _write(tmp_path, "dev.tsv", [["text", "label"], ["c", "x"], ["d", "z"]])
    processor = cd.get_processor("tsv", data_dir=str(tmp_path), text_a_column="text",
                                 label_column="label")
    with pytest.raises(UserInputError) as error:
        processor.get_dev_examples(str(tmp_path))
    message = str(error.value)
    assert str(tmp_path / "dev.tsv") in message and "line 3" in message and "'z'" in message


def test_generic_column_name_not_in_header(tmp_path):
    _write(tmp_path, "train.tsv", [["text", "label"], ["a", "x"]])
    processor = cd.get_processor("tsv", data_dir=str(tmp_path), text_a_column="sentence",
                                 label_column="label")
    with pytest.raises(UserInputError) as error:
        processor.get_train_examples(str(tmp_path))
    message = str(error.value)
    assert str(tmp_path / "train.tsv") in message and "line 1" in message
    assert "'sentence'" in message and "['text', 'label']" in message


def test_generic_wrong_column_count(tmp_path):
    _write(tmp_path, "train.csv", [["text", "label"], ["a", "x"], ["b, c", "y"]],
           delimiter=",")
    processor = cd.get_processor("csv", data_dir=str(tmp_path), text_a_column="text",
                                 label_column="label")
    with pytest.raises(UserInputError) as error:
        processor.get_train_examples(str(tmp_path))
    message = str(error.value)
    assert str(tmp_path / "train.csv") in message and "line 3" in message
    assert "3 columns, expected 2" in message and "quote" in message


def test_generic_column_index_beyond_the_file(tmp_path):
    _write(tmp_path, "train.tsv", [["a", "x"], ["b", "y"]])
    processor = cd.get_processor("tsv", data_dir=str(tmp_path), text_a_column=0,
                                 text_b_column=2, label_column=1)
    with pytest.raises(UserInputError, match=r"train\.tsv, line 1: 2 columns, but "
                                             r"text_b_column=2"):
        processor.get_train_examples(str(tmp_path))


def test_generic_labels_need_the_train_file(tmp_path):
    processor = cd.get_processor("tsv", data_dir=str(tmp_path), text_a_column=0,
                                 label_column=1)
    with pytest.raises(UserInputError) as error:
        processor.get_labels()
    assert str(tmp_path / "train.tsv") in str(error.value)


def test_blank_lines_are_skipped_and_line_numbers_stay_physical(tmp_path):
    (tmp_path / "train.tsv").write_text("text\tlabel\n\na\tx\n\nb\tx\ty\n")
    processor = cd.get_processor("tsv", data_dir=str(tmp_path), text_a_column="text",
                                 label_column="label")
    with pytest.raises(UserInputError, match="line 5: 3 columns"):
        processor.get_train_examples(str(tmp_path))


# ------------------------------------------------------------------ feature conversion

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c", "d", "e", "f", "g"]
ID = {token: index for index, token in enumerate(VOCAB)}


@pytest.fixture
def tokenizer(tmp_path):
    return tokenization.FullTokenizer(write_vocab(tmp_path, VOCAB), do_lower_case=True)


def test_features_truncation_and_labels(tokenizer):
    examples = [
        # Pair of 5 + 2 tokens into 8 - 3 = 5: A loses 2 (the longer side first).
        cd.InputExample("x-0", "a b c d e", "f g", "1"),
        # Single text of 6 tokens fits 8 - 2 exactly.
        cd.InputExample("x-1", "a b c d e f", None, "0"),
        # Single text of 7 tokens: cut to 6.
        cd.InputExample("x-2", "A B C D E F G", None, "1"),
        # An empty text B makes a single text; a test example (no label) gets id 0.
        cd.InputExample("x-3", "g", "", None),
    ]
    features, truncated = cd.convert_examples_to_features(examples, ["0", "1"], 8, tokenizer)
    assert truncated == 2
    cls, sep = ID["[CLS]"], ID["[SEP]"]
    np.testing.assert_array_equal(features["input_ids"], [
        [cls, ID["a"], ID["b"], ID["c"], sep, ID["f"], ID["g"], sep],
        [cls, ID["a"], ID["b"], ID["c"], ID["d"], ID["e"], ID["f"], sep],
        [cls, ID["a"], ID["b"], ID["c"], ID["d"], ID["e"], ID["f"], sep],
        [cls, ID["g"], sep, 0, 0, 0, 0, 0]])
    np.testing.assert_array_equal(features["segment_ids"], [
        [0, 0, 0, 0, 0, 1, 1, 1], [0] * 8, [0] * 8, [0] * 8])
    np.testing.assert_array_equal(features["input_mask"], [
        [1] * 8, [1] * 8, [1] * 8, [1, 1, 1, 0, 0, 0, 0, 0]])
    np.testing.assert_array_equal(features["label_ids"], [1, 0, 1, 0])
    assert all(array.dtype == np.int32 for array in features.values())


def test_regression_labels_are_floats(tokenizer):
    examples = [cd.InputExample("s-0", "a", "b", 4.25), cd.InputExample("s-1", "c", "d", None)]
    features, truncated = cd.convert_examples_to_features(examples, None, 6, tokenizer,
                                                          is_regression=True)
    assert truncated == 0
    assert features["label_ids"].dtype == np.float32
    np.testing.assert_array_equal(features["label_ids"], [4.25, 0.0])


def test_label_outside_the_list_is_an_error(tokenizer):
    with pytest.raises(UserInputError, match=r"x-0: label 'maybe'"):
        cd.convert_examples_to_features([cd.InputExample("x-0", "a", None, "maybe")],
                                        ["0", "1"], 8, tokenizer)


# ---------------------------------------------------------------------- tf.data input


def _features(count: int, max_seq_length: int = 6) -> dict[str, np.ndarray]:
    """Row i has input_ids[i, 0] == i + 1 and i % 4 + 1 real tokens."""
    lengths = np.arange(count) % 4 + 1
    mask = (np.arange(max_seq_length)[None, :] < lengths[:, None]).astype(np.int32)
    ids = mask * (np.arange(count)[:, None] + 1)
    return {"input_ids": ids.astype(np.int32), "input_mask": mask,
            "segment_ids": np.zeros_like(mask),
            "label_ids": (np.arange(count) % 2).astype(np.int32)}


def _batches(dataset, limit=None):
    return [{name: value.numpy() for name, value in batch.items()}
            for batch in dataset.take(limit if limit is not None else -1)]


def test_eval_keeps_every_example_once_in_order_and_marks_padding():
    features = _features(5)
    batches = _batches(classification_dataset.classification_dataset(
        features, batch_size=2, is_training=False))
    assert [len(batch["label_ids"]) for batch in batches] == [2, 2, 2]
    assert set(batches[0]) == {"input_ids", "input_mask", "segment_ids", "label_ids",
                               "is_real_example"}
    ids = np.concatenate([batch["input_ids"] for batch in batches])
    np.testing.assert_array_equal(ids[:5], features["input_ids"])
    np.testing.assert_array_equal(ids[5], np.zeros(6))
    is_real = np.concatenate([batch["is_real_example"] for batch in batches])
    np.testing.assert_array_equal(is_real, [1, 1, 1, 1, 1, 0])
    assert batches[0]["is_real_example"].dtype == np.float32


def test_eval_without_drop_remainder_has_no_padding():
    batches = _batches(classification_dataset.classification_dataset(
        _features(5), batch_size=2, is_training=False, drop_remainder=False))
    assert [len(batch["label_ids"]) for batch in batches] == [2, 2, 1]
    assert all(batch["is_real_example"].all() for batch in batches)


def test_eval_over_two_pipelines_covers_every_example_once():
    features = _features(5)
    seen = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2,
                                             input_pipeline_id=pipeline)
        batches = _batches(classification_dataset.classification_dataset(
            features, batch_size=2, is_training=False, input_context=context))
        assert len(batches) == 2  # 5 examples padded to 8: two full batches each.
        for batch in batches:
            seen += [int(row[0]) for row, real in zip(batch["input_ids"],
                                                     batch["is_real_example"]) if real]
    assert sorted(seen) == [1, 2, 3, 4, 5]


def _training_order(seed, count=8, batch_size=4, batches=6, context=None, skip=0):
    dataset = classification_dataset.classification_dataset(
        _features(count), batch_size=batch_size, is_training=True, seed=seed,
        input_context=context, skip_batches=skip)
    return [batch["input_ids"][:, 0].tolist() for batch in _batches(dataset, batches)]


def test_training_order_is_reproducible_for_a_seed_and_covers_each_epoch():
    order = _training_order(seed=7)
    assert order == _training_order(seed=7)
    assert order != _training_order(seed=8)
    for epoch in range(3):  # 8 examples, 2 batches per epoch: each a permutation.
        assert sorted(order[2 * epoch] + order[2 * epoch + 1]) == list(range(1, 9))
    assert order[0:2] != order[2:4]  # Reshuffled every epoch.


def test_resumed_training_skips_the_batches_seen():
    assert _training_order(seed=7, batches=3, skip=3) == _training_order(seed=7)[3:]


def test_training_shards_by_input_pipeline():
    context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=1)
    order = _training_order(seed=3, batch_size=2, batches=2, context=context)
    assert sorted(order[0] + order[1]) == [2, 4, 6, 8]


def test_trim_padding_cuts_to_the_longest_sequence_of_each_batch():
    features = _features(6)  # lengths 1, 2, 3, 4, 1, 2
    dataset = classification_dataset.classification_dataset(
        features, batch_size=2, is_training=False, trim_padding=True)
    assert dataset.element_spec["input_ids"].shape.as_list() == [2, None]
    batches = _batches(dataset)
    assert [batch["input_ids"].shape[1] for batch in batches] == [2, 4, 2]
    np.testing.assert_array_equal(batches[1]["input_mask"], features["input_mask"][2:4, :4])
