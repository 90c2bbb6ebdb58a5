"""extract_features.py end to end on a tiny model: Google's JSON layout and clean errors."""

import json
import subprocess
import sys

import pytest

from bert_tf import checkpoints
from bert_tf.configs import BertConfig
from bert_tf.modeling import BertModel
from tests.conftest import REPO_ROOT, SAMPLE_VOCAB, SAMPLES


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A random tiny model saved in Google's layout, config and vocab beside it."""
    directory = tmp_path_factory.mktemp("tiny_bert")
    config = BertConfig.from_json_file(str(SAMPLES / "bert_config.json"))
    config.to_json_file(str(directory / "bert_config.json"))
    (directory / "vocab.txt").write_bytes(SAMPLE_VOCAB.read_bytes())
    return checkpoints.save_google_checkpoint(BertModel(config), str(directory / "bert_model.ckpt"))


def _run(*flags):
    return subprocess.run([sys.executable, str(REPO_ROOT / "extract_features.py"), *flags],
                          cwd=REPO_ROOT, capture_output=True, text=True)


def test_writes_googles_json_lines(tmp_path, tiny_checkpoint):
    input_file = tmp_path / "input.txt"
    input_file.write_text("The baker opens at five.\nWhere is it? ||| By the river.\n")
    output_file = tmp_path / "out.jsonl"
    result = _run(f"--input_file={input_file}", f"--output_file={output_file}",
                  f"--init_checkpoint={tiny_checkpoint}", "--layers=-1,0",
                  "--max_seq_length=12", "--batch_size=1")
    assert result.returncode == 0, result.stderr
    first, second = [json.loads(line) for line in output_file.read_text().splitlines()]
    assert first["linex_index"] == 0 and second["linex_index"] == 1
    assert list(first) == ["linex_index", "features"]
    tokens = [feature["token"] for feature in second["features"]]
    assert tokens[0] == "[CLS]" and tokens.count("[SEP]") == 2 and tokens[-1] == "[SEP]"
    layers = first["features"][0]["layers"]
    assert [layer["index"] for layer in layers] == [-1, 0]
    assert list(layers[0]) == ["index", "values"] and len(layers[0]["values"]) == 64
    assert all(round(v, 6) == v for v in layers[0]["values"])
    assert not (tmp_path / "out.jsonl.tmp").exists()


@pytest.mark.parametrize("flag, message", [
    ("--layers=-1,x", "--layers='-1,x' must be comma-separated integers"),
    ("--layers=-3", "--layers='-3': [-3] outside the model's 2 layers"),
    ("--max_seq_length=500", "--max_seq_length=500 must be between 3 and the model's "
                             "max_position_embeddings"),
])
def test_bad_flags_give_one_clear_line(tmp_path, tiny_checkpoint, flag, message):
    input_file = tmp_path / "input.txt"
    input_file.write_text("hello\n")
    result = _run(f"--input_file={input_file}", f"--output_file={tmp_path / 'out.jsonl'}",
                  f"--init_checkpoint={tiny_checkpoint}", flag)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert message in result.stderr, result.stderr
    assert not (tmp_path / "out.jsonl").exists()


def test_missing_input_file_is_named(tmp_path, tiny_checkpoint):
    result = _run(f"--input_file={tmp_path / 'nope.txt'}", f"--output_file={tmp_path / 'o'}",
                  f"--init_checkpoint={tiny_checkpoint}", "--layers=-1")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "--input_file" in result.stderr and "nope.txt" in result.stderr
