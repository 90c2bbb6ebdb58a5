"""Apache Beam pipelines: pre-training records from a corpus of any size
(`pretraining`) and bulk prediction with an exported model (`prediction`), on any Beam
runner. Needs the `beam` extra (`pip install bert_tf[beam]`)."""
