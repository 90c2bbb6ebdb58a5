"""The Python API. bert_tf.TextClassifier: fine-tuning in a few lines on the bundled
sample, predicting raw strings, saving and reloading in a fresh process to the same
probabilities; clear errors. bert_tf.TokenClassifier: the same for NER, its tags those
the run scored. Both saved in Hugging Face's format give transformers' models the same
outputs. bert_tf.TextEncoder: sentence-transformers' pooling on the real MiniLM."""

import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import bert_tf
from bert_tf.errors import InvalidArgumentError, UserInputError
from tests.conftest import REPO_ROOT, SAMPLE_VOCAB, subprocess_env

# What a user writes (12 lines), run in its own process as a notebook would.
USER_CODE = r"""
import csv, json, sys
import bert_tf
def read(split):
    rows = list(csv.reader(open(f"samples/sentiment/{split}.tsv"), delimiter="\t"))[1:]
    return [row[0] for row in rows], [row[1] for row in rows]
classifier = bert_tf.TextClassifier.from_pretrained(sys.argv[1], max_seq_length=32)
scores = classifier.fit(*read("train"), validation_data=read("dev"), epochs=10,
                        batch_size=16, learning_rate=1e-3, output_dir=sys.argv[2])
predicted = classifier.predict(read("dev")[0])
classifier.save(sys.argv[3])
print(json.dumps({"scores": scores, "labels": predicted["labels"],
                  "probabilities": predicted["probabilities"].tolist()}))
"""

RELOAD = r"""
import json, sys
import bert_tf
texts = [line.split("\t")[0] for line in open("samples/sentiment/dev.tsv")][1:]
predicted = bert_tf.TextClassifier.from_pretrained(sys.argv[1]).predict(texts)
print(json.dumps({"labels": predicted["labels"],
                  "probabilities": predicted["probabilities"].tolist()}))
"""


def _python(code: str, *arguments) -> dict:
    result = subprocess.run([sys.executable, "-c", code, *map(str, arguments)],
                            capture_output=True, text=True, cwd=REPO_ROOT,
                            env=subprocess_env())
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr + result.stdout


@pytest.fixture(scope="module")
def pretrained(model_files, tmp_path_factory):
    """The tiny pre-trained model as a user holds it: config, vocab and checkpoint in
    one folder."""
    directory = tmp_path_factory.mktemp("pretrained")
    for path in model_files.iterdir():
        shutil.copy(path, directory / path.name)
    shutil.copy(SAMPLE_VOCAB, directory / "vocab.txt")
    return directory


def test_fit_predict_save_and_reload_in_a_fresh_process(pretrained, tmp_path):
    assert len([line for line in USER_CODE.strip().splitlines()]) <= 12
    saved = tmp_path / "saved"
    first, log = _python(USER_CODE, pretrained / "bert_model.ckpt", tmp_path / "run", saved)
    assert first["scores"]["eval_accuracy"] >= 0.8  # Chance is 0.5; the demo's is 0.83.
    # predict's labels are those the evaluation of the run scored.
    dev_labels = [line.split("\t")[1].strip() for line in
                  (REPO_ROOT / "samples/sentiment/dev.tsv").read_text().splitlines()[1:]]
    assert np.mean(np.array(first["labels"]) == dev_labels) == pytest.approx(
        first["scores"]["eval_accuracy"])
    assert "step 150/150 (100%)" in log  # The progress line is shown from Python too,
    assert re.search(r"150/150.*/step - loss: [0-9.]+ - learning_rate: ", log)  # and a bar.
    reloaded, _ = _python(RELOAD, saved)
    assert reloaded["labels"] == first["labels"]
    np.testing.assert_allclose(reloaded["probabilities"], first["probabilities"],
                               atol=1e-6)
    assert json.loads((saved / "task_info.json").read_text())["labels"] == [
        "negative", "positive"]
    assert (saved / "training_curves.png").exists() is False  # Only the run folder has it.
    assert (tmp_path / "run" / "training_curves.png").exists()


def test_clear_errors(pretrained, tmp_path):
    classifier = bert_tf.TextClassifier.from_pretrained(str(pretrained / "bert_model.ckpt"),
                                                        max_seq_length=16)
    with pytest.raises(UserInputError, match="not fine-tuned yet"):
        classifier.predict(["a text"])
    with pytest.raises(UserInputError, match="texts: 2 labels for 3 texts; give one "
                                             "label per text."):
        classifier.fit(["a", "b", "c"], ["x", "y"])
    with pytest.raises(UserInputError, match="texts='one text' must be a list of texts"):
        classifier.fit("one text", ["x"])
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "file").write_text("")
    with pytest.raises(UserInputError, match="output_dir=.* holds files: pass resume=True"):
        classifier.fit(["a", "b"], ["x", "y"], output_dir=str(tmp_path / "used"))
    with pytest.raises(UserInputError, match="max_seq_length=900 must be between"):
        bert_tf.TextClassifier.from_pretrained(str(pretrained / "bert_model.ckpt"),
                                               max_seq_length=900)


SENTENCES = ["A man is eating food.", "The girl plays the violin on the stage!",
             "Unaffable, naïve café owners", "", "short"]


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_text_encoder_equals_sentence_transformers_pooling_on_minilm(minilm_dir, pooling):
    import torch
    import transformers
    encoder = bert_tf.TextEncoder.from_pretrained(str(minilm_dir), max_seq_length=16)
    vectors = encoder.encode(SENTENCES, pooling=pooling, batch_size=2)

    # sentence-transformers' mean pooling: the last layer averaged over the attention
    # mask, on Hugging Face's tokenizer and model.
    tokenizer = transformers.BertTokenizer.from_pretrained(str(minilm_dir))
    model = transformers.BertModel.from_pretrained(str(minilm_dir)).eval()
    inputs = tokenizer(SENTENCES, padding=True, truncation=True, max_length=16,
                       return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**inputs).last_hidden_state
    mask = inputs["attention_mask"][:, :, None].float()
    expected = ((hidden * mask).sum(1) / mask.sum(1) if pooling == "mean"
                else hidden[:, 0]).numpy()
    assert vectors.shape == (5, 384)
    np.testing.assert_allclose(vectors, expected, atol=1e-5)


# NER from Python on the bundled sample (user code: 11 lines).
TAGGER_CODE = r"""
import json, sys
import bert_tf
def read(split):
    blocks = open(f"samples/ner/{split}.txt").read().replace("-DOCSTART- O\n", "")
    rows = [[l.split() for l in block.splitlines() if l] for block in blocks.split("\n\n")]
    return [[w for w, _ in r] for r in rows if r], [[t for _, t in r] for r in rows if r]
tagger = bert_tf.TokenClassifier.from_pretrained(sys.argv[1], max_seq_length=32)
scores = tagger.fit(*read("train"), validation_data=read("dev"), epochs=3, batch_size=16,
                    learning_rate=1e-3, output_dir=sys.argv[2])
tagger.save(sys.argv[3])
print(json.dumps({"scores": scores, "tagged": tagger.predict(read("dev")[0])}))
"""

RELOAD_TAGGER = r"""
import json, sys
import bert_tf
tagger = bert_tf.TokenClassifier.from_pretrained(sys.argv[1])
print(json.dumps(tagger.predict(json.loads(sys.argv[2]) + ["", "Ben Stone met Ada."])))
"""


def test_token_classifier_fits_predicts_and_reloads(pretrained, tmp_path):
    from bert_tf.tasks.ner import conll, entity_metrics
    assert len(TAGGER_CODE.strip().splitlines()) <= 12
    first, log = _python(TAGGER_CODE, pretrained / "bert_model.ckpt", tmp_path / "run",
                         tmp_path / "saved")
    tagged = first["tagged"]
    dev = conll.read_split(str(REPO_ROOT / "samples" / "ner"), "dev").sentences
    assert [item["words"] for item in tagged] == [sentence.words for sentence in dev]
    # predict's tags are the ones the run's evaluation scored, its entities conlleval's.
    scores = entity_metrics.evaluate([s.tags for s in dev], [t["tags"] for t in tagged])
    assert scores["f1"] == pytest.approx(first["scores"]["eval_f1"])
    assert all(item["entities"] == [list(chunk) for chunk in
                                    entity_metrics.get_chunks(item["tags"])]
               for item in tagged)
    assert "Training on" in log

    texts = [item["words"] for item in tagged[:5]]
    reloaded, _ = _python(RELOAD_TAGGER, tmp_path / "saved", json.dumps(texts))
    assert [item["tags"] for item in reloaded[:5]] == [item["tags"] for item in tagged[:5]]
    assert reloaded[5] == {"words": [], "tags": [], "entities": []}
    assert reloaded[6]["words"] == ["Ben", "Stone", "met", "Ada", "."]
    assert len(reloaded[6]["tags"]) == 5


def test_token_classifier_names_the_bad_sentence(pretrained):
    tagger = bert_tf.TokenClassifier.from_pretrained(str(pretrained / "bert_model.ckpt"),
                                                     max_seq_length=16)
    with pytest.raises(UserInputError, match="fit's sentences: sentence 1 has 2 words "
                                             "but 1 tags"):
        tagger.fit([["a"], ["b", "c"]], [["O"], ["O"]])
    with pytest.raises(UserInputError, match=r"fit's sentences: sentence 0, word 1 "
                                             r"\('c'\): tag 'X-PER' is not 'O'"):
        tagger.fit([["b", "c"]], [["O", "X-PER"]])
    with pytest.raises(UserInputError, match="not fine-tuned yet"):
        tagger.predict(["Ben Stone"])


LORA_TEXTS = ["the good bread", "bad water in the mill", "good market", "bad library"] * 8


@pytest.fixture(scope="module")
def lora_classifier(pretrained, tmp_path_factory):
    """A classifier fitted with LoRA adapters of rank 2 on `LORA_TEXTS`."""
    from bert_tf.training.lora import LoraOptions
    classifier = bert_tf.TextClassifier.from_pretrained(str(pretrained / "bert_model.ckpt"),
                                                        max_seq_length=16)
    classifier.fit(LORA_TEXTS, ["yes", "no", "yes", "no"] * 8, epochs=2, batch_size=8,
                   learning_rate=1e-2, output_dir=str(tmp_path_factory.mktemp("run")),
                   lora=LoraOptions(rank=2))
    return classifier


def test_lora_fit_saves_and_exports_the_merged_model(lora_classifier, tmp_path):
    adapted = lora_classifier.predict(LORA_TEXTS[:4])["probabilities"]
    lora_classifier.save(str(tmp_path / "saved"))
    reloaded = bert_tf.TextClassifier.from_pretrained(str(tmp_path / "saved"))
    np.testing.assert_allclose(reloaded.predict(LORA_TEXTS[:4])["probabilities"], adapted,
                               atol=1e-5)
    assert not any("lora" in name for name in reloaded.model.google_variable_map())


def _transformers(folder, architecture: str):
    """transformers' `architecture` and tokenizer, loaded from `folder`."""
    pytest.importorskip("torch", reason="torch is not installed (make test installs it)")
    transformers = pytest.importorskip("transformers", reason="transformers is not "
                                       "installed (make test installs it)")
    model = getattr(transformers, architecture).from_pretrained(str(folder)).eval()
    return model, transformers.BertTokenizer.from_pretrained(str(folder))


def test_lora_classifier_saved_in_hugging_face_format_predicts_alike(lora_classifier,
                                                                     tmp_path):
    import torch
    classifier, texts = lora_classifier, LORA_TEXTS
    with pytest.raises(InvalidArgumentError, match="must be one of bert_tf, hugging_face"):
        classifier.save(str(tmp_path / "other"), format="pytorch")
    folder = classifier.save(str(tmp_path / "hf"), format="hugging_face")
    model, tokenizer = _transformers(folder, "BertForSequenceClassification")
    with torch.no_grad():
        logits = model(**tokenizer(texts[:4], padding=True, return_tensors="pt")).logits
    expected = classifier.predict(texts[:4])  # The adapters merged in the export only.
    np.testing.assert_allclose(torch.softmax(logits, dim=-1).numpy(),
                               expected["probabilities"], atol=1e-5)
    assert [model.config.id2label[int(index)] for index in logits.argmax(dim=1)] == (
        expected["labels"])


def test_tagger_saved_in_hugging_face_format_gives_the_same_logits(pretrained, tmp_path):
    import torch
    sentences = [["Ada", "met", "Ben", "Stone"], ["the", "mill", "in", "Dover"]] * 8
    tags = [["B-PER", "O", "B-PER", "I-PER"], ["O", "O", "O", "B-LOC"]] * 8
    tagger = bert_tf.TokenClassifier.from_pretrained(str(pretrained / "bert_model.ckpt"),
                                                     max_seq_length=16)
    tagger.fit(sentences, tags, epochs=2, batch_size=8, learning_rate=1e-2,
               output_dir=str(tmp_path / "run"))
    folder = tagger.save(str(tmp_path / "hf"), format="hugging_face")
    model, tokenizer = _transformers(folder, "BertForTokenClassification")
    batch = tokenizer([" ".join(words) for words in sentences[:2]], padding=True,
                      return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits.numpy()
    inputs = {"input_ids": batch["input_ids"].numpy().astype(np.int32),
              "input_mask": batch["attention_mask"].numpy().astype(np.int32),
              "segment_ids": batch["token_type_ids"].numpy().astype(np.int32)}
    ours = tagger.model({**inputs, "label_weights": inputs["input_mask"].astype(np.float32)})
    mask = inputs["input_mask"][..., None]
    np.testing.assert_allclose(logits * mask, ours["logits"].numpy() * mask, atol=1e-5)
    assert [model.config.id2label[index] for index in range(len(tagger.info.labels))] == (
        list(tagger.info.labels))
