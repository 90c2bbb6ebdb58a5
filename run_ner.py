"""Google's script `run_ner.py`: fine-tunes BERT for named-entity recognition on
CoNLL-format data.

The command lives in `bert_tf/cli/run_ner.py` (installed as `bert-run-ner`);
`python run_ner.py --help` lists its flags.
"""

from bert_tf.cli.run_ner import main

if __name__ == "__main__":
    main()
