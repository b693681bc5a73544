"""Scores of one run: intent F1, entity F1 (type + value per message), latency percentiles."""

from __future__ import annotations

from collections import Counter

import numpy as np
from sklearn.metrics import accuracy_score, f1_score


def intent_scores(answers: list[dict]) -> dict:
    truth = [a["intent"] for a in answers]
    predicted = [a["predicted"] or "(none)" for a in answers]
    labels = sorted(set(truth))
    per_intent = f1_score(truth, predicted, labels=labels, average=None, zero_division=0)
    return {
        "n_test": len(answers),
        "accuracy": accuracy_score(truth, predicted),
        "weighted_f1": f1_score(truth, predicted, labels=labels, average="weighted", zero_division=0),
        "macro_f1": f1_score(truth, predicted, labels=labels, average="macro", zero_division=0),
        "per_intent_f1": {label: float(score) for label, score in zip(labels, per_intent, strict=True)},
    }


def entity_scores(answers: list[dict]) -> dict:
    """Micro P/R/F1 over (entity type, normalised value) per message, overall and per type."""
    counts: dict[str, Counter] = {}
    for answer in answers:
        gold = Counter((e["entity"], str(e["value"])) for e in answer["entities"])
        found = Counter((e["entity"], str(e["value"])) for e in answer["predicted_entities"])
        for key in gold | found:
            c = counts.setdefault(key[0], Counter())
            c["tp"] += min(gold[key], found[key])
            c["fp"] += max(0, found[key] - gold[key])
            c["fn"] += max(0, gold[key] - found[key])

    def prf(c: Counter) -> dict[str, float]:
        p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
        r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
        return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0, "support": c["tp"] + c["fn"]}

    total = sum(counts.values(), Counter())
    return {"entity": prf(total), "entity_per_type": {k: prf(v) for k, v in sorted(counts.items())}}


def latency(ms: list[float]) -> dict[str, float]:
    # the first parse warms caches; it is counted (a citizen may be the first)
    values = np.array(ms)
    return {"p50_ms": float(np.percentile(values, 50)), "p95_ms": float(np.percentile(values, 95))}


def one_line(r: dict) -> str:
    text = (
        f"weighted F1 {r['weighted_f1']:.3f}  macro F1 {r['macro_f1']:.3f}  train {r['train_s']:.1f} s  "
        f"load {r['load_s']:.1f} s  p50 {r['p50_ms']:.1f} ms"
    )
    if "entity" in r:
        text += f"  entity F1 {r['entity']['f1']:.3f}"
    if "server_start_s" in r:
        text += f"  server start {r['server_start_s']:.1f} s"
    return text
