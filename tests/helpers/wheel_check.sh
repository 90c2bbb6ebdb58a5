#!/usr/bin/env bash
# `make wheel-check`: the package as a user installs it. Builds the wheel from a copy of
# this checkout as a fresh clone would have it (the files git tracks, and new ones it
# does not ignore), installs it in a new virtualenv with the runtime requirements only,
# and runs the installed commands from a folder outside the checkout:
# `bert-run-classifier --helpfull`, and `bert-extract-features` on the bundled
# samples/sentences.txt with a tiny random BERT (as the demo makes it).
# Usage: bash tests/helpers/wheel_check.sh [PYTHON]   (PYTHON builds the wheel and
# makes the virtualenv; default python3). Takes a few minutes; leaves nothing behind.
set -euo pipefail
PYTHON=${1:-python3}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}

echo "== copy of the checkout, as a clone: $WORK/src"
mkdir "$WORK/src"
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' path; do
      [ -e "$path" ] && cp --parents -- "$path" "$WORK/src/"
    done)

echo "== the wheel"
"$PYTHON" -m pip wheel --quiet --no-deps -w "$WORK/wheel" "$WORK/src"
WHEEL=$(ls "$WORK"/wheel/bert_tf-*.whl)
echo "$(basename "$WHEEL"): $("$PYTHON" -m zipfile -l "$WHEEL" | grep -c '^bert_tf/') files"

echo "== a new virtualenv: runtime requirements, then the wheel alone"
"$PYTHON" -m venv "$WORK/venv"
BIN=$WORK/venv/bin
"$BIN/python" -m pip install --quiet --disable-pip-version-check \
  -r "$REPO/requirements.txt" -c "$REPO/constraints.txt"
"$BIN/python" -m pip install --quiet --disable-pip-version-check --no-deps "$WHEEL"
if "$BIN/python" -c 'import official' 2>/dev/null; then
  echo "tf-models-official got installed: it must not be a runtime requirement"; exit 1
fi

mkdir "$WORK/run"
cd "$WORK/run"  # Outside the checkout: only the installed package can be imported.
echo "== bert-run-classifier --helpfull"
# absl's help flags exit with status 1 after printing.
"$BIN/bert-run-classifier" --helpfull > helpfull.txt 2>&1 || true
for flag in task_name data_dir max_seq_length num_train_epochs use_tpu; do
  grep -qE -- "^  --(\[no\])?$flag: " helpfull.txt || { echo "--helpfull lacks --$flag"; exit 1; }
done
echo "lists $(grep -c '^  --' helpfull.txt) flags"

echo "== bert-extract-features on samples/sentences.txt with a tiny BERT"
"$BIN/python" - "$REPO" <<'PYEOF'
import pathlib, shutil, sys

import keras

import bert_tf
from bert_tf import checkpoints
from bert_tf.configs import BertConfig
from bert_tf.modeling import BertModel

repo = pathlib.Path(sys.argv[1])
assert repo not in pathlib.Path(bert_tf.__file__).parents, bert_tf.__file__
config = BertConfig.from_json_file(str(repo / "samples" / "bert_config.json"))
keras.utils.set_random_seed(0)
pathlib.Path("tiny_bert").mkdir()
checkpoints.save_google_checkpoint(BertModel(config), "tiny_bert/bert_model.ckpt")
config.to_json_file("tiny_bert/bert_config.json")
shutil.copyfile(repo / "vocab" / "vocab.txt", "tiny_bert/vocab.txt")
PYEOF
"$BIN/bert-extract-features" --input_file="$REPO/samples/sentences.txt" \
  --output_file=features.jsonl --init_checkpoint=tiny_bert/bert_model.ckpt \
  --layers=-1,-2 --max_seq_length=32 --batch_size=4 2> extract.log \
  || { tail -20 extract.log; exit 1; }
lines=$(wc -l < features.jsonl)
[ "$lines" -eq "$(wc -l < "$REPO/samples/sentences.txt")" ] \
  || { echo "features.jsonl has $lines lines"; exit 1; }
echo "wrote $lines JSON lines, one per sentence"
echo "Wheel check passed."
