"""create_pretraining_data.py end to end: Google's record format, determinism, errors."""

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from absl import flags

from bert_tf.cli import create_pretraining_data as script
from bert_tf.tasks.pretraining import records as pretraining_records
from bert_tf.tasks.pretraining.instances import InstanceBatch
from bert_tf.errors import InvalidArgumentError, UserInputError
from tests.conftest import REPO_ROOT, SAMPLE_VOCAB, SAMPLES
from tests.test_pretraining_instances import _stdlib_corpus_lines

script.define_flags()  # As the command does before absl parses them.

VOCAB = str(SAMPLE_VOCAB)


def _run(*arguments, check=True):
    result = subprocess.run([sys.executable, str(REPO_ROOT / "create_pretraining_data.py"),
                             f"--vocab_file={VOCAB}", *arguments],
                            cwd=REPO_ROOT, capture_output=True, text=True)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def _examples(path):
    return [tf.train.Example.FromString(record.numpy())
            for record in tf.data.TFRecordDataset(path)]


def _layout(example):
    """Feature name -> (kind, length) of one Example."""
    layout = {}
    for name, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        layout[name] = (kind, len(getattr(feature, kind).value))
    return layout


@pytest.fixture(scope="module")
def stdlib_corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_bytes(b"\n".join(_stdlib_corpus_lines()) + b"\n")
    return path


def test_parallel_runs_are_byte_identical(tmp_path, stdlib_corpus):
    outputs = {}
    for name, workers in (("first", 2), ("second", 2), ("single", 1)):
        output = tmp_path / f"{name}.tfrecord"
        _run(f"--input_file={stdlib_corpus}", f"--output_file={output}", "--dupe_factor=2",
             "--max_seq_length=64", f"--num_workers={workers}", "--max_shard_mb=0.1")
        outputs[name] = output.read_bytes()
    assert len(outputs["first"]) > 100_000
    assert outputs["first"] == outputs["second"] == outputs["single"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{name}.tfrecord{suffix}" for name in outputs for suffix in ("", ".metadata.json"))


def test_records_have_googles_features_and_metadata(tmp_path):
    outputs = [tmp_path / "a.tfrecord", tmp_path / "b.tfrecord"]
    _run(f"--input_file={SAMPLES / 'corpus.txt'}",
         f"--output_file={outputs[0]},{outputs[1]}", "--dupe_factor=3", "--num_workers=1")
    counts = [len(_examples(path)) for path in outputs]
    assert abs(counts[0] - counts[1]) <= 1  # Dealt round-robin.
    layouts = {json.dumps(_layout(example), sort_keys=True) for example in _examples(outputs[0])}
    assert layouts == {json.dumps({
        "input_ids": ("int64_list", 128), "input_mask": ("int64_list", 128),
        "segment_ids": ("int64_list", 128), "masked_lm_positions": ("int64_list", 20),
        "masked_lm_ids": ("int64_list", 20), "masked_lm_weights": ("float_list", 20),
        "next_sentence_labels": ("int64_list", 1)}, sort_keys=True)}
    metadata = json.loads((tmp_path / "a.tfrecord.metadata.json").read_text())
    assert metadata["max_seq_length"] == 128 and metadata["max_predictions_per_seq"] == 20
    assert metadata["instances_in_file"] == counts[0]
    assert metadata["instances_total"] == sum(counts)
    assert metadata["vocab_size"] == 382 and len(metadata["vocab_sha256"]) == 64
    pretraining_records.check_metadata(str(outputs[0]), 128, 20, 382)
    with pytest.raises(InvalidArgumentError) as error:
        pretraining_records.check_metadata(str(outputs[0]), 512, 20)
    assert error.value.as_flag() == (
        f"--max_seq_length=512 does not fit {outputs[0]}, which was created with "
        "max_seq_length=128; use 128 or re-create the data.")


def test_googles_records_and_ours_parse_with_the_same_spec(tmp_path):
    # Only located, not imported: it registers absl flags that clash with the script's.
    if importlib.util.find_spec("official") is None:
        pytest.skip("tf-models-official is not installed")
    google, ours = tmp_path / "google.tfrecord", tmp_path / "ours.tfrecord"
    common = [f"--input_file={SAMPLES / 'corpus.txt'}", f"--vocab_file={VOCAB}",
              "--dupe_factor=1", "--max_seq_length=64", "--max_predictions_per_seq=10"]
    subprocess.run([sys.executable, "-m", "official.nlp.data.create_pretraining_data",
                    f"--output_file={google}", *common], check=True, capture_output=True)
    _run(*common[:1], *common[2:], f"--output_file={ours}", "--num_workers=1")
    assert _layout(_examples(google)[0]) == _layout(_examples(ours)[0])
    spec = pretraining_records.feature_spec(64, 10)
    for path in (google, ours):
        parsed = next(iter(tf.data.TFRecordDataset(str(path)).batch(4).map(
            lambda records: tf.io.parse_example(records, spec))))
        assert parsed["input_ids"].shape == (4, 64)
        assert parsed["masked_lm_weights"].dtype == tf.float32


def test_serialization_is_protobufs_deterministic_encoding():
    rng = np.random.default_rng(0)
    batch = InstanceBatch(
        input_ids=rng.integers(0, 300_000, (3, 8)).astype(np.int32),
        input_mask=np.ones((3, 8), np.int32), segment_ids=np.zeros((3, 8), np.int32),
        masked_lm_positions=rng.integers(0, 8, (3, 2)).astype(np.int32),
        masked_lm_ids=rng.integers(0, 300, (3, 2)).astype(np.int32),
        masked_lm_weights=np.array([[1.0, 0.0]] * 3, np.float32),
        next_sentence_labels=np.array([[0], [1], [1]], np.int32))
    for row, record in enumerate(batch.serialize()):
        feature = {}
        for name in ("input_ids", "input_mask", "segment_ids", "masked_lm_positions",
                     "masked_lm_ids", "next_sentence_labels"):
            values = getattr(batch, name)[row].tolist()
            feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=values))
        feature["masked_lm_weights"] = tf.train.Feature(
            float_list=tf.train.FloatList(value=batch.masked_lm_weights[row].tolist()))
        expected = tf.train.Example(features=tf.train.Features(feature=feature))
        assert record == expected.SerializeToString(deterministic=True)


@pytest.fixture
def parse_flags(tmp_path):
    """Parses the script's flags in this process; restores them afterwards."""
    def parse(*arguments):
        flags.FLAGS.unparse_flags()
        flags.FLAGS(["create_pretraining_data.py", f"--vocab_file={VOCAB}",
                     f"--input_file={SAMPLES / 'corpus.txt'}",
                     f"--output_file={tmp_path / 'out.tfrecord'}", "--num_workers=1",
                     *arguments])
    yield parse
    flags.FLAGS.unparse_flags()


@pytest.mark.parametrize("arguments, message", [
    (["--input_file=/nonexistent/*.txt"], "matches no file"),
    (["--max_seq_length=4"], "--max_seq_length=4 must be between 5"),
    (["--max_seq_length=600"], "and the model's max_position_embeddings (512)"),
    (["--masked_lm_prob=0"], "--masked_lm_prob=0.0 must be in (0, 1)"),
    (["--masked_lm_prob=1.5"], "--masked_lm_prob=1.5 must be in (0, 1)"),
    (["--dupe_factor=0"], "--dupe_factor=0 must be at least 1"),
    (["--output_file=/proc/forbidden/out.tfrecord"], "cannot write to '/proc/forbidden'"),
    ([f"--input_file={SAMPLES}"], f"--input_file '{SAMPLES}' is a directory; give a file."),
    ([f"--output_file={SAMPLES}"], f"--output_file '{SAMPLES}' is a directory; give a file "
                                   "name."),
    ([f"--vocab_file={SAMPLES}"], f"Vocabulary file '{SAMPLES}' is a directory."),
    ([f"--bert_config_file={SAMPLES}"], f"--bert_config_file '{SAMPLES}' is a directory"),
])
def test_bad_input_is_refused_before_any_work(parse_flags, tmp_path, arguments, message):
    parse_flags(*arguments)
    with pytest.raises(UserInputError) as error:
        script.run([])
    # As the command prints it (`bert_tf.cli.app`): an argument named as its flag.
    printed = (error.value.as_flag() if isinstance(error.value, InvalidArgumentError)
               else str(error.value))
    assert message in printed
    assert list(tmp_path.iterdir()) == []


def test_empty_input_and_vocab_without_mask(parse_flags, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    parse_flags(f"--input_file={empty}")
    with pytest.raises(UserInputError, match="is empty"):
        script.run([])
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\n")
    parse_flags(f"--vocab_file={vocab}")
    with pytest.raises(UserInputError, match=r"lacks \[MASK\]"):
        script.run([])


def test_existing_output_is_never_overwritten(parse_flags, tmp_path):
    output = tmp_path / "out.tfrecord"
    output.write_text("precious")
    parse_flags()
    with pytest.raises(UserInputError, match="already exists"):
        script.run([])
    assert output.read_text() == "precious"


def test_script_errors_are_one_line_without_traceback(tmp_path):
    result = _run(f"--input_file={tmp_path}/missing.txt", f"--output_file={tmp_path}/o",
                  check=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "matches no file" in result.stderr


def test_varints_match_the_protobuf_documentation():
    # protobuf's encoding guide: 1 is 01, 150 is 96 01, 300 is ac 02.
    from bert_tf.tasks.pretraining import example_encoding
    payload, sizes = example_encoding._packed_varints(np.array([[1, 150, 300]]))
    assert payload == bytes([0x01, 0x96, 0x01, 0xAC, 0x02]) and sizes.tolist() == [5]


@pytest.mark.parametrize("data, message", [
    ("One sentence.\n".encode("utf-16"), "byte 0 (0xff) starts a UTF-16 byte-order mark"),
    ("One sentence.\n".encode("utf-16-le"), "byte 1 (0x00) is a NUL byte"),
    (b"One sentence.\n\x7fELF\x02\x01\x01\x00\x00", "byte 21 (0x00) is a NUL byte"),
])
def test_input_that_is_not_utf8_text_is_refused_before_any_work(parse_flags, tmp_path, data,
                                                                 message):
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(data)
    parse_flags(f"--input_file={corpus}")
    with pytest.raises(UserInputError) as error:
        script.run([])
    assert str(error.value) == (
        f"--input_file '{corpus}' is not UTF-8 text: {message}; convert it to UTF-8 (e.g. "
        "iconv -f UTF-16 -t UTF-8) or leave out binary files.")
    assert list(tmp_path.iterdir()) == [corpus]


def test_bad_byte_after_the_checked_head_stops_the_work_and_leaves_nothing(parse_flags,
                                                                           tmp_path):
    corpus = tmp_path / "corpus.txt"
    text = (SAMPLES / "corpus.txt").read_bytes()
    head = text * (70_000 // len(text) + 1)  # Longer than the 64 KiB checked up front.
    corpus.write_bytes(head + b"caf\xe9 au lait.\n")
    parse_flags(f"--input_file={corpus}", "--dupe_factor=1")
    with pytest.raises(UserInputError, match=f"--input_file '{corpus}' is not UTF-8 text: "
                                             rf"byte {len(head) + 3} \(0xe9\) is not valid"):
        script.run([])
    assert list(tmp_path.iterdir()) == [corpus]  # No output, no temporary file.


def test_files_with_many_unknown_tokens_get_a_warning(parse_flags, tmp_path, caplog):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\ncat\na\nb\nc\nd\n.\n")
    # 20 tokens, 1 of them [UNK] ("zebra"): 5%, not more, so no warning.
    fits = tmp_path / "fits.txt"
    fits.write_text("the cat a b c d . the cat a\nb c d . the cat zebra a b .\n")
    # 7 tokens, 2 of them [UNK] ("sat" and "dog", each one unknown word): 28.6%.
    unknown = tmp_path / "unknown.txt"
    unknown.write_text("the cat sat\nthe cat\n\nthe dog\n")
    parse_flags(f"--vocab_file={vocab}", f"--input_file={fits},{unknown}", "--dupe_factor=1",
                "--max_seq_length=16")
    with caplog.at_level("WARNING"):
        script.run([])
    warnings = [record.getMessage() for record in caplog.records
                if record.levelname == "WARNING"]
    assert warnings == [
        f"{unknown}: 2 of its 7 tokens (28.6%) are [UNK], more than 5%; check that "
        "--vocab_file and --do_lower_case fit this text."]


def test_sample_corpus_with_its_own_vocabulary_gets_no_warning(parse_flags, caplog):
    parse_flags("--dupe_factor=1", "--overwrite_output")
    with caplog.at_level("WARNING"):
        script.run([])
    assert [record for record in caplog.records if "[UNK]" in record.getMessage()] == []


def test_unknown_tokens_are_counted_per_file_across_shards(tmp_path):
    from bert_tf.text import tokenization
    from bert_tf.tasks.pretraining import pipeline as pretraining_pipeline
    from tests.test_pretraining_instances import _config

    lines = _stdlib_corpus_lines()
    files = []
    for index, part in enumerate((lines[:3000], lines[3000:3500], lines[3500:])):
        path = tmp_path / f"part{index}.txt"
        path.write_bytes(b"\n".join(part) + b"\n")
        files.append(str(path))
    # Independent counts: Google's Python tokenizer, line by line.
    python = tokenization.FullTokenizer(VOCAB, do_lower_case=True)
    expected = {}
    for path in files:
        tokens = [token for line in open(path, encoding="utf-8")
                  for token in python.tokenize(line)]
        expected[path] = [len(tokens), tokens.count("[UNK]")]
    # One shard for the corpus, then shards that cut through the files.
    for shard_bytes, few_shards in ((1 << 30, 1), (20_000, None)):
        tokenizer = pretraining_pipeline.Tokenizer(_config())
        shards = list(pretraining_pipeline.iter_shards(files, shard_bytes))
        if few_shards:
            assert len(shards) == few_shards
        else:
            assert len(shards) > len(files)
        for index, (shard_lines, sources) in enumerate(shards):
            assert sum(count for _, count in sources) == len(shard_lines)
            tokenizer.documents(index, shard_lines, sources)
        assert tokenizer.counts_by_file == expected
    assert expected[files[0]][1] > 0  # The stdlib has words the sample vocabulary lacks.


def test_shards_are_interleaved_record_by_record_and_dealt_over_the_outputs(tmp_path,
                                                                            monkeypatch):
    from bert_tf.tasks.pretraining import pipeline as pretraining_pipeline

    # Three shards take turns at once: the fourth and fifth replace the first two as
    # they run out. Records of many sizes (frames cross the 64-byte reads).
    monkeypatch.setattr(pretraining_pipeline, "_OPEN_SHARDS", 3)
    monkeypatch.setattr(pretraining_pipeline, "_READ_BYTES", 64)
    monkeypatch.setattr(pretraining_pipeline, "_WRITE_RECORDS", 2)
    sizes = {"a": 1, "b": 3, "c": 4, "d": 2, "e": 1}
    shard_files = []
    for shard, size in sizes.items():
        path = str(tmp_path / f"{shard}.tfrecord")
        with tf.io.TFRecordWriter(path) as writer:
            for index in range(size):
                writer.write(f"{shard}{index}".encode() * (1 + 37 * index))
        shard_files.append(path)
    outputs = [str(tmp_path / "out-0.tfrecord"), str(tmp_path / "out-1.tfrecord")]
    counts = pretraining_pipeline.interleave_into_outputs(shard_files, outputs)
    # Turns by hand: a0 b0 c0 | (a ends, d in) b1 c1 | d0 b2 c2 | d1 (b ends, e in) c3 |
    # (d ends) e0 (c ends) | (e ends); dealt to outputs 0, 1, 0, 1, ...
    order = ["a0", "b0", "c0", "b1", "c1", "d0", "b2", "c2", "d1", "c3", "e0"]
    records = [name.encode() * (1 + 37 * int(name[1])) for name in order]
    # TFRecordDataset checks both checksums of every record.
    assert [record.numpy() for record in tf.data.TFRecordDataset(outputs[0])] == records[0::2]
    assert [record.numpy() for record in tf.data.TFRecordDataset(outputs[1])] == records[1::2]
    assert counts == [6, 5]


def test_a_cut_off_shard_file_is_an_error_not_lost_records(tmp_path):
    from bert_tf.tasks.pretraining import pipeline as pretraining_pipeline

    path = tmp_path / "shard.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        writer.write(b"complete")
        writer.write(b"cut off")
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(ValueError, match="ends inside a record"):
        pretraining_pipeline.interleave_into_outputs([str(path)], [str(tmp_path / "out")])
