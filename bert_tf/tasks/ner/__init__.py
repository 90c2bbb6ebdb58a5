"""Named-entity recognition on CoNLL files: tag schemes, windows, CRF, entity scores."""
