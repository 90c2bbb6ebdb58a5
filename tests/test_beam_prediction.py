"""Bulk prediction as a Beam pipeline (bulk_predict.py, bert_tf.beam.prediction) on
Beam's FnApiRunner with two worker processes: an exported classifier's and NER model's
predictions equal those run_classifier.py and run_ner.py --do_predict wrote for the same
rows, in TSV, CSV and JSON lines alike; a bad row is one error naming its file and
line; the readers keep line numbers through headers, blank lines and quoted breaks."""

import csv
import json
import sys

import numpy as np
import pytest

pytest.importorskip("apache_beam", reason="bulk prediction needs Apache Beam "
                    "(pip install 'bert_tf[beam]'); this environment has none")

from bert_tf.beam import prediction, text_rows  # noqa: E402
from bert_tf.errors import UserInputError  # noqa: E402
from bert_tf.tasks.ner import entity_metrics  # noqa: E402
from tests import test_run_classifier as classifier_runs  # noqa: E402
from tests import test_run_ner as ner_runs  # noqa: E402
from tests.conftest import REPO_ROOT, run_command  # noqa: E402

TWO_WORKERS = ["--runner=FnApiRunner", "--direct_num_workers=2",
               "--direct_running_mode=multi_processing"]


def _bulk_predict(*flags: str) -> str:
    """Runs bulk_predict.py with `flags` on two worker processes; it must succeed.
    Returns its stderr."""
    return run_command([sys.executable, str(REPO_ROOT / "bulk_predict.py"), *flags,
                        *TWO_WORKERS]).stderr


def _predictions(prefix) -> dict:
    """The records of every output file of `prefix`, by key (each key once)."""
    records = {}
    for path in prediction.output_files(str(prefix)):
        with open(path, encoding="utf-8") as reader:
            for line in reader:
                record = json.loads(line)
                assert record["key"] not in records, record["key"]
                records[record["key"]] = record
    return records


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory, model_files):
    """A tiny classifier trained by run_classifier.py, which predicted its 23 test rows
    (`test.tsv`: a header `text answer`, then the rows) and exported itself; returns
    (data folder, output folder, export folder)."""
    root = tmp_path_factory.mktemp("classifier")
    data = classifier_runs._write_task(root / "data", counts=(("train", 32), ("test", 23)))
    output, export = root / "out", root / "export"
    run_command(classifier_runs._command(data, output, model_files, "--do_train",
                                         "--do_predict", "--num_train_epochs=1",
                                         f"--export_dir={export}"))
    return data, output, export


def test_classifier_predictions_equal_run_classifiers_in_every_format(classifier_run,
                                                                      tmp_path):
    data, output, export = classifier_run
    with open(data / "test.tsv", encoding="utf-8") as reader:
        header, *rows = list(csv.reader(reader, delimiter="\t"))
    # The same rows as CSV (every cell quoted) and as JSON lines with a blank line.
    csv_path, json_path = tmp_path / "rows.csv", tmp_path / "rows.jsonl"
    with open(csv_path, "w", encoding="utf-8", newline="") as writer:
        csv.writer(writer, quoting=csv.QUOTE_ALL).writerows([header, *rows])
    json_lines = [json.dumps(dict(zip(header, row))) for row in rows]
    json_path.write_text("\n".join(json_lines[:5] + [""] + json_lines[5:]) + "\n")

    prefix = tmp_path / "predictions" / "part"
    log = _bulk_predict(f"--export_dir={export}", "--text_a_column=text",
                        f"--input_file={data / 'test.tsv'},{csv_path},{json_path}",
                        f"--output_file={prefix}", "--max_batch_size=8", "--num_shards=2")
    assert f"Wrote {3 * len(rows)} predictions to 2 file(s)" in log
    assert [path.name for path in sorted(prefix.parent.iterdir())] == [
        "part-00000-of-00002.jsonl", "part-00001-of-00002.jsonl"]
    records = _predictions(prefix)
    assert len(records) == 3 * len(rows)

    expected = np.loadtxt(output / "test_results.tsv", delimiter="\t")
    labels = json.loads((output / "task_info.json").read_text())["labels"]
    json_line_numbers = [number + (number > 5) for number in range(1, len(rows) + 1)]
    for index, probabilities in enumerate(expected):
        tsv = records[f"{data / 'test.tsv'}:{index + 2}"]  # Line 1 is the header.
        np.testing.assert_allclose(tsv["probabilities"], probabilities, atol=1e-5)
        assert tsv["label"] == labels[int(np.argmax(probabilities))]
        for key in (f"{csv_path}:{index + 2}", f"{json_path}:{json_line_numbers[index]}"):
            np.testing.assert_allclose(records[key]["probabilities"], tsv["probabilities"],
                                       atol=1e-6)
            assert records[key]["label"] == tsv["label"]


def test_ner_tags_equal_run_ners(tmp_path, model_files):
    # Test tags in IOB2, the model's own scheme, so that the files compare as written;
    # every 10th sentence needs two windows.
    data = ner_runs._write_task(tmp_path / "data", counts=(("train", 60), ("test", 20)),
                                test_scheme="iob2")
    output, export = tmp_path / "out", tmp_path / "export"
    run_command(ner_runs._command(data, output, model_files, "--do_train", "--do_predict",
                                  "--num_train_epochs=2", f"--export_dir={export}"))
    # run_ner.py's predictions, by sentence: `word gold predicted` lines.
    sentences = ner_runs.predicted_sentences(output / "test_predictions.txt")
    assert len(sentences) == 20
    texts = tmp_path / "sentences.jsonl"
    texts.write_text("".join(json.dumps({"id": f"s{index}", "text": " ".join(
        word for word, _, _ in sentence)}) + "\n" for index, sentence in enumerate(sentences)))

    prefix = tmp_path / "predictions" / "ner"
    _bulk_predict(f"--export_dir={export}", f"--input_file={texts}", "--text_a_column=text",
                  "--key_column=id", f"--output_file={prefix}", "--max_batch_size=4")
    records = _predictions(prefix)
    assert sorted(records) == sorted(f"s{index}" for index in range(len(sentences)))
    for index, sentence in enumerate(sentences):
        record = records[f"s{index}"]
        assert record["words"] == [word for word, _, _ in sentence]
        assert record["tags"] == [tag for _, _, tag in sentence]
        assert [(entity["type"], entity["start"], entity["end"])
                for entity in record["entities"]] == entity_metrics.get_chunks(record["tags"])
    assert any(record["entities"] for record in records.values())


def test_bad_row_is_one_error_naming_file_and_line(classifier_run, tmp_path):
    _, _, export = classifier_run
    rows = tmp_path / "rows.tsv"
    rows.write_text("text\tid\nthe good mill\ta\n\nbad bread\tb\nthe river\tbank\tc\n")
    prefix = tmp_path / "out" / "part"
    spec = text_rows.InputSpec(text_columns=("text",), key_column="id")
    # Found by a worker (the first row is fine), on Beam's in-process runner.
    with pytest.raises(UserInputError) as raised:
        prediction.predict_files(str(export), str(rows), str(prefix), spec,
                                 ["--runner=FnApiRunner"])
    message = str(raised.value)
    assert len(message.splitlines()) == 1 and "while running" not in message
    assert f"{rows}, line 5: 3 columns, expected 2" in message
    assert not (tmp_path / "out").exists()  # No shards, no temporary files, no folder.


def _rows(tmp_path, name: str, text: str | bytes, **spec) -> list:
    path = tmp_path / name
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    spec = text_rows.InputSpec(**{"text_columns": ("text",), **spec})
    return list(text_rows.read_rows((str(path), text_rows.file_format(str(path), spec)),
                                     spec))


def test_readers_keep_line_numbers_and_keys(tmp_path):
    rows = _rows(tmp_path, "a.csv", '\ufefftext,id\n"one, two",7\n\n"three\nfour",8\n',
                 key_column="id")
    path = tmp_path / "a.csv"
    assert rows == [("7", ("one, two",), f"{path}, line 2"),
                    ("8", ("three\nfour",), f"{path}, line 4")]
    # Indexes without a header; TSV keeps quotes as they are, as run_classifier.py.
    rows = _rows(tmp_path, "b.tsv", 'x\t"quoted"\ny\tz\n', text_columns=(1, "0"))
    path = tmp_path / "b.tsv"
    assert rows == [(f"{path}:1", ('"quoted"', "x"), f"{path}, line 1"),
                    (f"{path}:2", ("z", "y"), f"{path}, line 2")]
    rows = _rows(tmp_path, "c.jsonl", '{"text": "a", "k": 3}\n\n{"text": "b", "k": "x"}\n',
                 key_column="k")
    path = tmp_path / "c.jsonl"
    assert rows == [(3, ("a",), f"{path}, line 1"), ("x", ("b",), f"{path}, line 3")]


@pytest.mark.parametrize("name, text, message", [
    ("a.tsv", "text\nfine\n\xff\xfe\n", "a.tsv, line 3: not UTF-8 text"),
    ("b.tsv", "body\nfine\n", "b.tsv, line 1: column 'text' is not in the header ['body']"),
    ("c.csv", 'text\n"open\n', "c.csv, line 2: unexpected end of data"),
    ("d.jsonl", '{"text": "a"}\n{"text": 5}\n', "d.jsonl, line 2: field 'text' is 5, not a "
     "string"),
    ("e.jsonl", '{"text": "a"}\n[1]\n', "e.jsonl, line 2: a JSON list, not an object"),
    ("f.jsonl", '{"body": "a"}\n', "f.jsonl, line 1: no field 'text'"),
    ("g.txt", "text\n", "g.txt': cannot tell its format from its extension"),
], ids=["not_utf8", "missing_column", "open_quote", "not_a_string", "not_an_object",
        "missing_field", "unknown_extension"])
def test_unreadable_rows_name_file_and_line(tmp_path, name, text, message):
    data = text.encode("latin-1") if name == "a.tsv" else text
    with pytest.raises(UserInputError, match=None) as raised:
        _rows(tmp_path, name, data)
    assert message in str(raised.value)
    assert str(tmp_path / name) in str(raised.value)


def test_model_and_columns_are_checked_before_the_run(classifier_run, tmp_path):
    data, _, export = classifier_run
    (version,) = [path for path in export.iterdir()]
    assert prediction.read_model_info(str(export)) == prediction.read_model_info(str(version))
    model = prediction.read_model_info(str(export))
    assert (model.task, model.inputs) == ("classification", ("text_a",))
    files = [str(data / "test.tsv")]
    with pytest.raises(UserInputError, match="takes text_a, but 2 text column"):
        prediction.check_inputs(files, text_rows.InputSpec(("text", "answer")), model)
    with pytest.raises(UserInputError, match="holds no SavedModel"):
        prediction.read_model_info(str(tmp_path))
    with pytest.raises(UserInputError, match="give field names, not the indexes"):
        text_rows.file_format("x.jsonl", text_rows.InputSpec((0,)))
    (tmp_path / "p-00000-of-00001.jsonl").write_text("")
    with pytest.raises(UserInputError, match="already exists; .*--overwrite_output"):
        prediction.check_output(str(tmp_path / "p"), overwrite=False)
