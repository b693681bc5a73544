"""Retrieval benchmark of the knowledge base: `python -m bench.retrieval --help`.

Quality: labelled citizen questions (questions.yml = test set, dev_questions.yml = tuning set) are
run through `KnowledgeBase.search`, the path the assistant uses, and scored with Recall@1/@3 and
MRR@10, overall and per domain.  Latency: warm queries against scratch stores of 1k and 10k
entries made by recombining the curated entries.  Writes REPORT.md and retrieval.png here.
"""
