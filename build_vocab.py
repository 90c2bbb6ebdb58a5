"""Google-style script `build_vocab.py`: learns a WordPiece vocab.txt from a corpus.

The command lives in `bert_tf/cli/build_vocab.py` (installed as `bert-build-vocab`);
`python build_vocab.py --help` lists its flags.
"""

from bert_tf.cli.build_vocab import main

if __name__ == "__main__":
    main()
