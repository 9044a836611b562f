"""Report card of a steering claim: the null distributions with the observed value, the layer x
alpha sweep, per-seed numbers, per-family effects, example answers and any waived control."""

from __future__ import annotations

from audit import plots
from audit.cards import card_for
from audit.criteria.steering import pooled_null, quantile
from audit.stats import mean, std

_UNITS = {"behavior_logprob": "shift of log P(behavior) (nats)", "generation_length": "shift of answer length "
          "(fraction of max tokens)", "generation_phrase": "shift of the behavior-phrase rate",
          "generation_json": "shift of the JSON-valid rate"}


def _f(x) -> str:
    return "—" if x is None else f"{x:.4g}"


@card_for("steering")
def steering_card(rec: dict, out_dir) -> dict:
    ev, summary = rec["evidence"], rec.get("summary") or {}
    acc = (rec.get("claim") or {}).get("acceptance") or {}
    sign = -1.0 if acc.get("direction") == "decrease" else 1.0
    q = acc.get("null_quantile", 0.95)
    stem = f"plots/{rec['claim_id']}"
    cell = summary.get("control_cell") or (ev.get("control_cells") or [None])[0]
    xlabel = _UNITS.get(ev["metric"], ev["metric"])
    plots_out, tables, notes = [], [], []

    for name, waived in (ev.get("waived") or {}).items():
        notes.append(f"**Waived control `{name}`**: {waived} — confidence is capped at low.")
    for name, per_cell in (ev.get("nulls") or {}).items():
        nulls = per_cell.get(cell)
        if not nulls:
            continue
        observed = [sign * x for x in ev["effect"][cell]]
        null = pooled_null([[sign * x for x in n] for n in nulls])
        obs = mean(observed)
        ctl = (summary.get("controls") or {}).get(name, {})
        p = ctl.get("p", (1 + sum(x >= obs for x in null)) / (len(null) + 1))
        path = f"{stem}-null-{name}.png"
        plots.null_histogram(null, obs, quantile(null, q), q, p,
                             f"{rec['claim_id']}\n{name} null at {cell} ({len(nulls)} seeds x {len(nulls[0])} draws, "
                             f"seed mean)", xlabel, out_dir / path, per_seed_observed=observed)
        plots_out.append((path, f"{name}: null distribution of the seed-mean effect (bars), its "
                                f"{q * 100:g}th percentile (dashed) and the observed effect (red; thin lines: "
                                f"per seed) — {ctl.get('status', '?')}"))
        diags = (ev.get("null_diagnostics") or {}).get(name, {}).get(cell, {})
        if diags:
            cos = mean(d["mean_abs_cos_with_observed"] for d in diags.values())
            extra = ""
            if "mean_fraction_positives_kept" in next(iter(diags.values())):
                kept = mean(d["mean_fraction_positives_kept"] for d in diags.values())
                extra = f"; relabellings kept {kept:.2f} of the original positives on average (pooled shuffle)"
            notes.append(f"`{name}` draws: mean |cos| with the observed direction {cos:.3f}{extra}.")
    if len(ev["cells"]) > 1:
        path = f"{stem}-sweep.png"
        plots.steering_sweep(ev["layers"], ev["alphas"], ev["effect"], ev["collateral"], cell, xlabel,
                             f"{rec['claim_id']}: effect and collateral per layer", out_dir / path)
        plots_out.append((path, "behavior effect (solid) and collateral KL (dotted) per steered layer, mean over seeds"))
        tables.append({"title": "Sweep (mean over seeds)", "columns": ["cell", "effect", "± sd", "collateral KL"],
                       "rows": [[c, _f(mean(ev["effect"][c])), _f(std(ev["effect"][c])), _f(mean(ev["collateral"][c]))]
                                for c in ev["cells"]]})
    if cell:
        rows = []
        for i, seed in enumerate(ev["seeds"]):
            e, c = ev["effect"][cell][i], ev["collateral"][cell][i]
            ps = []
            for name in ("random_vector", "shuffled_label"):
                nulls = (ev.get("nulls") or {}).get(name, {}).get(cell)
                ps.append(_f((1 + sum(sign * x >= sign * e for x in nulls[i])) / (len(nulls[i]) + 1)) if nulls
                          else "waived" if name in (ev.get("waived") or {}) else "—")
            rows.append([seed, _f(e), _f(c), _f(e / c) if c >= acc.get("min_denominator", 1e-3) else "uninformative",
                         *ps])
        tables.append({"title": f"Per seed at {cell}", "columns": ["seed", "effect", "collateral KL", "selectivity",
                                                                   "p random_vector", "p shuffled_label"], "rows": rows})
        fam_rows = [[f, _f(mean(v)), _f(std(v)), _f(mean(ev["base"][f]))] for f, v in ev["effect_by_family"][cell].items()]
        tables.append({"title": f"Effect per eval family at {cell}", "columns": ["family", "effect", "± sd (seeds)",
                                                                                "unsteered score"], "rows": fam_rows})
    ex = ev.get("examples") or {}
    if ex.get("rows"):
        tables.append({"title": f"Example greedy answers (seed {ev['seeds'][0]}, {ex['cell']})",
                       "columns": ["prompt", "unsteered", "steered"],
                       "rows": [[r["prompt"], r["base"], r["steered"]] for r in ex["rows"]]})
    d = ev.get("direction") or {}
    cos = [x for v in d.values() for x in v.get("cos_between_seeds", [])]
    notes.insert(0, f"Direction: {ev['direction_source']}; applied as "
                    f"{'alpha x ||h|| x unit direction' if ev['scale'] == 'norm' else 'alpha x unit direction'} at "
                    f"{'the answer position and every generated position' if ev['positions'] == 'last' else 'every position'}; "
                    f"metric `{ev['metric']}`; {ev['n_prompts']['eval_per_seed']} eval and "
                    f"{ev['n_prompts']['collateral_per_seed']} collateral prompts per seed"
                    + (f"; cosine of the direction between seeds {min(cos):.2f}–{max(cos):.2f}" if cos else "") + ".")
    return {"plots": plots_out, "tables": tables, "notes": notes}
