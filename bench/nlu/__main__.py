"""Choose the NLU pipeline by measurement.

    .venv/bin/python -m bench.nlu                 # everything (about an hour on a busy 2-core machine)
    .venv/bin/python -m bench.nlu --quick         # small run to check the machinery (~10 minutes)
    .venv/bin/python -m bench.nlu --pipelines svm_char,lr_rasa --datasets gov
    .venv/bin/python -m bench.nlu --report-only   # rebuild REPORT.md from the saved results
    .venv/bin/python -m bench.nlu --cross-dataset # config.yml vs Rasa's default pipeline on 3 sets

For each data set (SMP2019: public, 23 intents, not ours; gov: our training data in
nlu_data/nlu + generated lookups, tested on the held-out bench/nlu/gov_test.yml) and each
candidate pipeline (bench/nlu/pipelines.py) it trains a model in a fresh process, loads it in
another fresh process and parses every test message one at a time.  Measured: intent weighted
and macro F1, accuracy, entity F1 (gov), training time, model load time, parse latency p50/p95,
peak memory of training and of serving, and for gov models the cold start of a real
`rasa run --enable-api` server (median of --servers starts).  Finally `rasa test nlu
--cross-validation` on our own data with config.yml and/or the candidates named by --cv.  Jobs
run one at a time (the machine is shared).

`--cross-dataset` (issue #13: our pipeline must train on data nobody on the team wrote) trains
config.yml's pipeline and Rasa's own default pipeline (bench/nlu/pipelines.py rasa_default_config)
on our data, SMP2019 and Rasa's initial-project NLU data (English, shipped inside the rasa wheel,
Apache-2.0; every third example of each intent held out), and rewrites only the "Cross-dataset
check" section of REPORT.md (results in var/bench_nlu/cross/).

Results are kept in var/bench_nlu/<full|quick>/ (one JSON per run, so a run can be resumed with
--pipelines).  A full run writes bench/nlu/REPORT.md and nlu.png from all full results; a quick
run writes its report into var/bench_nlu/quick/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml
from tqdm import tqdm

from . import metrics, pipelines, report

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PY = sys.executable
GOV_TRAIN_DIR = REPO / "nlu_data" / "nlu"
GOV_TEST = HERE / "gov_test.yml"
CROSS_DATASETS = ("gov", "smp2019", "rasa_init")
CROSS_PIPELINES = ("config", "rasa_default")
# the language of each data set, for Rasa's default pipeline (ours is Chinese whatever the data)
LANGUAGES = {"gov": "zh", "smp2019": "zh", "rasa_init": "en"}


def rasa_init_nlu() -> Path:
    """The NLU data of Rasa's initial project (`rasa init`), inside the installed rasa package."""
    import rasa.cli

    return Path(rasa.cli.__file__).parent / "initial_project" / "data" / "nlu.yml"


def _split_yaml(source: Path, train: Path, test: Path, test_every: int) -> None:
    """Every `test_every`-th example of each intent (from the second on) to the test file, the rest
    to training: no example in both, every intent in both."""
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.training_data import TrainingData

    seen: dict[str, int] = {}
    kept, held = [], []
    for example in load_data(str(source)).intent_examples:
        n = seen.get(example.get("intent"), 0)
        seen[example.get("intent")] = n + 1
        (held if n % test_every == test_every - 1 else kept).append(example)
    train.write_text(TrainingData(kept).nlu_as_yaml(), encoding="utf-8")
    test.write_text(TrainingData(held).nlu_as_yaml(), encoding="utf-8")


def smp2019_dir() -> Path:
    """SMP2019 lives in the shared folder: /work/shared, or shared/ beside the clone (CI)."""
    shared = "datasets/smp2019"
    candidates = (os.environ.get("SMP2019_DIR"), f"/work/shared/{shared}", REPO.parent / "shared" / shared)
    for candidate in candidates:
        if candidate and (Path(candidate) / "train.yml").exists():
            return Path(candidate)
    raise SystemExit("bench.nlu: SMP2019 not found; set SMP2019_DIR to the folder with train.yml and test.yml")


def _subset_yaml(source: Path, target: Path, keep_every: int, limit: int | None = None) -> None:
    """Write every n-th example of each intent (quick mode), as Rasa YAML."""
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.training_data import TrainingData

    data = load_data(str(source))
    seen: dict[str, int] = {}
    kept = []
    for example in data.intent_examples:
        n = seen.get(example.get("intent"), 0)
        seen[example.get("intent")] = n + 1
        if n % keep_every == 0:
            kept.append(example)
    if limit:
        kept = kept[:limit]
    target.write_text(TrainingData(kept).nlu_as_yaml(), encoding="utf-8")


def prepare_dataset(name: str, work: Path, quick: bool) -> tuple[Path, Path]:
    """-> (training data directory, test file)."""
    data_dir = work / f"{name}_train"
    data_dir.mkdir(parents=True, exist_ok=True)
    if name == "smp2019":
        smp = smp2019_dir()
        test = work / "smp2019_test.yml"
        if quick:
            _subset_yaml(smp / "train.yml", data_dir / "train.yml", keep_every=3)
            _subset_yaml(smp / "test.yml", test, keep_every=3)
        else:
            shutil.copy(smp / "train.yml", data_dir / "train.yml")
            shutil.copy(smp / "test.yml", test)
        return data_dir, test
    if name == "rasa_init":
        test = work / "rasa_init_test.yml"
        _split_yaml(rasa_init_nlu(), data_dir / "train.yml", test, test_every=3)
        return data_dir, test
    for path in sorted(GOV_TRAIN_DIR.glob("*.yml")):
        shutil.copy(path, data_dir / path.name)
    subprocess.run([PY, "-m", "knowledge_base.nlu_lookups", str(data_dir)], cwd=REPO, check=True, capture_output=True)
    return data_dir, GOV_TEST


def _env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        RASA_CACHE_DIRECTORY=str(cache),  # empty: every run trains from scratch
        RASA_TELEMETRY_ENABLED="false",
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONPATH=str(REPO),
    )
    return env


def _run(args: list[str], env: dict[str, str], log: Path) -> None:
    with log.open("a") as out:
        done = subprocess.run(args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])} failed ({done.returncode}); see {log}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_cold_start(model: str, env: dict[str, str], log: Path, timeout: float = 300) -> dict[str, float]:
    """Start `rasa run --enable-api` on the model; seconds until /model/parse answers, and RSS."""
    import psutil

    port = _free_port()
    url = f"http://127.0.0.1:{port}/model/parse"
    # the project's endpoints.yml/credentials.yml name the action server and channels: not wanted here
    empty = log.parent / "empty.yml"
    empty.write_text("{}\n")
    started = time.perf_counter()
    command = [str(Path(PY).parent / "rasa"), "run", "--enable-api", "-m", model, "-p", str(port), "-i", "127.0.0.1"]
    command += ["--endpoints", str(empty), "--credentials", str(empty)]
    with log.open("a") as out:
        server = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"rasa run exited with {server.returncode}; see {log}")
            if time.perf_counter() - started > timeout:
                raise RuntimeError(f"rasa run not ready after {timeout} s; see {log}")
            try:
                body = json.dumps({"text": "办营业执照要带什么材料"}).encode()
                request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=5) as answer:
                    if answer.status == 200 and json.load(answer).get("intent"):
                        break
            except OSError:
                pass
            time.sleep(0.25)
        ready = time.perf_counter() - started
        rss = psutil.Process(server.pid).memory_info().rss / 2**20
        return {"server_start_s": ready, "server_rss_mb": rss, "server_load_average": os.getloadavg()[0]}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def run_one(
    dataset: str,
    name: str,
    pipeline: list,
    data: tuple[Path, Path],
    work: Path,
    servers: int,
    config_data: dict | None = None,
) -> dict:
    """Train, load and query one pipeline on one data set; `config_data`, a whole config, replaces
    the candidate `pipeline` with the usual entity components."""
    data_dir, test = data
    run_dir = work / f"{dataset}__{name}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    config = run_dir / "config.yml"
    if config_data is None:
        config_data = pipelines.config_yaml_data(pipeline, with_entities=dataset == "gov")
    config.write_text(yaml.safe_dump(config_data, allow_unicode=True))
    env = _env(run_dir / "cache")
    log = run_dir / "log.txt"
    worker = [PY, "-m", "bench.nlu.worker"]
    _run([*worker, "train", str(config), str(data_dir), str(run_dir / "models"), str(run_dir / "train.json")], env, log)
    trained = json.loads((run_dir / "train.json").read_text())
    _run([*worker, "serve", trained["model"], str(test), str(run_dir / "serve.json")], env, log)
    served = json.loads((run_dir / "serve.json").read_text())
    result = {
        "load_average": os.getloadavg()[0],  # other jobs share the 2 cores: times depend on it
        "dataset": dataset,
        "pipeline": name,
        "config": config_data["pipeline"],
        **{k: trained[k] for k in ("import_s", "train_s", "train_peak_mb")},
        "load_s": served["load_s"],
        "serve_peak_mb": served["serve_peak_mb"],
        **metrics.latency(served["latencies_ms"]),
        **metrics.intent_scores(served["answers"]),
        "answers": served["answers"],
    }
    if dataset == "gov":
        result.update(metrics.entity_scores(served["answers"]))
        starts = [server_cold_start(trained["model"], env, log) for _ in range(servers)]
        if starts:
            starts.sort(key=lambda s: s["server_start_s"])
            result.update(starts[len(starts) // 2])  # the median start
            result["server_starts_s"] = [s["server_start_s"] for s in starts]
    shutil.rmtree(run_dir / "cache", ignore_errors=True)
    return result


def cross_validation(name: str, config: Path, work: Path, folds: int) -> dict:
    """`rasa test nlu --cross-validation` on nlu_data/nlu (+ lookups) with the given config."""
    cv_dir = work / f"cv_{name}"
    data_dir, _ = prepare_dataset("gov", cv_dir, quick=False)
    out = cv_dir / "results"
    env = _env(cv_dir / "cache")
    started = time.perf_counter()
    _run(
        [str(Path(PY).parent / "rasa"), "test", "nlu", "--cross-validation", "--folds", str(folds),
         "-c", str(config), "--nlu", str(data_dir), "--out", str(out)],
        env,
        cv_dir / "log.txt",
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    intent = json.loads((out / "intent_report.json").read_text())
    where = str(config.relative_to(REPO)) if config.is_relative_to(REPO) else f"candidate {name}"
    result: dict = {"pipeline": name, "folds": folds, "seconds": elapsed, "config": where, "intent": intent}
    for extractor in ("RegexEntityExtractor",):
        path = out / f"{extractor}_report.json"
        if path.exists():
            result[extractor] = json.loads(path.read_text())
    return result


def whole_assistant(work: Path, servers: int) -> dict:
    """scripts/train.sh from scratch (lookups + NLU + dialogue policies), then `rasa run` starts."""
    base = work / "assistant"
    base.mkdir(parents=True, exist_ok=True)
    env = _env(base / "cache")
    env.update(RASA_MODELS_DIR=str(base / "models"), JSB_DATA_DIR=str(base / "var"))
    env.pop("KB_DB", None)  # the curated data files, as the tests train
    started = time.perf_counter()
    _run([str(REPO / "scripts" / "train.sh")], env, base / "log.txt")
    trained = time.perf_counter() - started
    model = str(base / "models" / "jishiban.tar.gz")
    starts = sorted(
        (server_cold_start(model, env, base / "log.txt") for _ in range(servers)), key=lambda s: s["server_start_s"]
    )
    result = {
        "train_s": trained,
        "load_average": os.getloadavg()[0],
        "server_starts_s": [s["server_start_s"] for s in starts],
    }
    if starts:
        result.update(starts[len(starts) // 2])
    return result


def cross_dataset(datasets: list[str], epochs: int, quick: bool, chosen: tuple[str, ...] = CROSS_PIPELINES) -> Path:
    """config.yml's pipeline against Rasa's default one on each data set; rewrites that section."""
    results_dir = REPO / "var" / "bench_nlu" / "cross"
    results_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench_nlu_cross_") as tmp:
        work = Path(tmp)
        for dataset in tqdm(datasets, desc="bench.nlu cross-dataset", unit="set"):
            data = prepare_dataset(dataset, work, quick)
            configs = {
                "config": pipelines.config_yaml_data(pipelines.config_pipeline(), with_entities=True),
                "rasa_default": pipelines.rasa_default_config(LANGUAGES[dataset], epochs),
            }
            for name, config_data in configs.items():
                if name not in chosen:
                    continue
                tqdm.write(f"-- {dataset} / {name}")
                try:
                    result = run_one(dataset, name, [], data, work, servers=0, config_data=config_data)
                except RuntimeError as error:
                    tqdm.write(f"   failed: {error}")
                    log = work / f"{dataset}__{name}" / "log.txt"
                    if log.exists():
                        tqdm.write(log.read_text()[-3000:])
                    result = {"dataset": dataset, "pipeline": name, "failed": str(error).split(";")[0]}
                key = "smp2019_third" if quick and dataset == "smp2019" else dataset  # kept beside the full set
                result.update(dataset=key, epochs=epochs, subset=key != dataset, n_train=_count(data[0]))
                (results_dir / f"{key}__{name}.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))
                if "failed" not in result:
                    tqdm.write(f"   {metrics.one_line(result)}")
    return report.write_cross_section(results_dir, HERE / "REPORT.md")


def _count(data_dir: Path) -> int:
    from rasa.shared.nlu.training_data.loading import load_data

    return len(load_data(str(data_dir)).intent_examples)


def main(argv: list[str] | None = None) -> int:
    names = list(pipelines.candidates(1))
    parser = argparse.ArgumentParser(
        prog="python -m bench.nlu", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a third of SMP2019, DIET 2 epochs, no server, 2 folds")
    parser.add_argument("--pipelines", default=",".join(names), help=f"comma-separated subset of: {', '.join(names)}")
    parser.add_argument(
        "--datasets", default=None, help="comma-separated: smp2019, gov (default both); rasa_init with --cross-dataset"
    )
    parser.add_argument("--diet-epochs", type=int, default=12, help="DIET epoch cap (12: ~8 min on SMP2019)")
    parser.add_argument("--servers", type=int, default=3, help="`rasa run` cold starts per gov model (median; 0: skip)")
    parser.add_argument("--cv-folds", type=int, default=5, help="cross-validation folds on our data (0: skip)")
    parser.add_argument(
        "--cv", default="config", help="what to cross-validate on our data: 'config' (config.yml) and/or candidates"
    )
    parser.add_argument(
        "--assistant", action="store_true", help="also time scripts/train.sh and `rasa run` on the whole assistant"
    )
    parser.add_argument("--report-only", action="store_true", help="only rebuild REPORT.md and the plot")
    parser.add_argument(
        "--cross-dataset",
        action="store_true",
        help=f"only config.yml vs Rasa's default pipeline on --datasets (default {','.join(CROSS_DATASETS)}); "
        "with --quick a third of SMP2019",
    )
    parser.add_argument(
        "--cross-pipelines", default=",".join(CROSS_PIPELINES), help="with --cross-dataset: config and/or rasa_default"
    )
    parser.add_argument(
        "--default-epochs", type=int, default=100, help="cap on the epochs of Rasa's default pipeline (its own: 100)"
    )
    args = parser.parse_args(argv)
    if args.cross_dataset:
        datasets = [d for d in args.datasets.split(",") if d] if args.datasets is not None else CROSS_DATASETS
        if set(datasets) - set(CROSS_DATASETS):
            parser.error(f"cross-dataset sets are {', '.join(CROSS_DATASETS)}")
        if args.report_only:
            path = report.write_cross_section(REPO / "var" / "bench_nlu" / "cross", HERE / "REPORT.md")
        else:
            chosen_pipelines = tuple(p for p in args.cross_pipelines.split(",") if p)
            if set(chosen_pipelines) - set(CROSS_PIPELINES):
                parser.error(f"cross-dataset pipelines are {', '.join(CROSS_PIPELINES)}")
            path = cross_dataset(list(datasets), args.default_epochs, args.quick, chosen_pipelines)
        print(f"bench.nlu: wrote the cross-dataset section of {path}")
        return 0

    mode = "quick" if args.quick else "full"
    results_dir = REPO / "var" / "bench_nlu" / mode
    results_dir.mkdir(parents=True, exist_ok=True)
    diet_epochs = 2 if args.quick else args.diet_epochs
    if not args.report_only:
        chosen = [p for p in args.pipelines.split(",") if p]
        unknown = set(chosen) - set(names)
        if unknown:
            parser.error(f"unknown pipeline(s): {', '.join(sorted(unknown))}")
        chosen_sets = "smp2019,gov" if args.datasets is None else args.datasets
        datasets = [d for d in chosen_sets.split(",") if d]  # '' runs only the cross-validation
        folds = 2 if args.quick else args.cv_folds
        cv_names = [c for c in args.cv.split(",") if c] if folds else []
        if set(cv_names) - {"config", *names}:
            parser.error(f"--cv takes 'config' or candidate names: {', '.join(names)}")
        if set(datasets) - {"smp2019", "gov"}:
            parser.error("datasets are smp2019 and gov")
        table = pipelines.candidates(diet_epochs)
        with tempfile.TemporaryDirectory(prefix="bench_nlu_") as tmp:
            work = Path(tmp)
            jobs = [(d, p) for d in datasets for p in chosen]
            prepared = {d: prepare_dataset(d, work, args.quick) for d in datasets}
            for dataset, name in tqdm(jobs, desc="bench.nlu", unit="run"):
                tqdm.write(f"-- {dataset} / {name}")
                try:
                    servers = 0 if args.quick else args.servers
                    result = run_one(dataset, name, table[name][1], prepared[dataset], work, servers)
                except RuntimeError as error:
                    tqdm.write(f"   failed: {error}")
                    log = work / f"{dataset}__{name}" / "log.txt"
                    if log.exists():
                        tqdm.write(log.read_text()[-3000:])
                    continue
                result["description"] = table[name][0]
                result["mode"] = mode
                (results_dir / f"{dataset}__{name}.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))
                tqdm.write(f"   {metrics.one_line(result)}")
            for name in cv_names:
                if name == "config":
                    config = REPO / "config.yml"
                else:
                    config = work / f"cv_{name}.yml"
                    config_data = pipelines.config_yaml_data(table[name][1], with_entities=True)
                    config.write_text(yaml.safe_dump(config_data, allow_unicode=True))
                tqdm.write(f"-- rasa test nlu --cross-validation --folds {folds} ({name})")
                cv = cross_validation(name, config, work, folds)
                path = results_dir / f"cross_validation__{name}.json"
                path.write_text(json.dumps(cv, ensure_ascii=False, indent=1))
            if args.assistant:
                tqdm.write("-- whole assistant: scripts/train.sh, then rasa run")
                whole = whole_assistant(work, 0 if args.quick else args.servers)
                (results_dir / "assistant.json").write_text(json.dumps(whole, indent=1))
    # only a full run replaces the committed report; a quick one stays beside its results
    path = report.write(results_dir, HERE if mode == "full" else results_dir, mode)
    print(f"bench.nlu: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
