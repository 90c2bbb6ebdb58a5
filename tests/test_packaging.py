"""The scripts as installed commands: each `[project.scripts]` entry is a command module
whose flags exist only once it runs; nothing at run time needs tf-models-official.

(Building the wheel and installing it in a new virtualenv takes minutes and the
package index: `make wheel-check` does that, with tests/helpers/wheel_check.sh.)
"""

import subprocess
import sys
import tomllib

from tests.conftest import REPO_ROOT

SCRIPTS = ("create_pretraining_data", "run_pretraining", "run_classifier", "run_ner",
           "run_squad", "extract_features", "build_vocab", "bulk_predict")


def test_every_script_is_a_command_of_the_same_name():
    with open(REPO_ROOT / "pyproject.toml", "rb") as reader:
        commands = tomllib.load(reader)["project"]["scripts"]
    assert commands == {f"bert-{name.replace('_', '-')}": f"bert_tf.cli.{name}:main"
                        for name in SCRIPTS}
    for name in SCRIPTS:
        # The checkout's script runs the same `main`.
        shim = (REPO_ROOT / f"{name}.py").read_text(encoding="utf-8")
        assert f"from bert_tf.cli.{name} import main\n" in shim
        assert shim.rstrip().endswith('if __name__ == "__main__":\n    main()')


def test_importing_the_package_registers_no_flag_and_loads_no_reference_code():
    # In a fresh process: every module of the package, the command modules included.
    program = """
import importlib, pkgutil, sys
from absl import flags
import bert_tf
for module in pkgutil.walk_packages(bert_tf.__path__, "bert_tf."):
    importlib.import_module(module.name)
print(sorted(name for name in flags.FLAGS.flags_by_module_dict() if "bert_tf" in name))
print(sorted(name for name in sys.modules if name.split(".")[0] == "official"))
"""
    result = subprocess.run([sys.executable, "-c", program], cwd=REPO_ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines() == ["[]", "[]"]


def test_help_lists_the_scripts_flags_after_its_usage():
    result = subprocess.run([sys.executable, str(REPO_ROOT / "build_vocab.py"), "--help"],
                            cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.stdout.startswith("Learns a BERT WordPiece vocabulary (vocab.txt)")
    for flag in ("--input_file", "--output_file", "--vocab_size", "--[no]do_lower_case",
                 "--num_unused", "--min_word_count", "--[no]overwrite_output"):
        assert f"\n  {flag}: " in result.stdout, flag
