"""NLU pipeline benchmark: `python -m bench.nlu --help`.  Writes bench/nlu/REPORT.md and a plot."""
