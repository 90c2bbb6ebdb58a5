"""Google's script `extract_features.py`: contextual embeddings of texts as JSON lines.

The command lives in `bert_tf/cli/extract_features.py` (installed as
`bert-extract-features`); `python extract_features.py --help` lists its flags.
"""

from bert_tf.cli.extract_features import main

if __name__ == "__main__":
    main()
