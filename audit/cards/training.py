"""Report cards of the training claims: LoRA placements, sweeps and per-layer adapter ablation."""

from __future__ import annotations

from audit import plots
from audit.cards import card_for
from audit.stats import mean


def _f(x) -> str:
    return "—" if x is None else f"{x:.3g}"


def _range(values: list) -> str:
    values = [v for v in values if v is not None]
    return "—" if not values else f"{_f(mean(values))} ({_f(min(values))}–{_f(max(values))})"


def _budget(ev: dict) -> str:
    t, task = ev["training"], ev["task"]
    return (f"Declared budget per run: {t['steps']} steps x batch {t['batch_size']} (max {t['max_length']} tokens), "
            f"rank {t['rank']}, alpha {t['alpha']}, lr {t['learning_rate']}, {t['optimizer']}, format {t['format']}"
            f"{', QLoRA (NF4 base)' if t.get('qlora') else ''}; {task['train_prompts']} training / "
            f"{task['eval_prompts']} held-out prompts of `{task['family']}` per seed (disjoint, drawn by the seed); "
            f"KL drift on {', '.join(task['drift_families']) or 'no'} families.")


def _mean_curve(rows: list[dict]) -> list[float]:
    return [mean(r["losses"][i] for r in rows) for i in range(min(len(r["losses"]) for r in rows))]


def _rows(results: dict) -> list[list]:
    return [[name, f"{rows[0]['trainable_params']:,}", _range([r["exact_match"] for r in rows]),
             _range([r["final_loss"] for r in rows]), _range([r["kl_drift"] for r in rows]),
             _range([r["train_seconds"] for r in rows]), "yes" if all(r["from_cache"] for r in rows) else "no"]
            for name, rows in results.items()]


COLUMNS = ["run", "trainable params", "held-out exact match", "final loss", "KL drift", "train s", "from cache"]


def _deps(ev: dict) -> list[str]:
    return [f"Atlas layers from `{d['claim_id']}` ({d['verdict']}, sha256 {d['claim_sha256'][:12]}): top {d['top_k']} = "
            f"{d['layers']}" for d in ev.get("dependencies", [])]


@card_for("lora")
def lora_card(rec: dict, out_dir) -> dict:
    ev, stem = rec["evidence"], f"plots/{rec['claim_id']}"
    res = ev["results"]
    plots.loss_curves({n: _mean_curve(r) for n, r in res.items()}, f"{rec['claim_id']}: training loss", out_dir / f"{stem}-loss.png")
    plots.params_scatter({n: (r[0]["trainable_params"], mean(x["exact_match"] for x in r)) for n, r in res.items()},
                         "held-out exact match (mean over seeds)", f"{rec['claim_id']}: exact match vs parameters",
                         out_dir / f"{stem}-params.png")
    examples = [f"`{n}` seed {r[0]['seed']} first answers: " + " | ".join(repr(e)[:80] for e in r[0]["examples"])
                for n, r in res.items() if r[0].get("examples")]
    return {"plots": [(f"{stem}-loss.png", "training loss per placement (mean over seeds)"),
                      (f"{stem}-params.png", "held-out exact match against trainable parameters")],
            "tables": [{"title": "Placements (mean, seed range)", "columns": COLUMNS, "rows": _rows(res)}],
            "notes": [_budget(ev), *_deps(ev), *examples]}


@card_for("lora_sweep")
def sweep_card(rec: dict, out_dir) -> dict:
    ev, stem = rec["evidence"], f"plots/{rec['claim_id']}"
    res = ev["results"]
    plots.loss_curves({n: _mean_curve(r) for n, r in res.items()}, f"{rec['claim_id']}: training loss per point",
                      out_dir / f"{stem}-loss.png")
    plots.params_scatter({n: (r[0]["trainable_params"], mean(x["final_loss"] for x in r)) for n, r in res.items()},
                         "final training loss", f"{rec['claim_id']}: loss vs parameters", out_dir / f"{stem}-params.png")
    return {"plots": [(f"{stem}-loss.png", "training loss per grid point (mean over seeds)"),
                      (f"{stem}-params.png", "final loss against trainable parameters")],
            "tables": [{"title": "Grid points (mean, seed range)", "columns": COLUMNS, "rows": _rows(res)}],
            "notes": ["**Loss is not quality.** Training loss compares how easily each setup fits its own rendering "
                      "of the examples; the deliberately bad format leaks the answer into the prompt, so a low loss "
                      "there shows copying, not learning. Held-out exact match is reported beside it.",
                      _budget(ev), *_deps(ev)]}


@card_for("lora_adapter_ablation")
def adapter_card(rec: dict, out_dir) -> dict:
    ev, stem = rec["evidence"], f"plots/{rec['claim_id']}"
    layers = sorted({int(k) for s in ev["per_seed"] for k in s["effects"]})
    eff = [mean(s["effects"].get(str(i), 0.0) for s in ev["per_seed"]) for i in layers]
    nrm = [mean(s["norms"].get(str(i), 0.0) for s in ev["per_seed"]) for i in layers]
    plots.effect_and_norm(layers, eff, nrm, f"{rec['claim_id']}: adapter effect and norm per layer (mean over seeds)",
                          out_dir / f"{stem}-layers.png")
    stats = {s["seed"]: s for s in (rec.get("summary") or {}).get("per_seed", [])}
    rows = [[s["seed"], _f(s["exact_match"]), _f(stats.get(s["seed"], {}).get("pearson")),
             _f(stats.get(s["seed"], {}).get("spearman")), _f(stats.get(s["seed"], {}).get("p")),
             _f(stats.get(s["seed"], {}).get("late_share"))] for s in ev["per_seed"]]
    return {"plots": [(f"{stem}-layers.png", "bars: held-out NLL increase when only that layer's adapter is disabled; "
                                              "line: the layer's adapter norm")],
            "tables": [{"title": "Per seed", "columns": ["seed", "held-out exact match", "Pearson r (norm, effect)",
                                                         "Spearman", "permutation p", "late-layer share"], "rows": rows}],
            "notes": [_budget(ev), *_deps(ev)]}
