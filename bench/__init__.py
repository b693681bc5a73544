"""Benchmarks with human-readable reports: `python -m bench.retrieval`, `python -m bench.nlu`."""
