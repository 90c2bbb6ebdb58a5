"""Google's script `run_classifier.py`: fine-tunes BERT on a sequence classification task.

The command lives in `bert_tf/cli/run_classifier.py` (installed as
`bert-run-classifier`); `python run_classifier.py --help` lists its flags.
"""

from bert_tf.cli.run_classifier import main

if __name__ == "__main__":
    main()
