"""extract_features.py end to end on a tiny model: Google's JSON layout and clean errors."""

import json
import resource
import subprocess
import sys

import pytest

from bert_tf import checkpoints
from bert_tf.configs import BertConfig
from bert_tf.tasks import feature_extraction
from bert_tf.errors import UserInputError
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


def _run(*flags, preexec_fn=None):
    return subprocess.run([sys.executable, str(REPO_ROOT / "extract_features.py"), *flags],
                          cwd=REPO_ROOT, capture_output=True, text=True, preexec_fn=preexec_fn)


def _error_line(result) -> str:
    """The script's one-line error: exit status 1, no traceback."""
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr[-3000:]
    return lines[0]


def test_writes_googles_json_lines(tmp_path, tiny_checkpoint):
    input_file = tmp_path / "input.txt"
    input_file.write_text("The baker opens at five.\nWhere is it? ||| By the river.\n")
    output_file = tmp_path / "out.jsonl"
    output_file.write_text("an earlier run's output\n")
    result = _run(f"--input_file={input_file}", f"--output_file={output_file}",
                  f"--init_checkpoint={tiny_checkpoint}", "--layers=-1,0",
                  "--max_seq_length=12", "--batch_size=1", "--overwrite_output")
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
    assert sorted(path.name for path in tmp_path.iterdir()) == ["input.txt", "out.jsonl"]


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


# The library names its argument, `input_file`; the script passes its flag's name
# (the script's tests below see `--input_file`).
@pytest.mark.parametrize("data, message", [
    (b"", "input_file '{path}' is empty; it needs one text, or `text_a ||| text_b`, per line."),
    ("hello\n".encode("utf-16"), "input_file '{path}' is not UTF-8 text: byte 0 (0xff) "
     "starts a UTF-16 byte-order mark; convert it to UTF-8 (e.g. iconv -f UTF-16 -t "
     "UTF-8) or leave out binary files."),
    (b"a text\n\x89PNG\r\n\x1a\n", "input_file '{path}' is not UTF-8 text: byte 7 (0x89) "
     "is not valid UTF-8; convert it to UTF-8"),
])
def test_input_that_is_empty_or_not_utf8_is_refused(tmp_path, data, message):
    path = tmp_path / "input.txt"
    path.write_bytes(data)
    with pytest.raises(UserInputError) as error:
        feature_extraction.read_examples(str(path))
    assert str(error.value).startswith(message.format(path=path))
    with pytest.raises(UserInputError, match=f"^input_file '{tmp_path}' is a directory"):
        feature_extraction.read_examples(str(tmp_path))


def test_lines_end_at_newlines_only_as_in_googles_reader(tmp_path):
    path = tmp_path / "input.txt"
    path.write_bytes("one\u2028still one\r\n\ntwo ||| pair\n".encode())
    assert [(e.unique_id, e.text_a, e.text_b)
            for e in feature_extraction.read_examples(str(path))] == [
        (0, "one\u2028still one", None), (1, "", None), (2, "two", "pair")]


@pytest.fixture
def common_flags(tmp_path, tiny_checkpoint):
    """Valid flags, with the input file written."""
    (tmp_path / "input.txt").write_text("The baker opens at five.\n")
    return [f"--input_file={tmp_path / 'input.txt'}", f"--init_checkpoint={tiny_checkpoint}",
            "--max_seq_length=12", "--layers=-1"]


def test_existing_output_is_never_replaced_without_overwrite_output(tmp_path, common_flags):
    output = tmp_path / "out.jsonl"
    output.write_text("precious")
    result = _run(*common_flags, f"--output_file={output}")
    assert _error_line(result) == (f"error: --output_file '{output}' already exists; choose "
                                   "another name or pass --overwrite_output.")
    assert output.read_text() == "precious"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["input.txt", "out.jsonl"]


# An --output_file that is a directory is refused by the same check as an existing one
# (test_file_checks.py tests it); here, one subprocess per way the script is wired.
@pytest.mark.parametrize("case", ["empty input", "output folder under a file",
                                  "vocab larger than model"])
def test_bad_inputs_and_outputs_are_refused_before_work(tmp_path, common_flags, case):
    output = tmp_path / "out.jsonl"
    flags = [*common_flags, f"--output_file={output}"]
    if case == "empty input":
        (tmp_path / "input.txt").write_text("")
        expected = (f"error: --input_file '{tmp_path / 'input.txt'}' is empty; it needs one "
                    "text, or `text_a ||| text_b`, per line.")
    elif case == "output folder under a file":
        # Tests run as root, which writes through chmod: a folder under a file is
        # what no one can write.
        (tmp_path / "file").write_text("")
        flags[-1] = f"--output_file={tmp_path / 'file' / 'sub' / 'out.jsonl'}"
        expected = (f"error: --output_file: cannot write to '{tmp_path / 'file' / 'sub'}' "
                    f"({tmp_path / 'file'} is not a directory); choose a folder you can "
                    "write to.")
    else:
        vocab = tmp_path / "vocab.txt"
        tokens = SAMPLE_VOCAB.read_text().splitlines() + [f"[extra{i}]" for i in range(3)]
        vocab.write_text("".join(token + "\n" for token in tokens))
        flags.append(f"--vocab_file={vocab}")
        expected = (f"error: --vocab_file {vocab} has 385 tokens but the model "
                    f"({tiny_checkpoint_dir(common_flags)}/bert_config.json) has only "
                    "vocab_size=382 embedding rows: the vocabulary does not belong to this "
                    "model.")
    before = sorted(path.name for path in tmp_path.iterdir())
    line = _error_line(_run(*flags))
    assert line.startswith(expected)
    assert sorted(path.name for path in tmp_path.iterdir()) == before


def tiny_checkpoint_dir(flags) -> str:
    """The folder of --init_checkpoint in `flags`."""
    prefix = next(flag for flag in flags if flag.startswith("--init_checkpoint="))
    return prefix.split("=", 1)[1].rsplit("/", 1)[0]


def test_output_too_large_for_the_file_system_is_one_line_and_leaves_no_file(
        tmp_path, common_flags):
    (tmp_path / "input.txt").write_text("The baker opens at five.\n" * 20)
    output = tmp_path / "out.jsonl"
    output.write_text("precious")
    limit = 8192  # Bytes; the JSON of one 12-token example is larger.

    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = _run(*common_flags, f"--output_file={output}", "--overwrite_output",
                  preexec_fn=limit_file_size)
    line = _error_line(result)
    assert line.startswith(f"error: {output}.tmp-")
    assert line.endswith(": File too large; the file system or the process's file-size "
                         "limit (ulimit -f) allows no larger file; write elsewhere or raise "
                         "the limit.")
    assert output.read_text() == "precious"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["input.txt", "out.jsonl"]
