"""notebooks/fine_tune_classifier.ipynb runs end to end (fine-tune, predict, save,
export, a raw-text request) on the bundled sample with a tiny model, in a Jupyter
kernel as a user would run it; what it shows agrees with itself."""

import ast
import os
import shutil

import nbformat
from nbclient import NotebookClient

from tests.conftest import REPO_ROOT, SAMPLE_VOCAB

NOTEBOOK = REPO_ROOT / "notebooks" / "fine_tune_classifier.ipynb"


def test_notebook_runs_on_the_sample(model_files, tmp_path, monkeypatch):
    model = tmp_path / "model"
    shutil.copytree(model_files, model)
    shutil.copy(SAMPLE_VOCAB, model / "vocab.txt")
    monkeypatch.setenv("BERT_TF_MODEL", str(model / "bert_model.ckpt"))
    monkeypatch.setenv("BERT_TF_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("BERT_TF_EPOCHS", "10")
    monkeypatch.setenv("BERT_TF_LEARNING_RATE", "1e-3")
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(REPO_ROOT)}}).execute()

    def result(index: int) -> str:
        outputs = [output for output in notebook.cells[index].outputs
                   if output.output_type == "execute_result"]
        return outputs[0].data["text/plain"]

    code = [index for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    assert result(code[1]) == "(240, 60)"
    assert "'eval_accuracy'" in result(code[2])
    predicted = ast.literal_eval(result(code[3]))  # [(text, label), ...] as shown.
    served = ast.literal_eval(result(code[5]))
    assert [label for _, label in predicted] == served  # Python and SavedModel agree.
    assert os.path.isdir(tmp_path / "out" / "classifier")
    assert "Training on 240 examples" in "".join(
        output.get("text", "") for output in notebook.cells[code[2]].outputs)
