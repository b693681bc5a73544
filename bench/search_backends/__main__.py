"""python -m bench.search_backends: index throughput and query latency, embedded vs Elasticsearch."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from knowledge_base.settings import Settings

from .report import write_report
from .run import run_sync

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
OPENSEARCH_SCRIPT = REPO / "scripts" / "opensearch.sh"

EPILOG = """\
Without --es-url the benchmark starts a throw-away OpenSearch node (scripts/opensearch.sh, from
../shared/opensearch) and stops it at the end.  Against your own Elasticsearch 8 cluster:

  KB_ES_USER=kb KB_ES_PASSWORD=... KB_ES_CA=/etc/ssl/es-ca.pem \\
      python -m bench.search_backends --es-url https://es.example.org:9200

It creates indices named jsb-kb-bench-* there and deletes them afterwards.  Credentials and CA come
from the usual KB_ES_* variables (docs/elasticsearch.md).  The 100k size takes about ten minutes on
two cores, most of it jieba tokenising the corpus for the embedded store.
"""


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("k", "000")) for part in text.split(",") if part]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes are numbers like 1000,10k,100k, not {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("give at least one size of 1 or more")
    return sizes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.search_backends",
        description="Index throughput, start-up check and query p50/p95 of both search backends at several "
        "corpus sizes; writes REPORT.md, results.json and a PNG plot.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--sizes", type=_sizes, default=[1000, 10000, 100000], help="corpus sizes, e.g. 1k,10k (default 1k,10k,100k)"
    )
    parser.add_argument("--queries", type=int, default=300, help="timed queries per size and backend (default 300)")
    parser.add_argument("--es-url", help="an Elasticsearch 8 cluster to use instead of a throw-away node")
    parser.add_argument("--heap", default="1g", help="JVM heap of the throw-away node (default 1g)")
    parser.add_argument("--out", type=Path, default=HERE, help="where to write the report (default: this folder)")
    parser.add_argument(
        "--from-json", type=Path, metavar="RESULTS", help="only rewrite the report from an earlier results.json"
    )
    return parser


@contextmanager
def throwaway_node(heap: str) -> Iterator[str]:
    """A node started by scripts/opensearch.sh in a private state folder, stopped afterwards."""
    with tempfile.TemporaryDirectory(prefix="jsb-bench-node-") as state:
        env = {**os.environ, "OPENSEARCH_STATE": state, "OPENSEARCH_HEAP": heap}
        started = subprocess.run([str(OPENSEARCH_SCRIPT), "start"], env=env, capture_output=True, text=True)
        if started.returncode != 0:
            sys.exit(f"could not start a test node ({started.stderr.strip()}); pass --es-url to use a cluster")
        try:
            yield started.stdout.strip()
        finally:
            subprocess.run([str(OPENSEARCH_SCRIPT), "stop"], env=env, capture_output=True, text=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # A plain `kill` must still stop the throw-away node and delete the benchmark's indices.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    base = Settings.from_env()
    command = "python -m bench.search_backends " + shlex.join(argv if argv is not None else sys.argv[1:])
    if args.from_json:
        data = json.loads(args.from_json.read_text(encoding="utf-8"))
        print(f"report: {write_report(data, args.out, data.get('command', command))}")
        return 0
    if args.es_url:
        data = run_sync(args.sizes, args.queries, base, args.es_url)
    else:
        with throwaway_node(args.heap) as url:
            host, port = url.rsplit(":", 1)
            data = run_sync(args.sizes, args.queries, base, url, raw_url=f"{host}:{int(port) + 1}")
    data["heap"] = None if args.es_url else args.heap
    data["command"] = command.strip()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(data, indent=1), encoding="utf-8")
    report = write_report(data, args.out, command.strip())
    print(f"report: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
