#!/usr/bin/env bash
# `make demo`: everything that exists, end to end, on the bundled sample data.
set -euo pipefail
PY=${1:-.venv/bin/python}
cd "$(dirname "$0")/.."
OUT=demo_output
rm -rf "$OUT"  # The demo's own output from an earlier run; nothing else lives there.
mkdir -p "$OUT"
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
# Lines TensorFlow prints at ERROR level that are no error of the demo, left out of its
# output: on a CPU whose AVX-512 its oneDNN check does not recognize (seen on AMD EPYC),
# "oneDNN supports DT_INT64 only on platforms with AVX-512" (it computes with Eigen
# instead); on a machine without a GPU, its start-up probe's "failed call to cuInit:
# ... CUDA error" (and XLA's note about absl::InitializeLog), once per process.
hidden=(-e 'oneDNN supports DT_INT64 only on platforms with AVX-512')
if ! command -v nvidia-smi > /dev/null; then
  echo "(No GPU here: TensorFlow's 'failed call to cuInit' start-up line is hidden.)"
  hidden+=(-e 'failed call to cuInit' -e 'All log messages before absl::InitializeLog')
fi
exec 2> >(grep --line-buffered -v "${hidden[@]}" >&2)

# fine_tune SCRIPT NAME FLAG...: fine-tunes the tiny BERT pre-trained in step 5 with
# SCRIPT (and FLAG...) into $OUT/NAME, exports it to $OUT/NAME_export and shows its
# dev results.
fine_tune() {
  local script=$1 name=$2
  shift 2
  "$PY" "$script" "$@" \
    --init_checkpoint="$OUT/pretraining/model.ckpt-100" \
    --bert_config_file=samples/bert_config.json --vocab_file=vocab/vocab.txt \
    --output_dir="$OUT/$name" --do_train --do_eval --do_predict \
    --export_dir="$OUT/${name}_export"
  cat "$OUT/$name/eval_results.txt"
}

echo "== 1. build_vocab.py: a WordPiece vocabulary learned from the sample corpus"
"$PY" build_vocab.py --input_file=samples/corpus.txt --output_file="$OUT/vocab.txt" \
  --vocab_size=400 --min_word_count=1
if cmp -s "$OUT/vocab.txt" vocab/vocab.txt; then
  echo "same as the committed vocab/vocab.txt ($(wc -l < vocab/vocab.txt) tokens)"
else
  echo "differs from the committed vocab/vocab.txt (the demo goes on with the committed one)"
fi

echo "== 2. Tokenization (Python and in-graph) and a tiny BERT in Google's layout"
"$PY" samples/demo_foundation.py "$OUT/tiny_bert"

echo "== 3. extract_features.py (config and vocab found beside the checkpoint)"
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

echo "== 4. create_pretraining_data.py: masked-LM + next-sentence records"
"$PY" create_pretraining_data.py --input_file=samples/corpus.txt \
  --output_file="$OUT/pretraining.tfrecord" --vocab_file=vocab/vocab.txt \
  --max_seq_length=64 --max_predictions_per_seq=10 --dupe_factor=5
"$PY" samples/show_pretraining_record.py "$OUT/pretraining.tfrecord" vocab/vocab.txt


echo "== 5. run_pretraining.py: a short masked-LM + next-sentence run of the tiny BERT"
"$PY" run_pretraining.py --input_file="$OUT/pretraining.tfrecord" \
  --output_dir="$OUT/pretraining" --bert_config_file=samples/bert_config.json \
  --init_checkpoint="$OUT/tiny_bert/bert_model.ckpt" --do_train --do_eval \
  --max_seq_length=64 --max_predictions_per_seq=10 --train_batch_size=16 \
  --learning_rate=1e-3 --num_train_steps=100 --num_warmup_steps=10 \
  --save_checkpoints_steps=50 --log_steps=25 --iterations_per_loop=25
cat "$OUT/pretraining/eval_results.txt"

echo "== 6. run_classifier.py: fine-tune the pre-trained tiny BERT on the sample sentiment task, export"
fine_tune run_classifier.py sentiment --task_name=tsv --data_dir=samples/sentiment \
  --text_a_column=sentence --label_column=label \
  --max_seq_length=64 --train_batch_size=16 --learning_rate=3e-4 --num_train_epochs=20 \
  --save_checkpoints_steps=50 --log_steps=50 --iterations_per_loop=50
echo "first lines of test_results.tsv (probabilities of the labels" \
  "$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["labels"])' "$OUT/sentiment/task_info.json")):"
head -3 "$OUT/sentiment/test_results.tsv"

echo "== 7. A raw-text request to the exported SavedModel (TensorFlow + tensorflow_text only)"
"$PY" samples/serve_request.py "$OUT/sentiment_export" \
  "The bakery on the square was wonderful." "The morning bus was terrible again."

echo "== 8. run_ner.py: named entities on the sample CoNLL data, export"
fine_tune run_ner.py ner --data_dir=samples/ner \
  --max_seq_length=48 --train_batch_size=16 --learning_rate=1e-3 --num_train_epochs=10 \
  --save_checkpoints_steps=1000 --log_steps=100 --iterations_per_loop=100
echo "first lines of test_predictions.txt (word gold predicted):"
head -8 "$OUT/ner/test_predictions.txt"

echo "== 9. A raw-text request to the NER SavedModel"
"$PY" samples/serve_request.py "$OUT/ner_export" \
  "Mr Tom Carter sells bread at the market in Eastbrook."

echo "== 10. run_squad.py: question answering on the sample passages (samples/qa), export"
fine_tune run_squad.py qa --train_file=samples/qa/train.json \
  --predict_file=samples/qa/dev.json --max_seq_length=64 --doc_stride=32 \
  --max_query_length=16 --train_batch_size=16 --learning_rate=1e-3 --num_train_epochs=25 \
  --save_checkpoints_steps=1000 --log_steps=100 --iterations_per_loop=100
echo "first answers of predictions.json:"
"$PY" - samples/qa/dev.json "$OUT/qa/predictions.json" <<'PYEOF'
import json, sys
answers = json.load(open(sys.argv[2], encoding="utf-8"))
questions = [qa for article in json.load(open(sys.argv[1], encoding="utf-8"))["data"]
             for paragraph in article["paragraphs"] for qa in paragraph["qas"]]
for qa in questions[:4]:
    print(f"{qa['question']!r} -> {answers[qa['id']]!r} (gold {qa['answers'][0]['text']!r})")
PYEOF

echo "== 11. A raw question and passage sent to the question-answering SavedModel"
"$PY" samples/serve_request.py "$OUT/qa_export" \
  question="Where does Emma bake rye bread?" \
  context="Emma bakes rye bread in Westford every morning. The market in Millbridge opens at noon."

echo "Demo finished; outputs are in $OUT/."
