"""Search backends benchmark: embedded (SQLite FTS5) vs Elasticsearch at 1k, 10k and 100k entries.

Run `python -m bench.search_backends --help`; the report is REPORT.md in this folder.
"""
