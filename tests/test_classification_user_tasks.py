"""The `tsv` and `csv` tasks on the user's own files: columns by name or index, header
detection, labels, quoting, and errors that name file and line."""

import pytest

from bert_tf.errors import UserInputError
from bert_tf.tasks.classification import readers
from tests.conftest import example_tuples, write_rows


def test_tsv_pair_with_header_by_name(tmp_path):
    header = ["id", "question", "answer", "verdict"]
    write_rows(tmp_path, "train.tsv", [header, ["1", "q1", "a1", "yes"], ["2", "q2", "a2", "no"],
                                       ["3", "q3", "a3", "yes"]])
    write_rows(tmp_path, "dev.tsv", [header, ["4", "q4", "a4", "no"]])
    write_rows(tmp_path, "test.tsv", [["id", "question", "answer"], ["5", "q5", "a5"]])
    processor = readers.get_processor("tsv", data_dir=str(tmp_path), text_a_column="question",
                                      text_b_column="answer", label_column="verdict")
    assert processor.get_labels() == ["no", "yes"]
    assert example_tuples(processor.get_train_examples(str(tmp_path))) == [
        ("train-2", "q1", "a1", "yes"), ("train-3", "q2", "a2", "no"),
        ("train-4", "q3", "a3", "yes")]
    assert example_tuples(processor.get_dev_examples(str(tmp_path))) == [
        ("dev-2", "q4", "a4", "no")]
    assert example_tuples(processor.get_test_examples(str(tmp_path))) == [
        ("test-2", "q5", "a5", None)]


def test_tsv_single_text_by_index_with_detected_header(tmp_path):
    write_rows(tmp_path, "train.tsv", [["label", "text"], ["2", "b"], ["10", "c"], ["2", "d"]])
    write_rows(tmp_path, "dev.tsv", [["label", "text"], ["10", "e"]])
    write_rows(tmp_path, "test.tsv", [["label", "text"], ["2", "f"]])
    processor = readers.get_processor("tsv", data_dir=str(tmp_path), text_a_column="1",
                                      label_column=0)
    assert processor.get_labels() == ["2", "10"]  # Integer labels sort by value.
    assert example_tuples(processor.get_train_examples(str(tmp_path))) == [
        ("train-2", "b", None, "2"), ("train-3", "c", None, "10"), ("train-4", "d", None, "2")]
    assert example_tuples(processor.get_dev_examples(str(tmp_path))) == [
        ("dev-2", "e", None, "10")]
    assert example_tuples(processor.get_test_examples(str(tmp_path))) == [
        ("test-2", "f", None, None)]


def test_tsv_without_header(tmp_path):
    write_rows(tmp_path, "train.tsv", [["good film", "pos"], ["bad film", "neg"],
                                       ["fine film", "pos"]])
    write_rows(tmp_path, "dev.tsv", [["great film", "pos"]])
    # The test file has no label column: read like the train file (no header).
    write_rows(tmp_path, "test.tsv", [["odd film"], ["dull film"]])
    processor = readers.get_processor("tsv", data_dir=str(tmp_path), text_a_column=0,
                                      label_column=1)
    assert processor.get_labels() == ["neg", "pos"]
    assert [e.text_a for e in processor.get_train_examples(str(tmp_path))] == [
        "good film", "bad film", "fine film"]
    assert example_tuples(processor.get_dev_examples(str(tmp_path))) == [
        ("dev-1", "great film", None, "pos")]
    assert example_tuples(processor.get_test_examples(str(tmp_path))) == [
        ("test-1", "odd film", None, None), ("test-2", "dull film", None, None)]


def test_explicit_has_header_false_keeps_the_first_row(tmp_path):
    # "pos" appears only once: auto-detection would take it for a header.
    write_rows(tmp_path, "train.tsv", [["good", "pos"], ["bad", "neg"], ["worse", "neg"]])
    processor = readers.get_processor("tsv", data_dir=str(tmp_path), text_a_column=0,
                                      label_column=1, has_header=False)
    assert [e.text_a for e in processor.get_train_examples(str(tmp_path))] == [
        "good", "bad", "worse"]
    auto = readers.get_processor("tsv", data_dir=str(tmp_path), text_a_column=0, label_column=1)
    assert [e.text_a for e in auto.get_train_examples(str(tmp_path))] == ["bad", "worse"]


def test_csv_pair_with_quoting(tmp_path):
    (tmp_path / "train.csv").write_text(
        'label,premise,hypothesis\n'
        'yes,"Hello, world","She said ""hi"""\n'
        'no,"Two\nlines",plain\n', encoding="utf-8")
    processor = readers.get_processor("csv", data_dir=str(tmp_path), text_a_column="premise",
                                      text_b_column="hypothesis", label_column="label")
    assert example_tuples(processor.get_train_examples(str(tmp_path))) == [
        ("train-2", "Hello, world", 'She said "hi"', "yes"),
        ("train-3", "Two\nlines", "plain", "no")]
    assert processor.get_labels() == ["no", "yes"]


def test_csv_single_text_without_header_and_given_labels(tmp_path):
    write_rows(tmp_path, "train.csv", [["a", "x"], ["b", "y"]], delimiter=",")
    processor = readers.get_processor("csv", data_dir=str(tmp_path), text_a_column=1,
                                      label_column=0, labels=["b", "a"])
    assert processor.get_labels() == ["b", "a"]
    assert example_tuples(processor.get_train_examples(str(tmp_path))) == [
        ("train-1", "x", None, "a"), ("train-2", "y", None, "b")]


def _refusal(tmp_path, file_format: str, split: str, **columns) -> str:
    """The message with which the generic processor refuses the `split` examples."""
    processor = readers.get_processor(file_format, data_dir=str(tmp_path), **columns)
    with pytest.raises(UserInputError) as error:
        getattr(processor, f"get_{split}_examples")(str(tmp_path))
    return str(error.value)


def test_generic_unknown_label_in_dev(tmp_path):
    write_rows(tmp_path, "train.tsv", [["text", "label"], ["a", "x"], ["b", "y"]])
    write_rows(tmp_path, "dev.tsv", [["text", "label"], ["c", "x"], ["d", "z"]])
    message = _refusal(tmp_path, "tsv", "dev", text_a_column="text", label_column="label")
    assert str(tmp_path / "dev.tsv") in message and "line 3" in message and "'z'" in message


def test_generic_column_name_not_in_header(tmp_path):
    write_rows(tmp_path, "train.tsv", [["text", "label"], ["a", "x"]])
    message = _refusal(tmp_path, "tsv", "train", text_a_column="sentence",
                       label_column="label")
    assert str(tmp_path / "train.tsv") in message and "line 1" in message
    assert "'sentence'" in message and "['text', 'label']" in message


def test_generic_wrong_column_count(tmp_path):
    write_rows(tmp_path, "train.csv", [["text", "label"], ["a", "x"], ["b, c", "y"]],
               delimiter=",")
    message = _refusal(tmp_path, "csv", "train", text_a_column="text", label_column="label")
    assert str(tmp_path / "train.csv") in message and "line 3" in message
    assert "3 columns, expected 2" in message and "quote" in message


def test_generic_column_index_beyond_the_file(tmp_path):
    write_rows(tmp_path, "train.tsv", [["a", "x"], ["b", "y"]])
    processor = readers.get_processor("tsv", data_dir=str(tmp_path), text_a_column=0,
                                      text_b_column=2, label_column=1)
    with pytest.raises(UserInputError, match=r"train\.tsv, line 1: 2 columns, but "
                                             r"text_b_column=2"):
        processor.get_train_examples(str(tmp_path))


def test_generic_labels_need_the_train_file(tmp_path):
    processor = readers.get_processor("tsv", data_dir=str(tmp_path), text_a_column=0,
                                      label_column=1)
    with pytest.raises(UserInputError) as error:
        processor.get_labels()
    assert str(tmp_path / "train.tsv") in str(error.value)


def test_blank_lines_are_skipped_and_line_numbers_stay_physical(tmp_path):
    (tmp_path / "train.tsv").write_text("text\tlabel\n\na\tx\n\nb\tx\ty\n")
    processor = readers.get_processor("tsv", data_dir=str(tmp_path), text_a_column="text",
                                      label_column="label")
    with pytest.raises(UserInputError, match="line 5: 3 columns"):
        processor.get_train_examples(str(tmp_path))


def test_columns_are_indexes_or_names_for_run_classifier_and_bulk_prediction():
    from bert_tf.tasks.classification.delimited import parse_column
    from bert_tf.tasks.classification.user_tasks import GenericProcessor
    from bert_tf.beam.text_rows import InputSpec  # Bulk prediction's (no Beam needed).
    assert [parse_column(column) for column in ("2", " 3 ", 0, "sentence")] == [
        2, 3, 0, "sentence"]
    for column, message in (("", "not ''"), (True, "not True"), (1.5, "not 1.5"),
                            (-1, "Column index -1 is negative")):
        with pytest.raises(UserInputError, match=message):
            parse_column(column)
    with pytest.raises(UserInputError, match="not ''"):
        GenericProcessor("data", text_a_column="", label_column=1)
    with pytest.raises(UserInputError, match="Column index -2 is negative"):
        InputSpec(text_columns=("text",), key_column=-2)
