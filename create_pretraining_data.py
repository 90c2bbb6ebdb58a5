"""Google's script `create_pretraining_data.py`: masked-LM / next-sentence TFRecords.

The command lives in `bert_tf/cli/create_pretraining_data.py` (installed as
`bert-create-pretraining-data`); `python create_pretraining_data.py --help` lists its
flags. Its worker processes import this file again: it must stay this light.
"""

from bert_tf.cli.create_pretraining_data import main

if __name__ == "__main__":
    main()
