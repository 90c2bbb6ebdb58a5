"""Sequence classification (GLUE and user tsv/csv tasks), as Google's run_classifier.py."""
