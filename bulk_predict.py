"""Bulk prediction with an exported classifier or NER SavedModel, as an Apache Beam
pipeline (RunInference): text files in, one JSON line per input row out.

The command lives in `bert_tf/cli/bulk_predict.py`; `python bulk_predict.py --help`
lists its flags. Beam's worker processes may import this file again: it stays light.
"""

from bert_tf.cli.bulk_predict import main

if __name__ == "__main__":
    main()
