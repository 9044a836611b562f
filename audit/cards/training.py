"""Report cards of the training claims: LoRA placements, sweeps and per-layer adapter ablation.

Each card leads with the metric its verdict used (the first plot, the first note, the column after
the run's name), draws the base model (no adapter) where the evidence measured it, and uses a log
axis where the values' differences are tiny (``plots.wants_log``). Memory is in MB / GB."""

from __future__ import annotations

from audit import plots
from audit.cards.base import card_for, fmt_mb, plot_stem
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
    peaks = [p for p in ((r.get("train_memory") or {}).get("peak_mb") for r in rows) if isinstance(p, (int, float))]
    if not peaks:
        return "— (not measured: trained before this metric)"
    return f"{fmt_mb(mean(peaks))} ({fmt_mb(min(peaks))}–{fmt_mb(max(peaks))})"


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
           "train s", "train peak RSS (mean, range)", "from cache"]
# the column of each metric a verdict can use (``_lead`` moves it next to the run's name)
METRIC_COLUMN = {"exact_match": 2, "final_loss": 4, "kl_drift": 6, "trainable_params": 1}
METRIC_NAMES = {"exact_match": "held-out exact match", "final_loss": "final training loss (answer tokens)",
                "kl_drift": "KL drift on unrelated families (nats)", "trainable_params": "trainable parameters"}
NOISE_NOTE = ("Within-run loss noise: the step-to-step spread of the last 10 logged training losses (SD of "
              "successive differences / sqrt 2); loss differences below it are no finding. Verdicts rest on the "
              "checks' intervals: per-prompt values paired within each seed, bootstrap over seeds then prompts.")


def _deps(ev: dict) -> list[str]:
    return [f"Atlas layers from `{d['claim_id']}` ({d['verdict']}, sha256 {d['claim_sha256'][:12]}): top {d['top_k']} = "
            f"{d['layers']}" for d in ev.get("dependencies", [])]


def _given(rows: dict) -> list[str]:
    """Where a run started from an adapter the researcher supplied: which one, and the caveat that
    its own training data is unknown here."""
    seen = {}
    for name, rs in rows.items():
        for r in rs:
            if r.get("given_adapter"):
                seen.setdefault(name, r["given_adapter"])
    return [f"`{name}` starts from the given adapter `{g['path']}` (sha256 {g['sha256'][:12]}, rank {g['r']}, alpha "
            f"{g['lora_alpha']}{', base ' + g['base_model_name_or_path'] if g.get('base_model_name_or_path') else ''}"
            f"): {'trained further by this claim' if g['train'] else 'measured as given, not trained'}. What it was "
            f"trained on is unknown to mi-audit: if that included these held-out prompts, its exact match is "
            f"not held-out." for name, g in seen.items()]


def _base(baseline: list | None, key: str) -> float | None:
    """The base model's (no adapter) mean of ``key``, when the evidence measured it."""
    values = [b.get(key) for b in baseline or [] if isinstance(b.get(key), (int, float))]
    return mean(values) if values else None


def _params_plot(res: dict, key: str, ylabel: str, title: str, path, baseline: list | None = None) -> None:
    points = {n: (r[0]["trainable_params"], mean(x[key] for x in r)) for n, r in res.items()
              if all(x.get(key) is not None for x in r)}
    plots.params_scatter(points, ylabel, title, path, base=_base(baseline, key))


def _lead(table: dict, metric: str) -> dict:
    """The table with the verdict's metric as the column after the run's name."""
    i = METRIC_COLUMN.get(metric, 1)
    order = [0, i] + [j for j in range(1, len(table["columns"])) if j != i]
    return {**table, "columns": [table["columns"][j] for j in order],
            "rows": [[row[j] for j in order] for row in table["rows"]]}


def _metric_note(metric: str, how: str) -> str:
    return f"**The verdict used {METRIC_NAMES.get(metric, metric)}**: {how}"


@card_for("lora")
def lora_card(rec: dict, out_dir) -> dict:
    ev, stem, cid = rec["evidence"], plot_stem(rec), rec["claim_id"]
    res = ev["results"]
    _params_plot(res, "exact_match", "held-out exact match (mean over seeds)", f"{cid}: exact match vs parameters",
                 out_dir / f"{stem}-params.png", ev.get("baseline"))
    plots.loss_curves({n: _mean_curve(r) for n, r in res.items()}, f"{cid}: training loss",
                      out_dir / f"{stem}-loss.png")
    checks, gate = checks_card(rec)
    examples = [f"`{n}` seed {r[0]['seed']} first answers: " + " | ".join(repr(e)[:80] for e in r[0]["examples"])
                for n, r in res.items() if r[0].get("examples")]
    lead = _metric_note("exact_match", "per held-out prompt, paired within each seed, each placement against the "
                                       "others (the checks below); the dashed line is the base model without adapter.")
    return {"plots": [(f"{stem}-params.png", "held-out exact match against trainable parameters (dashed: the base "
                                             "model, no adapter)"),
                      (f"{stem}-loss.png", "training loss per placement (mean over seeds)")],
            "tables": checks + [_lead({"title": "Placements (per seed)", "columns": COLUMNS,
                                       "rows": _rows(res, ev.get("baseline"))}, "exact_match")],
            "notes": [lead, *gate, _budget(ev), *_given(res), NOISE_NOTE, _run_note(rec, res), *_deps(ev), *examples]}


_SWEEP_PLOTS = {"final_loss": ("params", "final training loss", "loss vs parameters",
                                 "final loss against trainable parameters"),
                "kl_drift": ("drift", "KL drift on unrelated families (nats)", "KL drift vs parameters",
                             "KL drift on unrelated families against trainable parameters")}


@card_for("lora_sweep")
def sweep_card(rec: dict, out_dir) -> dict:
    ev, stem, cid = rec["evidence"], plot_stem(rec), rec["claim_id"]
    res = ev["results"]
    metric = ((rec.get("claim") or {}).get("acceptance") or {}).get("metric") or "final_loss"
    plots.loss_curves({n: _mean_curve(r) for n, r in res.items()}, f"{cid}: training loss per point",
                      out_dir / f"{stem}-loss.png")
    made = []
    for key, (name, ylabel, title, caption) in _SWEEP_PLOTS.items():
        _params_plot(res, key, ylabel, f"{cid}: {title}", out_dir / f"{stem}-{name}.png", ev.get("baseline"))
        made.append((key, (f"{stem}-{name}.png", caption)))
    made.sort(key=lambda kv: kv[0] != metric)  # the verdict's metric first
    loss_note = ("**Loss is not quality.** Training loss compares how easily each setup fits its own rendering of "
                 "the examples, not what it learned; held-out exact match is reported beside it. The criterion "
                 "judges each training example's loss under the trained adapter, paired across points.")
    if any(p.get("format") == "bad" for p in ev["points"]):
        loss_note += (" The deliberately bad format leaks the answer into the prompt, so a low loss there shows "
                      "copying, not learning.")
    checks, gate = checks_card(rec)
    lead = _metric_note(metric, "per example, paired across grid points within each seed (the checks below).")
    control_tables, control_notes = _shuffled_point(ev, res, metric)
    return {"plots": [p for _, p in made] + [(f"{stem}-loss.png", "training loss per grid point (mean over seeds)")],
            "tables": checks + [_lead({"title": "Grid points (per seed)", "columns": COLUMNS,
                                       "rows": _rows(res, ev.get("baseline"))}, metric)] + control_tables,
            "notes": [lead, *gate, loss_note, *control_notes, NOISE_NOTE, _budget(ev), _point_budgets(ev),
                      *_given(res), _run_note(rec, res), *_deps(ev)]}


def _shuffled_point(ev: dict, res: dict, metric: str) -> tuple[list, list]:
    """A sweep's shuffled-answers control (controls/shuffled_answers.py): the point beside its
    shuffled-answers run, in the grid's columns, and the reading (reported, not judged)."""
    ctl = (ev.get("controls") or {}).get("shuffled_answers")
    if not ctl:
        return [], []
    point = ctl["point"]
    table = {"title": f"Control: shuffled_answers — `{point}` trained again on answers permuted among its training "
                      f"prompts (reported beside it, not judged)", "columns": COLUMNS,
             "rows": _rows({point: res[point], f"{point} on shuffled answers": ctl["rows"]}, None)}
    return [_lead(table, metric)], [
        f"{ctl['reason']}. A final loss the shuffled-answers run reaches as well measures fitting the examples (their "
        f"format, memorised pairs), not learning which answer belongs to which prompt; held-out exact match and "
        f"answer NLL show what was learned."]


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
            "notes": [_metric_note("adapter_concentration", "the Pearson r between each layer's adapter norm and the "
                                   "held-out NLL increase when only that layer's adapter is disabled, and the share of "
                                   "that effect in the last third of the layers (pooled over seeds)."),
                      *gate, *pooled, "Effects whose spread across layers is below the training loss's within-run "
                      "noise are degenerate (the adapter is saturated: removing one layer's part changes nothing "
                      "measurable).", _budget(ev), *_given({"adapter": ev["per_seed"]}), *_deps(ev)]}
