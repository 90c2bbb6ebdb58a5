#!/usr/bin/env bash
# `make demo`: everything that exists, end to end, on the bundled sample data.
set -euo pipefail
PY=${1:-.venv/bin/python}
cd "$(dirname "$0")/.."
OUT=demo_output
rm -rf "$OUT"  # The demo's own output from an earlier run; nothing else lives there.
mkdir -p "$OUT"
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}

echo "== 1. Tokenization (Python and in-graph) and a tiny BERT in Google's layout"
"$PY" samples/demo_foundation.py "$OUT/tiny_bert"

echo "== 2. extract_features.py (config and vocab found beside the checkpoint)"
"$PY" extract_features.py \
  --input_file=samples/sentences.txt \
  --output_file="$OUT/features.jsonl" \
  --init_checkpoint="$OUT/tiny_bert/bert_model.ckpt" \
  --layers=-1,-2 --max_seq_length=32 --batch_size=4
"$PY" - "$OUT/features.jsonl" <<'PYEOF'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    example = json.loads(line)
    tokens = [f["token"] for f in example["features"]]
    width = len(example["features"][0]["layers"][0]["values"])
    print(f"line {example['linex_index']}: {len(tokens)} tokens x {width} values per layer: "
          f"{' '.join(tokens)}")
PYEOF
echo "Demo finished; outputs are in $OUT/."
