"""create_pretraining_data.py --runner=...: the Beam pipeline on the FnApiRunner, against
Google's record format and the local path's statistics."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from bert_tf.tasks.pretraining import records as pretraining_records
from tests.conftest import REPO_ROOT, SAMPLE_VOCAB
from tests.test_pretraining_instances import _stdlib_corpus_lines

pytest.importorskip("apache_beam", reason="apache-beam is not installed (make test "
                    "installs it: pip install 'bert_tf[beam]')")

TWO_WORKERS = ("--runner=FnApiRunner", "--direct_num_workers=2",
               "--direct_running_mode=multi_processing")
MAX_SEQ_LENGTH, MAX_PREDICTIONS = 64, 10


def _run(*arguments, check=True):
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "create_pretraining_data.py"),
         f"--vocab_file={SAMPLE_VOCAB}", f"--max_seq_length={MAX_SEQ_LENGTH}",
         f"--max_predictions_per_seq={MAX_PREDICTIONS}", "--dupe_factor=3",
         "--max_shard_mb=0.03", *arguments],
        cwd=REPO_ROOT, capture_output=True, text=True)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Four files of documents of 20 lines (real text: Python's standard library)."""
    folder = tmp_path_factory.mktemp("corpus")
    lines = [line for line in _stdlib_corpus_lines() if line]
    documents = [lines[start:start + 20] for start in range(0, len(lines), 20)]
    paths = []
    for index in range(4):
        path = folder / f"part-{index}.txt"
        path.write_bytes(b"".join(b"\n".join(document) + b"\n\n"
                                  for document in documents[index::4]))
        paths.append(path)
    return paths, len(documents)


def _parsed(paths):
    spec = pretraining_records.feature_spec(MAX_SEQ_LENGTH, MAX_PREDICTIONS)
    dataset = tf.data.TFRecordDataset([str(path) for path in paths]).batch(100_000).map(
        lambda records: tf.io.parse_example(records, spec))
    return {name: value.numpy() for name, value in next(iter(dataset)).items()}


def _statistics(parsed, documents):
    lengths = parsed["input_mask"].sum(axis=1)
    return {"instances_per_document": len(lengths) / documents,
            "random_next": parsed["next_sentence_labels"].mean(),
            "masked_fraction": parsed["masked_lm_weights"].sum() / (lengths - 3).sum()}


@pytest.fixture(scope="module")
def runs(corpus, tmp_path_factory):
    """The local path, Beam in this process and Beam with two worker processes."""
    paths, _ = corpus
    folder = tmp_path_factory.mktemp("records")
    inputs = "--input_file=" + ",".join(str(path) for path in paths)
    outputs = {}
    for name, arguments in (("local", ("--num_workers=2",)),
                            ("beam", ("--runner=FnApiRunner",)),
                            ("beam_two_workers", TWO_WORKERS)):
        outputs[name] = [folder / f"{name}-{index}.tfrecord" for index in range(2)]
        result = _run(inputs, "--output_file=" + ",".join(map(str, outputs[name])),
                      *arguments)
        outputs[name + "_log"] = result.stderr
    return outputs


def test_records_parse_with_googles_spec_and_carry_metadata(runs, corpus):
    parsed = _parsed(runs["beam_two_workers"])
    ids, mask, segments = parsed["input_ids"], parsed["input_mask"], parsed["segment_ids"]
    # The text before masking (a random replacement may be any token, [SEP] too).
    rows, slots = np.nonzero(parsed["masked_lm_weights"])
    ids[rows, parsed["masked_lm_positions"][rows, slots]] = parsed["masked_lm_ids"][rows, slots]
    vocab = [line.strip() for line in SAMPLE_VOCAB.read_text().splitlines()]
    cls, sep = vocab.index("[CLS]"), vocab.index("[SEP]")
    lengths = mask.sum(axis=1)
    assert (ids[:, 0] == cls).all()
    assert (ids[np.arange(len(ids)), lengths - 1] == sep).all()
    assert ((ids == sep) & (mask == 1)).sum(axis=1).tolist() == [2] * len(ids)
    assert ((segments == 1) <= (mask == 1)).all()  # Segment B lies inside the input.
    counts = [sum(1 for _ in tf.data.TFRecordDataset(str(path)))
              for path in runs["beam_two_workers"]]
    for path, count in zip(runs["beam_two_workers"], counts):
        metadata = json.loads(path.with_name(path.name + ".metadata.json").read_text())
        assert metadata["instances_in_file"] == count
        assert metadata["instances_total"] == sum(counts)
        assert metadata["documents"] == corpus[1]
        pretraining_records.check_metadata(str(path), MAX_SEQ_LENGTH, MAX_PREDICTIONS)
    assert min(counts) > 0.3 * sum(counts)  # Every output gets its share of buckets.
    # The workers' Beam counters add up to what the files hold.
    counters = dict(part.split("=") for part in re.search(
        r"Beam counters: (.*)", runs["beam_two_workers_log"]).group(1).split(", "))
    masked = sum(int(weights.sum()) for weights in parsed["masked_lm_weights"])
    assert {name: int(value) for name, value in counters.items()} == {
        "documents": corpus[1], "instances": sum(counts), "masked": masked,
        "random_next": int(parsed["next_sentence_labels"].sum()),
        "tokens": int(parsed["input_mask"].sum()),
        "eligible": int((parsed["input_mask"].sum(axis=1) - 3).sum()),
        "sentences": json.loads(runs["beam_two_workers"][0].with_name(
            runs["beam_two_workers"][0].name + ".metadata.json").read_text())["sentences"]}


def test_the_same_seed_gives_the_same_bytes_on_one_or_two_workers(runs):
    for one, two in zip(runs["beam"], runs["beam_two_workers"]):
        assert one.read_bytes() == two.read_bytes()
    assert runs["beam"][0].read_bytes() != runs["local"][0].read_bytes()


def test_statistics_match_the_local_path(runs, corpus):
    documents = corpus[1]
    local = _statistics(_parsed(runs["local"]), documents)
    beam = _statistics(_parsed(runs["beam"]), documents)
    # About 3,000 instances a side: the random-next fraction's standard error is about
    # 0.01, the masked fraction's about 0.002.
    assert beam["instances_per_document"] == pytest.approx(local["instances_per_document"],
                                                           rel=0.05)
    assert beam["random_next"] == pytest.approx(local["random_next"], abs=0.04)
    assert beam["masked_fraction"] == pytest.approx(local["masked_fraction"], abs=0.01)


def test_each_instance_masks_as_many_tokens_as_googles_rule(runs):
    parsed = _parsed(runs["beam"])
    # Google's rule counts [CLS] and the [SEP]s in the length (though it never masks
    # them); Python's round() halves to even.
    expected = [min(MAX_PREDICTIONS, max(1, int(round(length * 0.15))))
                for length in parsed["input_mask"].sum(axis=1).tolist()]
    assert parsed["masked_lm_weights"].sum(axis=1).astype(int).tolist() == expected


def test_a_bad_byte_found_by_a_worker_is_one_line_and_leaves_nothing(tmp_path, corpus):
    paths, _ = corpus
    bad = tmp_path / "bad.txt"
    head = paths[0].read_bytes()  # Longer than the 64 KiB checked before the run.
    bad.write_bytes(head + b"caf\xe9 au lait.\n")
    result = _run(f"--input_file={bad}", f"--output_file={tmp_path / 'out.tfrecord'}",
                  "--runner=FnApiRunner", check=False)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: --input_file '{bad}' is not UTF-8 text: byte {len(head) + 3} (0xe9) is "
        "not valid UTF-8; convert it to UTF-8 (e.g. iconv -f UTF-16 -t UTF-8) or leave out "
        "binary files.")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bad.txt"]


def test_unknown_arguments_without_a_runner_are_refused(tmp_path, corpus):
    result = _run(f"--input_file={corpus[0][0]}", f"--output_file={tmp_path / 'o'}",
                  "--direct_num_workers=2", check=False)
    assert result.stderr.strip().splitlines()[-1] == (
        "error: Unknown arguments --direct_num_workers=2: flags this command does not "
        "take (Beam's options need --runner).")
