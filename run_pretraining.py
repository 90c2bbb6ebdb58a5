"""Google's script `run_pretraining.py`: masked-LM + next-sentence pre-training.

The command lives in `bert_tf/cli/run_pretraining.py` (installed as
`bert-run-pretraining`); `python run_pretraining.py --help` lists its flags.
"""

from bert_tf.cli.run_pretraining import main

if __name__ == "__main__":
    main()
