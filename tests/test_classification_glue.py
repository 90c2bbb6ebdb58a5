"""The GLUE and XNLI readers on files laid out as GLUE releases them, their errors
(file and line), and the registry of every task by name."""

import pathlib

import pytest

from bert_tf.errors import UserInputError
from bert_tf.tasks.classification import glue, readers
from tests.conftest import example_tuples, write_rows


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


def _indexed_files(columns, train_row, dev_row, test_row):
    """The files of a task that GLUE releases as `index, *columns, label` (no label in
    test.tsv), with one row each."""
    header = ["index", *columns]
    return {"train.tsv": [header + ["label"], train_row],
            "dev.tsv": [header + ["label"], dev_row],
            "test.tsv": [header, test_row]}


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
    "qnli": _indexed_files(["question", "sentence"],
                           ["0", "When?", "In 1970.", "entailment"],
                           ["5", "Who?", "Nobody knows.", "not_entailment"],
                           ["2", "Where?", "Here."]),
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
    "rte": _indexed_files(["sentence1", "sentence2"],
                          ["0", "No weapons.", "Weapons found.", "not_entailment"],
                          ["1", "Dana lives.", "Dana exists.", "entailment"],
                          ["0", "Maude.", "Maude was."]),
    "wnli": _indexed_files(["sentence1", "sentence2"],
                           ["0", "I stuck a pin.", "The pin had a hole.", "1"],
                           ["0", "The drain is clogged.", "The hair is clogged.", "0"],
                           ["0", "Maude.", "Maude was."]),
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
        write_rows(tmp_path, name, rows)
    return str(tmp_path)


def test_every_glue_task_is_registered():
    assert set(readers.PROCESSORS) == set(EXPECTED) | {"tsv", "csv"}


@pytest.mark.parametrize("task", sorted(EXPECTED))
def test_glue_processor_reads_every_split(tmp_path, task):
    data_dir = _glue_dir(tmp_path, task)
    processor = readers.get_processor(task.upper())
    assert example_tuples(processor.get_train_examples(data_dir)) == EXPECTED[task]["train"]
    assert example_tuples(processor.get_dev_examples(data_dir)) == EXPECTED[task]["dev"]
    assert example_tuples(processor.get_test_examples(data_dir)) == EXPECTED[task]["test"]
    assert processor.get_labels() == LABELS[task]
    assert processor.is_regression == (task == "sts-b")


def test_xnli_language_is_configurable(tmp_path):
    data_dir = _glue_dir(tmp_path, "xnli")
    processor = readers.get_processor("xnli", language="de")
    assert example_tuples(processor.get_train_examples(data_dir)) == [
        ("train-1", "Prämisse", "Hypothese", "neutral")]
    assert example_tuples(processor.get_dev_examples(data_dir)) == [
        ("dev-1", "Er sagte.", "Sie sagte.", "neutral")]
    assert example_tuples(processor.get_test_examples(data_dir)) == [
        ("test-2", "Gut.", "Schlecht.", "neutral")]


# -------------------------------------------------------------------- GLUE file errors


def test_wrong_column_count_names_file_and_line(tmp_path):
    files = dict(GLUE_FILES["mrpc"])
    files["train.tsv"] = files["train.tsv"] + [["1", "3", "4", "A tab\tinside", "B"]]
    for name, rows in files.items():
        write_rows(tmp_path, name, rows)
    with pytest.raises(UserInputError) as error:
        glue.MrpcProcessor().get_train_examples(str(tmp_path))
    message = str(error.value)
    assert str(tmp_path / "train.tsv") in message and "line 4" in message
    assert "6 columns, expected 5" in message


def test_wrong_column_count_in_a_file_without_header(tmp_path):
    write_rows(tmp_path, "train.tsv", [["gj04", "1", "", "Fine."], ["gj04", "0", "Bad."]])
    with pytest.raises(UserInputError, match=r"train\.tsv, line 2: 3 columns, expected 4"):
        glue.ColaProcessor().get_train_examples(str(tmp_path))


def test_unknown_label_names_file_and_line(tmp_path):
    write_rows(tmp_path, "dev.tsv", [["index", "sentence1", "sentence2", "label"],
                                     ["0", "a", "b", "entailment"], ["1", "a", "b", "maybe"]])
    with pytest.raises(UserInputError) as error:
        glue.RteProcessor().get_dev_examples(str(tmp_path))
    message = str(error.value)
    assert str(tmp_path / "dev.tsv") in message and "line 3" in message
    assert "'maybe'" in message and "not_entailment" in message


def test_non_numeric_sts_b_score(tmp_path):
    write_rows(tmp_path, "train.tsv", [STSB_HEADER, ["0"] * 7 + ["a", "b", "high"]])
    with pytest.raises(UserInputError, match=r"train\.tsv, line 2: the score 'high'"):
        glue.StsbProcessor().get_train_examples(str(tmp_path))


def test_missing_split_file_names_the_full_path(tmp_path):
    with pytest.raises(UserInputError) as error:
        glue.MnliProcessor().get_dev_examples(str(tmp_path))
    assert str(tmp_path / "dev_matched.tsv") in str(error.value)
    with pytest.raises(UserInputError) as error:
        glue.XnliProcessor("fr").get_train_examples(str(tmp_path))
    assert str(tmp_path / "multinli" / "multinli.train.fr.tsv") in str(error.value)


def test_header_too_narrow_for_the_task(tmp_path):
    write_rows(tmp_path, "train.tsv", [["sentence", "label"], ["text", "0"]])
    with pytest.raises(UserInputError, match=r"train\.tsv, line 1: the header has 2 columns"):
        glue.QnliProcessor().get_train_examples(str(tmp_path))


def test_unknown_task_lists_the_valid_ones():
    with pytest.raises(UserInputError) as error:
        readers.get_processor("glue")
    message = str(error.value)
    assert "'glue'" in message
    assert all(name in message for name in ("cola", "mnli-mm", "sts-b", "tsv", "csv"))


def test_options_that_a_task_does_not_take_are_refused():
    with pytest.raises(UserInputError, match="text_a_column"):
        readers.get_processor("mrpc", text_a_column=1)
    with pytest.raises(UserInputError, match="language"):
        readers.get_processor("mrpc", language="de")
    with pytest.raises(UserInputError, match="label_column"):
        readers.get_processor("tsv", data_dir="/tmp", text_a_column=0)
