"""Google's script `run_squad.py`: fine-tunes BERT for extractive question answering
on SQuAD 1.1 and 2.0.

The command lives in `bert_tf/cli/run_squad.py` (installed as `bert-run-squad`);
`python run_squad.py --help` lists its flags.
"""

from bert_tf.cli.run_squad import main

if __name__ == "__main__":
    main()
