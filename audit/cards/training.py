"""Report cards of the training claims: LoRA placements, sweeps and per-layer adapter ablation."""

from __future__ import annotations

from audit import plots
from audit.cards import card_for, plot_stem
from audit.cards.deployment import checks_card
from audit.stats import mean


def _f(x) -> str:
    return "—" if x is None else f"{x:.3g}"


def _range(values: list) -> str:
    values = [v for v in values if v is not None]
    return "—" if not values else f"{_f(mean(values))} ({_f(min(values))}–{_f(max(values))})"


def _budget(ev: dict) -> str:
    t, task = ev["training"], ev["task"]
    return (f"Declared budget per run{' (the base of every grid point)' if 'points' in ev else ''}: {t['steps']} steps x batch {t['batch_size']} (max {t['max_length']} tokens), "
            f"rank {t['rank']}, alpha {t['alpha']}, lr {t['learning_rate']}, {t['optimizer']}, format {t['format']}"
            f"{', QLoRA (NF4 base)' if t.get('qlora') else ''}; {task['train_prompts']} training / "
            f"{task['eval_prompts']} held-out prompts of `{task['family']}` per seed (disjoint, drawn by the seed); "
            f"KL drift on {', '.join(task['drift_families']) or 'no'} families.")


def _point_budgets(ev: dict) -> str:
    """What each sweep point changes from the declared base training."""
    parts = []
    for point in ev["points"]:
        changed = [f"{k} {point[k]}" for k in ("rank", "learning_rate", "optimizer", "format") if point.get(k) is not None]
        where = point["placement"]["placement"]
        parts.append(f"`{point['label']}`: {', '.join(changed) or 'base training'}"
                     f"{'' if where == 'all_linear' else f' ({where} placement)'}")
    return "Grid points (changes from the base run): " + "; ".join(parts) + "."


def _run_note(rec: dict, results: dict) -> str:
    rows = [r for rs in results.values() for r in rs]
    trained = sum(not r["from_cache"] for r in rows)
    return (f"This run: {rec['provenance'].get('wall_time_s', 0):.0f} s wall time; {trained} of {len(rows)} adapters "
            f"trained now, {len(rows) - trained} read from the evidence cache (their train seconds are from when "
            f"they were trained).")


def _mean_curve(rows: list[dict]) -> list[float]:
    return [mean(r["losses"][i] for r in rows) for i in range(min(len(r["losses"]) for r in rows))]


def _memory(rows: list[dict]) -> str:
    peaks = [(r.get("train_memory") or {}).get("peak_mb") for r in rows]
    return _range(peaks) if any(p is not None for p in peaks) else "— (not measured: trained before this metric)"


def _json(rows: list[dict]) -> str:
    if all(r.get("json_parse_rate") is None for r in rows):
        return "—"
    return f"{_f(mean(r['json_parse_rate'] for r in rows))} / {_f(mean(r['schema_valid_rate'] for r in rows))}"


def _per_seed(rows: list[dict], key: str) -> str:
    return ", ".join(f"{r['seed']}: {_f(r.get(key))}" for r in rows)


def _rows(results: dict, baseline: list | None) -> list[list]:
    out = [[name, f"{rows[0]['trainable_params']:,}", _per_seed(rows, "exact_match"), _json(rows),
            _per_seed(rows, "final_loss"), _per_seed(rows, "loss_noise"), _range([r["kl_drift"] for r in rows]),
            _range([r["train_seconds"] for r in rows]), _memory(rows),
            "yes" if all(r["from_cache"] for r in rows) else "no"] for name, rows in results.items()]
    if baseline:
        out.append(["no adapter (base model)", "0", _per_seed(baseline, "exact_match"), _json(baseline),
                    "—", "—", "0 (reference)", "—", "—", "—"])
    return out


COLUMNS = ["run", "trainable params", "held-out exact match per seed", "JSON parses / schema valid",
           "final loss per seed (last 5 logged)", "within-run loss noise per seed", "KL drift (mean, seed range)",
           "train s", "train peak RSS MB", "from cache"]
NOISE_NOTE = ("Within-run loss noise: the step-to-step spread of the last 10 logged training losses (SD of "
              "successive differences / sqrt 2); loss differences below it are no finding. Verdicts rest on the "
              "checks' intervals: per-prompt values paired within each seed, bootstrap over seeds then prompts.")


def _deps(ev: dict) -> list[str]:
    return [f"Atlas layers from `{d['claim_id']}` ({d['verdict']}, sha256 {d['claim_sha256'][:12]}): top {d['top_k']} = "
            f"{d['layers']}" for d in ev.get("dependencies", [])]


def _params_plot(res: dict, key: str, ylabel: str, title: str, path) -> None:
    points = {n: (r[0]["trainable_params"], mean(x[key] for x in r)) for n, r in res.items()
              if all(x.get(key) is not None for x in r)}
    plots.params_scatter(points, ylabel, title, path)


@card_for("lora")
def lora_card(rec: dict, out_dir) -> dict:
    ev, stem, cid = rec["evidence"], plot_stem(rec), rec["claim_id"]
    res = ev["results"]
    plots.loss_curves({n: _mean_curve(r) for n, r in res.items()}, f"{cid}: training loss", out_dir / f"{stem}-loss.png")
    _params_plot(res, "exact_match", "held-out exact match (mean over seeds)", f"{cid}: exact match vs parameters",
                 out_dir / f"{stem}-params.png")
    checks, gate = checks_card(rec)
    examples = [f"`{n}` seed {r[0]['seed']} first answers: " + " | ".join(repr(e)[:80] for e in r[0]["examples"])
                for n, r in res.items() if r[0].get("examples")]
    return {"plots": [(f"{stem}-loss.png", "training loss per placement (mean over seeds)"),
                      (f"{stem}-params.png", "held-out exact match against trainable parameters")],
            "tables": checks + [{"title": "Placements (per seed)", "columns": COLUMNS,
                                 "rows": _rows(res, ev.get("baseline"))}],
            "notes": [*gate, _budget(ev), NOISE_NOTE, _run_note(rec, res), *_deps(ev), *examples]}


@card_for("lora_sweep")
def sweep_card(rec: dict, out_dir) -> dict:
    ev, stem, cid = rec["evidence"], plot_stem(rec), rec["claim_id"]
    res = ev["results"]
    plots.loss_curves({n: _mean_curve(r) for n, r in res.items()}, f"{cid}: training loss per point",
                      out_dir / f"{stem}-loss.png")
    _params_plot(res, "final_loss", "final training loss", f"{cid}: loss vs parameters", out_dir / f"{stem}-params.png")
    _params_plot(res, "kl_drift", "KL drift on unrelated families (nats)", f"{cid}: KL drift vs parameters",
                 out_dir / f"{stem}-drift.png")
    loss_note = ("**Loss is not quality.** Training loss compares how easily each setup fits its own rendering of "
                 "the examples, not what it learned; held-out exact match is reported beside it. The criterion "
                 "judges each training example's loss under the trained adapter, paired across points.")
    if any(p.get("format") == "bad" for p in ev["points"]):
        loss_note += (" The deliberately bad format leaks the answer into the prompt, so a low loss there shows "
                      "copying, not learning.")
    checks, gate = checks_card(rec)
    return {"plots": [(f"{stem}-loss.png", "training loss per grid point (mean over seeds)"),
                      (f"{stem}-params.png", "final loss against trainable parameters"),
                      (f"{stem}-drift.png", "KL drift on unrelated families against trainable parameters")],
            "tables": checks + [{"title": "Grid points (per seed)", "columns": COLUMNS,
                                 "rows": _rows(res, ev.get("baseline"))}],
            "notes": [*gate, loss_note, NOISE_NOTE, _budget(ev), _point_budgets(ev), _run_note(rec, res), *_deps(ev)]}


@card_for("lora_adapter_ablation")
def adapter_card(rec: dict, out_dir) -> dict:
    ev, stem = rec["evidence"], plot_stem(rec)
    layers = sorted({int(k) for s in ev["per_seed"] for k in s["effects"]})
    eff = [mean(s["effects"].get(str(i), 0.0) for s in ev["per_seed"]) for i in layers]
    nrm = [mean(s["norms"].get(str(i), 0.0) for s in ev["per_seed"]) for i in layers]
    plots.effect_and_norm(layers, eff, nrm, f"{rec['claim_id']}: adapter effect and norm per layer (mean over seeds)",
                          out_dir / f"{stem}-layers.png")
    summary = rec.get("summary") or {}
    stats = {s["seed"]: s for s in summary.get("per_seed", [])}
    rows = [[s["seed"], _f(s["exact_match"]), _f(stats.get(s["seed"], {}).get("pearson")),
             _f(stats.get(s["seed"], {}).get("late_share")), _f(stats.get(s["seed"], {}).get("effect_sd")),
             _f(s.get("loss_noise"))] for s in ev["per_seed"]]
    checks, gate = checks_card(rec)
    pooled = ([f"Pooled over seeds: Pearson r {_f(summary.get('pooled_pearson'))}, one permutation test p = "
               f"{_f(summary.get('permutation_p'))} (layers permuted within every seed)."]
              if "permutation_p" in summary else [])
    return {"plots": [(f"{stem}-layers.png", "bars: held-out NLL increase when only that layer's adapter is disabled; "
                                              "line: the layer's adapter norm")],
            "tables": checks + [{"title": "Per seed", "columns": [
                "seed", "held-out exact match", "Pearson r (norm, effect)", "late-layer share",
                "SD of the per-layer effects", "within-run loss noise"], "rows": rows}],
            "notes": [*gate, *pooled, "Effects whose spread across layers is below the training loss's within-run "
                      "noise are degenerate (the adapter is saturated: removing one layer's part changes nothing "
                      "measurable).", _budget(ev), *_deps(ev)]}
