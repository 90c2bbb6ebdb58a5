"""Text: Google-exact WordPiece tokenization in Python and in-graph, packing of
`[CLS] A [SEP] B [SEP]` inputs, and the vocabulary learner."""
