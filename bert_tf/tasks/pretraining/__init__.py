"""Pre-training: masked-LM and next-sentence instances, records and their input."""
