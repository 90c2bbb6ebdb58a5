"""LoRA: adapters on the chosen projections, in Google-style names beside the frozen
kernels; a LoRA run of run_classifier.py leaves every pre-trained weight unchanged,
writes adapters to its checkpoints, and exports (SavedModel, Hugging Face) the merged
model, whose outputs equal the adapted model's; later runs reuse the adapters."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert_tf import checkpoints
from bert_tf.configs import BertConfig
from bert_tf.errors import InvalidArgumentError
from bert_tf.modeling import BertClassifier
from bert_tf.text import tokenization
from bert_tf.text.packing import pack
from bert_tf.training import lora
from tests.conftest import (SAMPLE_VOCAB, TINY_BERT, checkpoint_weights, error_lines,
                            sample_vocab_config)
from tests.test_run_classifier import _results, _run, _write_task

INPUTS = {"input_ids": tf.constant([[2, 5, 6, 7, 3, 0], [2, 9, 3, 11, 12, 3]]),
          "input_mask": tf.constant([[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]]),
          "segment_ids": tf.constant([[0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 1, 1]])}


def _adapted_classifier(targets=("query", "value")) -> BertClassifier:
    keras.utils.set_random_seed(0)
    model = BertClassifier(sample_vocab_config(), 3)
    lora.enable(model, lora.LoraOptions(rank=4, alpha=8, targets=targets))
    for variable in model.trainable_variables:  # B starts at 0: give it values.
        if "lora_kernel_b" in variable.path:
            variable.assign(np.random.default_rng(1).normal(0, 0.2, variable.shape))
    return model


def test_adapters_are_named_beside_the_kernels_and_only_they_and_the_head_train():
    model = _adapted_classifier(("query", "intermediate"))
    names = model.google_variable_map()
    layer = "bert/encoder/layer_0"
    assert names[f"{layer}/attention/self/query/lora_a"].shape == (32, 4)
    assert names[f"{layer}/attention/self/query/lora_b"].shape == (4, 32)
    assert names[f"{layer}/intermediate/dense/lora_a"].shape == (32, 4)
    assert f"{layer}/attention/self/value/lora_a" not in names
    trainable = {variable.path.split("/")[-1] for variable in model.trainable_variables}
    assert trainable == {"lora_kernel_a", "lora_kernel_b", "output_weights", "output_bias"}


def test_merged_model_equals_the_adapted_one_by_the_formula():
    model = _adapted_classifier()
    plain = lora.merged(model)
    assert not hasattr(plain, "lora_options")
    np.testing.assert_allclose(plain(INPUTS)["logits"], model(INPUTS)["logits"], atol=1e-5)
    names, merged_names = model.google_variable_map(), plain.google_variable_map()
    query = "bert/encoder/layer_1/attention/self/query"
    expected = (names[f"{query}/kernel"].numpy() + 8 / 4 * names[f"{query}/lora_a"].numpy()
                @ names[f"{query}/lora_b"].numpy())
    np.testing.assert_allclose(merged_names[f"{query}/kernel"], expected, rtol=1e-6)


@pytest.mark.parametrize("options, message", [
    (lora.LoraOptions(rank=-1), "lora_rank=-1 must be 0 (off) or more."),
    (lora.LoraOptions(rank=4, alpha=0.0), "lora_alpha=0.0 must be positive."),
    (lora.LoraOptions(rank=4, targets=("query", "dense")),
     "lora_targets='query,dense' must name some of query, key, value, attention_output, "
     "intermediate, output."),
])
def test_bad_options_name_the_argument(options, message):
    with pytest.raises(InvalidArgumentError) as error:
        options.validate()
    assert str(error.value) == message


def test_lora_run_trains_adapters_only_and_exports_the_merged_model(tmp_path, model_files):
    data = _write_task(tmp_path / "data")
    output, export = tmp_path / "out", tmp_path / "export"
    result = _run(data, output, model_files, "--do_train", "--do_eval", "--do_predict",
                  "--num_train_epochs=3", "--lora_rank=4", "--lora_alpha=8",
                  "--lora_targets=query,value,output", f"--export_dir={export}",
                  f"--export_hf_dir={tmp_path / 'hf'}")
    assert "LoRA rank 4 on query,value,output:" in result.stderr
    trained = _results(output)
    final = checkpoint_weights(tf.train.latest_checkpoint(str(output)))
    initial = checkpoint_weights(model_files / "bert_model.ckpt")
    assert all(np.array_equal(final[name], value) for name, value in initial.items()
               if name.startswith("bert/"))  # Every pre-trained weight is unchanged.
    adapters = [name for name in final if name.endswith("/lora_b")]
    assert len(adapters) == 3 * TINY_BERT["num_hidden_layers"]
    assert all(np.abs(final[name]).max() > 0 for name in adapters)  # B trained from 0.
    assert json.loads((output / "lora_config.json").read_text()) == {
        "rank": 4, "alpha": 8.0, "targets": ["query", "value", "output"]}

    # The adapted model of the checkpoint, and the merged exports.
    model = BertClassifier(BertConfig.from_dict(TINY_BERT), 2)
    lora.enable(model, lora.LoraOptions(4, 8.0, ("query", "value", "output")))
    checkpoints.load_checkpoint(model, tf.train.latest_checkpoint(str(output)))
    texts = ["the good bread", "bad water in the mill"]
    tokenizer = tokenization.FullTokenizer(str(SAMPLE_VOCAB), do_lower_case=True)
    packed = [pack(tokenizer.tokenize(text), None, 24, tokenizer.convert_tokens_to_ids)
              for text in texts]
    inputs = {name: tf.constant([getattr(p, name) for p in packed])
              for name in ("input_ids", "input_mask", "segment_ids")}
    expected = tf.nn.softmax(model(inputs)["logits"]).numpy()
    served = tf.saved_model.load(str(next(export.iterdir()))).signatures[
        "serving_default"](text_a=tf.constant(texts))
    np.testing.assert_allclose(served["probabilities"], expected, atol=1e-5)
    hugging_face = BertClassifier(BertConfig.from_dict(TINY_BERT), 2)
    checkpoints.load_checkpoint(hugging_face, str(tmp_path / "hf"))
    np.testing.assert_allclose(tf.nn.softmax(hugging_face(inputs)["logits"]), expected,
                               atol=1e-5)

    # A later run without the LoRA flags uses the saved adapters; other ones are refused.
    again = _run(data, output, model_files, "--do_eval")
    assert "Using the LoRA adapters of" in again.stderr
    assert _results(output)["eval_loss"] == pytest.approx(trained["eval_loss"], rel=1e-6)
    # ... also for the adapter alone, from an evaluation run.
    _run(data, output, model_files, "--do_eval", f"--export_hf_dir={tmp_path / 'adapter'}",
         "--export_lora_only")
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
    refused = _run(data, output, model_files, "--do_eval", "--lora_rank=8", check=False)
    assert error_lines(refused.stderr)[0].startswith(
        "error: --lora_rank=8 with lora_alpha=None and lora_targets=query,value does not "
        "match the adapters in")


def test_adapter_alone_in_peft_layout_loads_onto_the_base_model(tmp_path, model_files):
    peft = pytest.importorskip("peft", reason="peft is not installed (make test installs it)")
    import torch
    import transformers
    data = _write_task(tmp_path / "data")
    output, adapter = tmp_path / "out", tmp_path / "adapter"
    _run(data, output, model_files, "--do_train", "--num_train_epochs=2", "--lora_rank=4",
         "--lora_alpha=16", "--lora_targets=query,key,attention_output", f"--export_hf_dir={adapter}",
         "--export_lora_only")
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"], config["task_type"]) == (4, 16, "SEQ_CLS")
    assert sorted(path.name for path in adapter.iterdir()) == [
        "adapter_config.json", "adapter_model.safetensors"]

    # The base model as transformers holds it: the pre-trained encoder, any head.
    base = BertClassifier(BertConfig.from_dict(TINY_BERT), 2)
    checkpoints.load_checkpoint(base, str(model_files / "bert_model.ckpt"),
                                initialize_missing=("output_", "bert/pooler/"))
    checkpoints.save_hugging_face(base, str(tmp_path / "base"), vocab_file=str(SAMPLE_VOCAB),
                                  do_lower_case=True)
    torch_model = peft.PeftModel.from_pretrained(
        transformers.BertForSequenceClassification.from_pretrained(tmp_path / "base"),
        adapter).eval()

    adapted = BertClassifier(BertConfig.from_dict(TINY_BERT), 2)
    lora.enable(adapted, lora.LoraOptions(4, 16.0, ("query", "key", "attention_output")))
    checkpoints.load_checkpoint(adapted, tf.train.latest_checkpoint(str(output)))
    with torch.inference_mode():
        logits = torch_model(
            input_ids=torch.tensor(INPUTS["input_ids"].numpy(), dtype=torch.long),
            attention_mask=torch.tensor(INPUTS["input_mask"].numpy(), dtype=torch.long),
            token_type_ids=torch.tensor(INPUTS["segment_ids"].numpy(),
                                        dtype=torch.long)).logits.numpy()
    np.testing.assert_allclose(logits, adapted(INPUTS)["logits"], atol=1e-5)
    for variable in adapted.trainable_variables:  # Without the adapters: other logits,
        if "lora_kernel_b" in variable.path:     # so peft did apply them.
            variable.assign(tf.zeros_like(variable))
    assert np.abs(logits - adapted(INPUTS)["logits"].numpy()).max() > 1e-3


def test_export_lora_only_needs_lora_and_a_folder(tmp_path, model_files):
    data = _write_task(tmp_path / "data", counts=(("train", 8), ("dev", 4)))
    result = _run(data, tmp_path / "out", model_files, "--do_train", "--export_lora_only",
                  "--lora_rank=2", check=False)
    assert error_lines(result.stderr) == [
        "error: --export_lora_only=True needs export_hf_dir (the folder of the adapter)."]
    result = _run(data, tmp_path / "out", model_files, "--do_train", "--export_lora_only",
                  f"--export_hf_dir={tmp_path / 'adapter'}", check=False)
    assert error_lines(result.stderr) == [
        "error: --export_lora_only=True needs LoRA adapters: lora_rank > 0, or an output "
        "folder trained with them."]
    assert not (tmp_path / "adapter").exists()
