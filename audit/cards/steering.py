"""Report card of a steering claim: the intervals the verdict rests on (effect, collateral,
selectivity or the layer / ratio contrasts) beside the per-seed values, each null control's pooled
test (p, quantiles, draws, |cos| with the real direction), the null histograms, the layer x alpha
sweep, per-family effects, example answers, any waived control and the prompting baseline
(:mod:`audit.cards.prompting_baseline`)."""

from __future__ import annotations

from audit import plots
from audit.cards.base import card_for, plot_stem
from audit.cards.prompting_baseline import section as prompting_section
from audit.criteria.steering import BULK, CONTROL_NAMES, pooled_null, quantile
from audit.stats import mean, std

_UNITS = {"behavior_logprob": "shift of log P(behavior) (nats)", "generation_length": "shift of answer length "
          "(fraction of max tokens)", "generation_phrase": "shift of the behavior-phrase rate",
          "generation_json": "shift of the JSON-valid rate"}


def _f(x) -> str:
    return "—" if x is None else f"{x:.4g}"


def _ci(pair) -> str:
    return "—" if not pair or pair[0] is None else f"[{pair[0]:.4g}, {pair[1]:.4g}]"


def _seeds(values) -> str:
    return ", ".join(_f(v) for v in values) if values else "—"


def _interval_rows(summary: dict) -> list[list]:
    """[quantity, pooled estimate, 95% CI, per-seed values, threshold, status] for every decided quantity."""
    checks = {c["check"]: c for c in summary.get("checks") or []}
    status = lambda name: (checks.get(name) or {}).get("status", "—")  # noqa: E731
    rows = []
    if "effect_ci" in summary and "numerator_ci" not in summary:  # steering
        lin = summary.get("selectivity_linear") or {}
        acc_k = lin.get("k")
        rows += [["effect", _f(summary["effect"]), _ci(summary["effect_ci"]), _seeds(summary.get("effect_per_seed")),
                  f"> min_effect {_f((checks.get('effect') or {}).get('support_above'))}", status("effect")],
                 ["collateral KL", _f(summary["collateral"]), _ci(summary.get("collateral_ci")),
                  _seeds(summary.get("collateral_per_seed")),
                  f"< max_collateral {_f((checks.get('collateral') or {}).get('at_most'))}", status("collateral")],
                 [f"effect - {_f(acc_k)} x collateral", _f(lin.get("estimate")), _ci([lin.get("low"), lin.get("high")]),
                  "—", f"> 0 (selectivity {_f(summary.get('selectivity'))})", status("selectivity")]]
    if "numerator_ci" in summary:  # steering_ratio
        lin, k = summary.get("a_minus_k_b") or {}, summary.get("min_ratio")
        rows += [["effect (all eval families)", _f(summary["effect"]), _ci(summary.get("effect_ci")),
                  _seeds(summary.get("effect_per_seed")), "controls", "—"],
                 [f"numerator {summary['numerator']}", _f(summary["numerator_effect"]), _ci(summary["numerator_ci"]),
                  _seeds(summary.get("numerator_per_seed")), "", ""],
                 [f"denominator {summary['denominator']}", _f(summary["denominator_effect"]),
                  _ci(summary["denominator_ci"]), _seeds(summary.get("denominator_per_seed")), "informative", ""],
                 [f"numerator - {_f(k)} x denominator", _f(lin.get("estimate")), _ci([lin.get("low"), lin.get("high")]),
                  "—", f"> 0 (ratio {_f(summary.get('ratio'))})", status("ratio")]]
    if "layer_ci" in summary:  # steering_layer_sensitivity
        per_seed = list((summary.get("per_seed") or {}).values())
        layers = summary["layers"]
        for i, layer in enumerate(layers):
            mark = " (best)" if layer == summary["best_layer"] else ""
            rows.append([f"L{layer}{mark}", _f(summary["pooled"][i]), _ci(summary["layer_ci"][f"L{layer}"]),
                         _seeds([s[i] for s in per_seed]),
                         "> min_effect" if mark else "", status("best-layer effect") if mark else ""])
        for name, r in (summary.get("best_minus_k_other") or {}).items():
            rows.append([f"L{summary['best_layer']} - {_f(summary['min_ratio'])} x {name}", _f(r["estimate"]),
                         _ci([r["low"], r["high"]]), "—", "> 0", "shown" if r["low"] > 0 else "not shown"])
    return rows


def _control_rows(summary: dict) -> list[list]:
    rows = []
    for name, c in (summary.get("controls") or {}).items():
        if c.get("status") == "waived" or "p" not in c:
            rows.append([name, c.get("status", "—"), "—", "—", "—", "—", "—", "—", "—", "—", "—"])
            continue
        draws = f"{c['n_draws']} x {c['n_seeds']} seeds" if "n_draws" in c and "n_seeds" in c else "—"
        rows.append([name, c.get("status", "—"), draws, _f(c.get("observed")), _f(c["p"]),  # older records lack some
                     _f(c.get("median")), _f(c.get("q75")), _f(c.get("q_significance", c.get("quantile"))),
                     _seeds(c.get("per_seed_p")),
                     f"{_f(c.get('max_abs_cos_with_observed'))} / {_f(c.get('median_abs_cos_with_observed'))}",
                     _f(c.get("median_norm_ratio"))])
    return rows


@card_for("steering")
def steering_card(rec: dict, out_dir) -> dict:
    ev, summary = rec["evidence"], rec.get("summary") or {}
    acc = (rec.get("claim") or {}).get("acceptance") or {}
    sign = -1.0 if acc.get("direction") == "decrease" else 1.0
    stem = plot_stem(rec)
    cell = summary.get("cell") or (ev.get("control_cells") or [None])[0]
    xlabel = _UNITS.get(ev["metric"], ev["metric"])
    plots_out, tables, notes = [], [], []

    for name, waived in (ev.get("waived") or {}).items():
        notes.append(f"**Waived control `{name}`**: {waived} — confidence is capped at low.")
    if summary.get("degenerate"):
        notes.append("**Degenerate evidence** (no finding): " + "; ".join(summary["degenerate"]))
    rows = _interval_rows(summary)
    if rows:
        method = (summary.get("inference") or {})
        tables.append({"title": f"Intervals the verdict rests on at {cell} (95%, {method.get('method', 'bootstrap')}, "
                                f"{method.get('family_size', '?')} simultaneous)",
                       "columns": ["quantity", "pooled", "95% CI", "per seed", "claimed", "status"], "rows": rows})
    crow = _control_rows(summary)
    if crow:
        levels = [c.get("significance_level") for c in (summary.get("controls") or {}).values()
                  if c.get("significance_level")]
        sig = f"null {levels[0] * 100:g}th" if levels else "null significance quantile"
        tables.append({"title": f"Null controls at {cell}: one pooled test over seeds (passed: pooled p <= max_p; "
                                f"refuted: observed at or below the null's {BULK * 100:g}th percentile; else "
                                "inconclusive)",
                       "columns": ["control", "status", "draws", "observed", "pooled p", "null median",
                                   f"null {BULK * 100:g}th", sig, "per-seed p", "abs cos with real: max / median",
                                   "norm / real (median)"], "rows": crow})
    for name in CONTROL_NAMES:
        nulls = (ev.get("nulls") or {}).get(name, {}).get(cell)
        if not nulls:
            continue
        ctl = (summary.get("controls") or {}).get(name, {})
        null = pooled_null([[sign * x for x in n] for n in nulls])
        observed = ctl.get("observed_per_seed") or [sign * x for x in ev["effect"][cell]]
        obs = ctl.get("observed", mean(observed))
        p = ctl.get("p", (1 + sum(x >= obs for x in null)) / (len(null) + 1))
        path = f"{stem}-null-{name}.png"
        plots.null_histogram(null, obs, quantile(null, BULK), BULK, p,
                             f"{rec['claim_id']}\n{name} null at {cell} ({len(nulls)} seeds x {len(nulls[0])} draws, "
                             f"seed mean)", xlabel, out_dir / path, per_seed_observed=observed)
        plots_out.append((path, f"{name}: pooled null of the seed-mean effect (bars), its {BULK * 100:g}th "
                                f"percentile (dashed: at or below it the null refutes) and the observed effect (red; "
                                f"thin lines: per seed) — {ctl.get('status', '?')}, p = {_f(p)}"))
    extra_plots, extra_tables, extra_notes = prompting_section(rec, out_dir, stem, xlabel)
    plots_out += extra_plots
    tables += extra_tables
    notes += extra_notes
    if len(ev["cells"]) > 1:
        path = f"{stem}-sweep.png"
        plots.steering_sweep(ev["layers"], ev["alphas"], ev["effect"], ev["collateral"], cell, xlabel,
                             f"{rec['claim_id']}: effect and collateral per layer", out_dir / path)
        plots_out.append((path, "behavior effect (solid) and collateral KL (dotted) per steered layer, mean over seeds"))
        tables.append({"title": "Sweep (mean over seeds; intervals above)", "columns": ["cell", "effect", "± sd (seeds)",
                                                                                       "collateral KL"],
                       "rows": [[c, _f(mean(ev["effect"][c])), _f(std(ev["effect"][c])), _f(mean(ev["collateral"][c]))]
                                for c in ev["cells"]]})
    if cell:
        fam_rows = [[f, _f(mean(v)), _seeds(v), _f(mean(ev["base"][f]))]
                    for f, v in ev["effect_by_family"][cell].items()]
        tables.append({"title": f"Effect per eval family at {cell}", "columns": ["family", "effect", "per seed",
                                                                                "unsteered score"], "rows": fam_rows})
    ex = ev.get("examples") or {}
    if ex.get("rows"):
        tables.append({"title": f"Example greedy answers (seed {ev['seeds'][0]}, {ex['cell']})",
                       "columns": ["prompt", "unsteered", "steered"],
                       "rows": [[r["prompt"], r["base"], r["steered"]] for r in ex["rows"]]})
    d = ev.get("direction") or {}
    cos = [x for v in d.values() for x in v.get("cos_between_seeds", [])]
    notes.insert(0, f"Direction: {direction_text(ev.get('direction_source'))}; applied as "
                    f"{'alpha x ||h|| x unit direction' if ev['scale'] == 'norm' else 'alpha x unit direction'} at "
                    f"{'the answer position and every generated position' if ev['positions'] == 'last' else 'every position'}; "
                    f"metric `{ev['metric']}`; {ev['n_prompts']['eval_per_seed']} eval and "
                    f"{ev['n_prompts']['collateral_per_seed']} collateral prompts per seed"
                    + (f"; cosine of the direction between seeds {min(cos):.2f}–{max(cos):.2f}" if cos else "") + ". "
                    "Random-vector draws have the real direction's norm; shuffled-label draws are divided by the real "
                    "direction's norm (not their own), so a relabelling that keeps most labels is a shorter near-copy.")
    return {"plots": plots_out, "tables": tables, "notes": notes}


def direction_text(source) -> str:
    """'contrastive', or a file direction's provenance in one phrase (file, format, sha256, layers, norms)."""
    if not isinstance(source, dict):
        return str(source or "contrastive")
    norms = source.get("norm_per_layer") or {}
    details = [str(source.get("format") or ""),
               f"sha256 {source['sha256'][:12]}…" if source.get("sha256") else "",
               f"made by {source['producer']}" if source.get("producer") else "",
               "norm before normalising " + ", ".join(f"L{k} {float(v):.3g}" for k, v in norms.items()) if norms else ""]
    details = [d for d in details if d]
    head = f"file {source.get('file', '?')}"
    return f"{head} ({'; '.join(details)})" if details else head
