"""Demo helper: prints the first pre-training record of a file as tokens.

Usage: python samples/show_pretraining_record.py RECORDS VOCAB
"""

import sys

import tensorflow as tf

from bert_tf.text import tokenization
from bert_tf.tasks.pretraining import records as pretraining_records


def main(records: str, vocab_file: str) -> None:
    """Decodes and prints one record and the file's metadata counts."""
    metadata = pretraining_records.read_metadata(records)
    spec = pretraining_records.feature_spec(metadata["max_seq_length"],
                                            metadata["max_predictions_per_seq"])
    tokenizer = tokenization.FullTokenizer(vocab_file)
    record = next(iter(tf.data.TFRecordDataset(records)))
    example = {name: value.numpy() for name, value in
               tf.io.parse_single_example(record, spec).items()}
    length = int(example["input_mask"].sum())
    tokens = tokenizer.convert_ids_to_tokens(example["input_ids"][:length].tolist())
    count = int(example["masked_lm_weights"].sum())
    answers = tokenizer.convert_ids_to_tokens(example["masked_lm_ids"][:count].tolist())
    print(f"{metadata['instances_total']} instances from {metadata['documents']} documents")
    print("input:      ", " ".join(tokens))
    print("segment ids:", "".join(str(s) for s in example["segment_ids"][:length]))
    print("to predict: ", ", ".join(f"{p}={t}" for p, t in
                                   zip(example["masked_lm_positions"][:count], answers)))
    print("next sentence label:", int(example["next_sentence_labels"][0]),
          "(1 = B is a random sentence)")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
