"""`save_hugging_face` against `transformers` (and keras-hub): every head loads into its
transformers class with no missing or unexpected weight and gives the same outputs,
the tokenizer the same ids as Google's, the labels and the config survive, and
`load_checkpoint` reads the folder back exactly."""

import json
import os

import keras
import numpy as np
import pytest

from bert_tf import checkpoints
from bert_tf.configs import ACTIVATIONS, BertConfig
from bert_tf.errors import InvalidArgumentError
from bert_tf.modeling import (BertClassifier, BertCrfTokenClassifier, BertModel,
                              BertPretrainer, BertSpanExtractor, BertTokenClassifier)
from bert_tf.text import tokenization
from tests.conftest import SAMPLE_VOCAB, sample_vocab_config, write_vocab
from tests.test_run_pretraining import records  # noqa: F401 (a fixture)

HEADS = {
    "BertModel": lambda config: BertModel(config),
    "BertPretrainer": lambda config: BertPretrainer(config),
    "BertClassifier": lambda config: BertClassifier(config, 3),
    "BertTokenClassifier": lambda config: BertTokenClassifier(config, 5),
    "BertCrfTokenClassifier": lambda config: BertCrfTokenClassifier(config, 5),
    "BertSpanExtractor": lambda config: BertSpanExtractor(config),
}
# Heads whose transformers class has no pooler.
WITHOUT_POOLER = ("BertTokenClassifier", "BertCrfTokenClassifier", "BertSpanExtractor")
EXPORTED_FILES = ["config.json", "model.safetensors", "special_tokens_map.json",
                  "tokenizer_config.json", "vocab.txt"]


@pytest.fixture
def torch():
    """torch, seeded; the test is skipped, saying why, without torch and transformers."""
    torch = pytest.importorskip("torch", reason="torch is not installed (make test "
                                "installs it)")
    pytest.importorskip("transformers", reason="transformers is not installed (make test "
                        "installs it)")
    torch.manual_seed(0)
    return torch


def _config(hidden_act: str = "gelu") -> BertConfig:
    """A tiny BERT over the sample vocabulary."""
    values = sample_vocab_config().to_dict()
    return BertConfig.from_dict({**values, "hidden_act": hidden_act})


def _randomize(model, seed: int = 0) -> None:
    """Gives every weight, biases and LayerNorm included, random values (fresh ones
    are zeros and ones in places, which would hide a misplaced weight)."""
    rng = np.random.default_rng(seed)
    for variable in checkpoints.google_variable_map(model).values():
        variable.assign(rng.normal(0.0, 0.3, variable.shape).astype("float32"))


def _inputs(config: BertConfig, seed: int = 1) -> dict[str, np.ndarray]:
    """Three random sequences of lengths 9, 6 and 3, padded to 9, two segments."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, config.vocab_size, (3, 9)).astype(np.int32)
    mask = (np.arange(9)[None] < np.array([[9], [6], [3]])).astype(np.int32)
    segments = (np.arange(9)[None] >= np.array([[5], [4], [2]])).astype(np.int32) * mask
    return {"input_ids": ids * mask, "input_mask": mask, "segment_ids": segments}


def _hf_outputs(torch, hf_model, inputs):
    """A transformers model's outputs on `inputs` (numpy ids)."""
    with torch.no_grad():
        return hf_model(input_ids=torch.tensor(inputs["input_ids"]).long(),
                        attention_mask=torch.tensor(inputs["input_mask"]).long(),
                        token_type_ids=torch.tensor(inputs["segment_ids"]).long())


def _load(directory, architecture: str):
    """`transformers.<architecture>.from_pretrained(directory)`, checking that no weight
    was missing, unexpected or of another shape."""
    import transformers

    hf_model, info = getattr(transformers, architecture).from_pretrained(
        str(directory), output_loading_info=True)
    assert {key: value for key, value in info.items() if value} == {}
    return hf_model.eval()


def _expected_and_actual(torch, name: str, model, hf_model, inputs) -> list[tuple]:
    """(transformers', bert_tf's) outputs of each head, at the positions both compute:
    every real (unpadded) position of sequence outputs."""
    mask = inputs["input_mask"][..., None]
    hf = _hf_outputs(torch, hf_model, inputs)
    if name == "BertModel":
        ours = model(inputs)
        return [(hf.last_hidden_state.numpy() * mask, ours["sequence_output"].numpy() * mask),
                (hf.pooler_output.numpy(), ours["pooled_output"].numpy())]
    if name == "BertPretrainer":
        positions = np.array([[1, 4, 8], [0, 2, 5], [1, 2, 0]], np.int32)
        ours = model({**inputs, "masked_lm_positions": positions})
        gathered = np.take_along_axis(hf.prediction_logits.numpy(), positions[..., None],
                                      axis=1)
        return [(gathered, ours["masked_lm_logits"].numpy()),
                (hf.seq_relationship_logits.numpy(), ours["next_sentence_logits"].numpy())]
    if name == "BertSpanExtractor":
        ours, real = model(inputs), mask[..., 0]
        return [(hf.start_logits.numpy() * real, ours["start_logits"].numpy() * real),
                (hf.end_logits.numpy() * real, ours["end_logits"].numpy() * real)]
    if name == "BertClassifier":
        return [(hf.logits.numpy(), model(inputs)["logits"].numpy())]
    extra = {"label_weights": inputs["input_mask"].astype(np.float32)}
    return [(hf.logits.numpy() * mask, model({**inputs, **extra})["logits"].numpy() * mask)]


@pytest.mark.parametrize("hidden_act", ["gelu", "gelu_exact"])
@pytest.mark.parametrize("name", list(HEADS))
def test_every_head_loads_into_transformers_with_the_same_outputs(tmp_path, torch, name,
                                                                  hidden_act):
    config = _config(hidden_act)
    keras.utils.set_random_seed(0)
    model = HEADS[name](config)
    _randomize(model)
    directory = tmp_path / "hf"
    assert checkpoints.save_hugging_face(model, str(directory), vocab_file=str(SAMPLE_VOCAB),
                                         do_lower_case=True) == str(directory)
    crf = name == "BertCrfTokenClassifier"
    assert sorted(os.listdir(directory)) == sorted(
        EXPORTED_FILES + (["crf_transitions.safetensors"] if crf else []))
    assert sorted(os.listdir(tmp_path)) == ["hf"]  # No temporary folder left.
    written = json.loads((directory / "config.json").read_text())
    assert written["architectures"] == [model.hugging_face_architecture]
    assert written["hidden_act"] == {"gelu": "gelu_new", "gelu_exact": "gelu"}[hidden_act]

    hf_model = _load(directory, model.hugging_face_architecture)
    assert hf_model.config.hidden_act == written["hidden_act"]
    assert (hf_model.config.layer_norm_eps, hf_model.dtype) == (1e-12, torch.float32)
    for expected, actual in _expected_and_actual(torch, name, model, hf_model,
                                                 _inputs(config)):
        np.testing.assert_allclose(actual, expected, atol=1e-5, rtol=0)

    # bert_tf reads the folder back: the same weights (but the pooler of the heads
    # whose transformers class has none), the CRF included.
    fresh = HEADS[name](BertConfig.from_json_file(str(directory / "config.json")))
    assert fresh.config == config
    missing = ("bert/pooler/",) if name in WITHOUT_POOLER else ()
    report = checkpoints.load_checkpoint(fresh, str(directory), initialize_missing=missing)
    assert report.unused == []
    assert report.initialized == (["bert/pooler/dense/kernel", "bert/pooler/dense/bias"]
                                  if missing else [])
    originals = checkpoints.google_variable_map(model)
    for variable_name, variable in checkpoints.google_variable_map(fresh).items():
        if not (missing and variable_name.startswith(missing)):
            np.testing.assert_array_equal(variable.numpy(), originals[variable_name].numpy(),
                                          err_msg=variable_name)


def test_the_masked_lm_decoder_is_tied_to_the_word_embeddings(tmp_path, torch):
    from safetensors.numpy import load_file

    model = BertPretrainer(_config())
    _randomize(model)
    checkpoints.save_hugging_face(model, str(tmp_path / "hf"), vocab_file=str(SAMPLE_VOCAB),
                                  do_lower_case=True)
    names = load_file(str(tmp_path / "hf" / "model.safetensors"))
    assert not [name for name in names if name.startswith("cls.predictions.decoder")]
    hf_model = _load(tmp_path / "hf", "BertForPreTraining")
    decoder = hf_model.cls.predictions.decoder
    np.testing.assert_array_equal(decoder.weight.detach().numpy(),
                                  model.bert.embeddings.word_embeddings.numpy())
    np.testing.assert_array_equal(decoder.bias.detach().numpy(),
                                  model.masked_lm.output_bias.numpy())


def test_crf_weights_lie_beside_the_model_under_pytorch_crf_names(tmp_path, torch, caplog):
    from safetensors.numpy import load_file

    model = BertCrfTokenClassifier(_config(), 5)
    _randomize(model)
    with caplog.at_level("WARNING"):
        checkpoints.save_hugging_face(model, str(tmp_path / "hf"),
                                      vocab_file=str(SAMPLE_VOCAB), do_lower_case=True)
    assert "transformers has no CRF" in caplog.text
    crf = load_file(str(tmp_path / "hf" / "crf_transitions.safetensors"))
    assert sorted(crf) == ["end_transitions", "start_transitions", "transitions"]
    for name in crf:  # transitions [from, to], as both CRFs hold them.
        np.testing.assert_array_equal(crf[name], getattr(model.crf, name).numpy(), name)
    assert not [name for name in load_file(str(tmp_path / "hf" / "model.safetensors"))
                if "crf" in name or "transitions" in name]
    # Read back, the CRF decodes the same tags.
    fresh = BertCrfTokenClassifier(_config(), 5)
    checkpoints.load_checkpoint(fresh, str(tmp_path / "hf"),
                                initialize_missing=("bert/pooler/",))
    inputs = _inputs(fresh.config)
    inputs["label_weights"] = inputs["input_mask"]
    np.testing.assert_array_equal(fresh(inputs)["tags"].numpy(), model(inputs)["tags"].numpy())


def test_labels_and_config_round_trip(tmp_path, torch):
    import transformers

    config = _config("gelu_exact")
    model = BertClassifier(config, 3)
    checkpoints.save_hugging_face(model, str(tmp_path / "hf"), vocab_file=str(SAMPLE_VOCAB),
                                  do_lower_case=True, label_list=["neg", "pos", "neutral"])
    written = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert written["id2label"] == {"0": "neg", "1": "pos", "2": "neutral"}
    assert written["label2id"] == {"neg": 0, "pos": 1, "neutral": 2}
    assert written["num_labels"] == 3 and written["model_type"] == "bert"
    hf_config = transformers.AutoConfig.from_pretrained(str(tmp_path / "hf"))
    assert hf_config.id2label == {0: "neg", 1: "pos", 2: "neutral"}
    assert hf_config.label2id == {"neg": 0, "pos": 1, "neutral": 2}
    assert BertConfig.from_json_file(str(tmp_path / "hf" / "config.json")) == config
    auto = transformers.AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "hf"))
    assert type(auto).__name__ == "BertForSequenceClassification"

    # Without labels, transformers' default names; one output is a regression.
    checkpoints.save_hugging_face(BertClassifier(config, 1), str(tmp_path / "score"),
                                  vocab_file=str(SAMPLE_VOCAB), do_lower_case=True)
    written = json.loads((tmp_path / "score" / "config.json").read_text())
    assert written["id2label"] == {"0": "LABEL_0"} and written["problem_type"] == "regression"


@pytest.mark.parametrize("hidden_act", ACTIVATIONS)
def test_the_config_reads_back_and_names_an_activation_transformers_has(hidden_act):
    config = BertConfig(vocab_size=40, hidden_act=hidden_act, layer_norm_eps=1e-7)
    values = config.to_hugging_face_dict()
    assert values["model_type"] == "bert" and values["layer_norm_eps"] == 1e-7
    assert BertConfig.from_dict(json.loads(json.dumps(values))) == config
    activations = pytest.importorskip("transformers.activations", reason="transformers is "
                                      "not installed (make test installs it)")
    assert values["hidden_act"] in activations.ACT2FN


@pytest.mark.parametrize("do_lower_case", [True, False])
def test_transformers_tokenizer_gives_googles_ids(tmp_path, torch, do_lower_case):
    import transformers

    vocab = write_vocab(tmp_path, [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "Hello", "héllo", "HELLO",
        "world", "World", "cafe", "café", "Café", "naive", "naïve", "##s", "##ed", ",", "!",
        "東", "京", "the", "The", "ü", "u", "want", "##want", "un", "runn", "##ing", "."])
    model = BertModel(BertConfig(vocab_size=40, hidden_size=8, num_hidden_layers=1,
                                 num_attention_heads=2, intermediate_size=8))
    checkpoints.save_hugging_face(model, str(tmp_path / "hf"), vocab_file=vocab,
                                  do_lower_case=do_lower_case)
    hf_tokenizer = transformers.BertTokenizer.from_pretrained(str(tmp_path / "hf"))
    assert hf_tokenizer.model_max_length == model.config.max_position_embeddings
    auto = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "hf"))
    ours = tokenization.FullTokenizer(vocab, do_lower_case=do_lower_case)
    for text in ["Héllo World, café!", "HELLO naïve Café東京", "héllo\x00 ∫ Hello",
                 "unwanted running\u00a0worlds", "The  Ü u\tworld.\u200b hellos"]:
        expected = ours.convert_tokens_to_ids(["[CLS]", *ours.tokenize(text), "[SEP]"])
        assert hf_tokenizer(text)["input_ids"] == expected, text
        assert auto(text)["input_ids"] == expected, text
    pair = hf_tokenizer("Hello world", "the café")
    assert pair["input_ids"] == ours.convert_tokens_to_ids(
        ["[CLS]", *ours.tokenize("Hello world"), "[SEP]", *ours.tokenize("the café"), "[SEP]"])
    assert pair["token_type_ids"] == [0] * 4 + [1] * 3


def test_a_folder_holding_files_is_refused_unless_overwrite(tmp_path):
    model = BertModel(_config())
    target = tmp_path / "hf"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    save = lambda **options: checkpoints.save_hugging_face(  # noqa: E731
        model, str(target), vocab_file=str(SAMPLE_VOCAB), do_lower_case=True, **options)
    with pytest.raises(InvalidArgumentError, match="holds files already"):
        save()
    assert sorted(os.listdir(tmp_path)) == ["hf"] and os.listdir(target) == ["notes.txt"]

    save(overwrite=True)
    assert sorted(os.listdir(target)) == EXPORTED_FILES
    assert sorted(os.listdir(tmp_path)) == ["hf"]  # The old folder is gone, no temporary.

    empty = tmp_path / "empty"
    empty.mkdir()
    checkpoints.save_hugging_face(model, str(empty), vocab_file=str(SAMPLE_VOCAB),
                                  do_lower_case=True)
    assert sorted(os.listdir(empty)) == EXPORTED_FILES
    (tmp_path / "file").write_text("")
    with pytest.raises(InvalidArgumentError, match="is a file"):
        checkpoints.save_hugging_face(model, str(tmp_path / "file"),
                                      vocab_file=str(SAMPLE_VOCAB), do_lower_case=True)


@pytest.mark.parametrize("model_fn, label_list, message", [
    (lambda config: BertClassifier(config, 3), ["a", "b"], "one label per output"),
    (lambda config: BertClassifier(config, 2), ["a", "a"], "distinct strings"),
    (lambda config: BertModel(config), ["a", "b"], "only for a classifier"),
])
def test_labels_that_do_not_fit_are_refused_before_anything_is_written(
        tmp_path, model_fn, label_list, message):
    with pytest.raises(InvalidArgumentError, match=message):
        checkpoints.save_hugging_face(model_fn(_config()), str(tmp_path / "hf"),
                                      vocab_file=str(SAMPLE_VOCAB), do_lower_case=True,
                                      label_list=label_list)
    assert os.listdir(tmp_path) == []


def test_a_vocabulary_larger_than_the_model_is_refused(tmp_path):
    small = BertModel(BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=1,
                                 num_attention_heads=2, intermediate_size=8))
    with pytest.raises(InvalidArgumentError, match="more than the model's vocab_size"):
        checkpoints.save_hugging_face(small, str(tmp_path / "hf"),
                                      vocab_file=str(SAMPLE_VOCAB), do_lower_case=True)


def test_real_minilm_exported_gives_the_same_outputs_in_transformers(tmp_path, torch,
                                                                     minilm_dir):
    config = BertConfig.from_json_file(str(minilm_dir / "config.json"))
    assert config.hidden_act == "gelu_exact"
    model = BertModel(config)
    checkpoints.load_checkpoint(model, str(minilm_dir))
    checkpoints.save_hugging_face(model, str(tmp_path / "hf"),
                                  vocab_file=str(minilm_dir / "vocab.txt"), do_lower_case=True)
    hf_model = _load(tmp_path / "hf", "BertModel")
    tokenizer = tokenization.FullTokenizer(str(minilm_dir / "vocab.txt"), do_lower_case=True)
    texts = ["The bakery on the square was wonderful.", "Ünïcödé and numbers 1234!"]
    rows = [tokenizer.convert_tokens_to_ids(["[CLS]", *tokenizer.tokenize(t), "[SEP]"])
            for t in texts]
    length = max(map(len, rows))
    ids = np.array([row + [0] * (length - len(row)) for row in rows], np.int32)
    inputs = {"input_ids": ids, "input_mask": (ids > 0).astype(np.int32),
              "segment_ids": np.zeros_like(ids)}
    ours, hf = model(inputs), _hf_outputs(torch, hf_model, inputs)
    mask = inputs["input_mask"][..., None]
    np.testing.assert_allclose(ours["sequence_output"].numpy() * mask,
                               hf.last_hidden_state.numpy() * mask, atol=1e-5, rtol=0)
    np.testing.assert_allclose(ours["pooled_output"].numpy(), hf.pooler_output.numpy(),
                               atol=1e-5, rtol=0)


def test_keras_hub_reads_the_exported_folder(tmp_path):
    keras_hub = pytest.importorskip("keras_hub", reason="keras-hub is not installed")
    # keras-hub's BERT computes Google's tanh GELU whatever config.json says.
    config = _config("gelu")
    keras.utils.set_random_seed(0)
    model = BertModel(config)
    _randomize(model)
    checkpoints.save_hugging_face(model, str(tmp_path / "hf"), vocab_file=str(SAMPLE_VOCAB),
                                  do_lower_case=True)
    backbone = keras_hub.models.BertBackbone.from_preset(str(tmp_path / "hf"))
    inputs = _inputs(config)
    theirs = backbone({"token_ids": inputs["input_ids"], "segment_ids": inputs["segment_ids"],
                       "padding_mask": inputs["input_mask"]})
    ours = model(inputs)
    mask = inputs["input_mask"][..., None]
    np.testing.assert_allclose(np.asarray(theirs["sequence_output"]) * mask,
                               ours["sequence_output"].numpy() * mask, atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.asarray(theirs["pooled_output"]),
                               ours["pooled_output"].numpy(), atol=1e-5, rtol=0)
    # Its tokenizer reads vocab.txt and the casing (it keeps accents; Google strips them
    # when lower-casing).
    tokenizer = keras_hub.models.BertTokenizer.from_preset(str(tmp_path / "hf"))
    ours = tokenization.FullTokenizer(str(SAMPLE_VOCAB), do_lower_case=True)
    text = "The bakery on the Square was wonderful"
    assert np.asarray(tokenizer(text)).tolist() == ours.convert_tokens_to_ids(
        ours.tokenize(text))


# ------------------------------------------------------- run_classifier.py --export_hf_dir


def test_run_classifier_exports_a_model_transformers_predicts_with(tmp_path, torch,
                                                                   model_files):
    import transformers

    from tests.conftest import run_command
    from tests.test_run_classifier import _command, _write_task

    data = _write_task(tmp_path / "data", counts=(("train", 32), ("dev", 8), ("test", 11)))
    output, exported = tmp_path / "out", tmp_path / "hf"
    run_command(_command(data, output, model_files, "--do_train", "--do_predict",
                         "--num_train_epochs=1", f"--export_hf_dir={exported}"))
    expected = np.loadtxt(output / "test_results.tsv", delimiter="\t")
    hf_model = _load(exported, "BertForSequenceClassification")
    assert hf_model.config.id2label == {0: "no", 1: "yes"}
    tokenizer = transformers.BertTokenizer.from_pretrained(str(exported))
    texts = [line.split("\t")[0] for line in
             (data / "test.tsv").read_text().splitlines()[1:]]
    batch = tokenizer(texts, padding=True, truncation=True, max_length=24,
                      return_tensors="pt")
    with torch.no_grad():
        probabilities = torch.softmax(hf_model(**batch).logits, dim=-1).numpy()
    assert expected.shape == (11, 2)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5, rtol=0)


def test_runner_refuses_an_export_hf_dir_it_would_fail_to_write(tmp_path):
    from bert_tf.tasks import runner
    from bert_tf.tasks.base import FineTuningOptions
    from bert_tf.tasks.classification.task import ClassificationOptions, ClassificationTask

    task = ClassificationTask(ClassificationOptions(task_name="tsv"))
    full = tmp_path / "full"
    full.mkdir()
    (full / "config.json").write_text("{}")
    for folder, message in ((full, "holds files already"),
                            (tmp_path / "out", "is also the output_dir")):
        options = FineTuningOptions(output_dir=str(tmp_path / "out"), do_train=True,
                                    export_hf_dir=str(folder))
        with pytest.raises(InvalidArgumentError, match=message) as error:
            runner.check_output_folders(task, options, "--")
        assert error.value.as_flag().startswith(f"--export_hf_dir='{folder}'")
    options = FineTuningOptions(output_dir=str(tmp_path / "out"), do_train=True,
                                export_hf_dir=str(tmp_path / "new" / "hf"))
    runner.check_output_folders(task, options, "--")
    assert sorted(os.listdir(tmp_path)) == ["full"]  # The checks leave no folder behind.


def test_run_pretraining_exports_bert_for_pretraining(tmp_path, torch, records):
    import tensorflow as tf

    from tests.test_run_pretraining import TINY, _run

    exported = tmp_path / "hf"
    _run(records, tmp_path / "out", "--do_train", "--num_train_steps=2",
         "--save_checkpoints_steps=2", f"--vocab_file={SAMPLE_VOCAB}",
         f"--export_hf_dir={exported}")
    _load(exported, "BertForPreTraining")
    config = BertConfig.from_dict(TINY)
    trained, read_back = BertPretrainer(config), BertPretrainer(config)
    checkpoints.load_checkpoint(trained, tf.train.latest_checkpoint(str(tmp_path / "out")))
    assert checkpoints.load_checkpoint(read_back, str(exported)).unused == []
    for name, variable in checkpoints.google_variable_map(read_back).items():
        np.testing.assert_array_equal(
            variable.numpy(), checkpoints.google_variable_map(trained)[name].numpy(), name)

    result = _run(records, tmp_path / "again", "--do_train", "--num_train_steps=2",
                  f"--export_hf_dir={exported}", check=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "--export_hf_dir needs --vocab_file" in result.stderr
    assert not (tmp_path / "again").exists()
