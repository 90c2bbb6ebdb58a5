"""The classification data API: examples, every task's reader (GLUE, XNLI, the
user's `tsv`/`csv` files) and their conversion to model features, as Google's
`run_classifier.py` offers them, in one namespace.

Each part lives in a module of its own:

  * `examples`: `InputExample`, the reader API `DataProcessor`, the split names;
  * `delimited`: reading TSV/CSV files (`read_rows`) and their error messages;
  * `glue`: the GLUE processors and XNLI, as a declarative table;
  * `user_tasks`: `GenericProcessor`, the `tsv` and `csv` tasks;
  * `readers`: every task by name (`PROCESSORS`, `GENERIC_TASKS`, `get_processor`);
  * `features`: `convert_examples_to_features`.
"""

from bert_tf.tasks.classification.delimited import read_rows
from bert_tf.tasks.classification.examples import (DEV, TEST, TRAIN, DataProcessor,
                                                   InputExample)
from bert_tf.tasks.classification.features import convert_examples_to_features
from bert_tf.tasks.classification.glue import (ColaProcessor, GlueProcessor,
                                               MnliMismatchedProcessor, MnliProcessor,
                                               MrpcProcessor, QnliProcessor, QqpProcessor,
                                               RteProcessor, Sst2Processor, StsbProcessor,
                                               WnliProcessor, XnliProcessor)
from bert_tf.tasks.classification.readers import GENERIC_TASKS, PROCESSORS, get_processor
from bert_tf.tasks.classification.user_tasks import GenericProcessor

__all__ = ["DEV", "TEST", "TRAIN", "ColaProcessor", "DataProcessor", "GENERIC_TASKS",
           "GenericProcessor", "GlueProcessor", "InputExample", "MnliMismatchedProcessor",
           "MnliProcessor", "MrpcProcessor", "PROCESSORS", "QnliProcessor", "QqpProcessor",
           "RteProcessor", "Sst2Processor", "StsbProcessor", "WnliProcessor",
           "XnliProcessor", "convert_examples_to_features", "get_processor", "read_rows"]
