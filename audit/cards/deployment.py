"""Report cards of the deployment claims: layer skipping (quality vs speed per config) and
quantization (speed, memory and quality per mode; causal drift per layer)."""

from __future__ import annotations

from audit import plots
from audit.cards.base import card_for, plot_path
from audit.cards.quantization_controls import drift_nulls, quantization_nulls
from audit.cards.skip_nulls import null_plot, repaired_reference
from audit.stats import mean, median


def _f(x) -> str:
    return "—" if x is None else f"{x:.3g}"


def _mb(x) -> str:
    """A size in MB with its digits (``1,840``, never ``1.84e+03``): the columns say MB."""
    if not isinstance(x, (int, float)):
        return "—"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def _speed_note(speed: dict) -> str:
    return (f"Speed protocol: {speed['prompts']} prompts x {speed['new_tokens']} forced new tokens, batched, "
            f"{speed['warmup']} warm-up + {speed['repeats']} timed repeats, all variants interleaved in one process "
            f"({speed['torch_threads']} torch threads). Thresholds are ratios, never absolute tokens/s.")


def _hardware_note(hw: dict) -> str:
    """One line: the device, CPU, cores, RAM and threads the timings come from."""
    device = f"CUDA {hw.get('cuda_device', '')}".strip() if hw.get("cuda") else "CPU"
    facts = [hw.get("cpu_model"), hw.get("cpu_count") and f"{hw['cpu_count']} cores",
             hw.get("ram_gb") and f"{hw['ram_gb']} GB RAM",
             hw.get("torch_threads") and f"{hw['torch_threads']} torch threads",
             hw.get("bitsandbytes") and f"bitsandbytes {hw['bitsandbytes']}"]
    return f"Hardware: {device}; " + ", ".join(f for f in facts if f) + "."


def _seed_range(values: list[float]) -> str:
    return f"{_f(mean(values))} ({_f(min(values))}–{_f(max(values))})"


def _check_rows(checks: list[dict], prefix: str = "") -> list[list]:
    rows = []
    for c in checks:
        name = prefix + c["check"]
        if "parts" in c:
            rows.append([name, c["status"], "", "", "", "", "yes" if c["strong"] else "no", c.get("detail", "")])
            rows += _check_rows(c["parts"], name + " › ")
            continue
        seeds = ", ".join(f"{s}: {_f(v)}" for s, v in (c.get("per_seed") or {}).items())
        why = "; ".join(c.get("degenerate") or [])
        rows.append([name, c["status"], _f(c.get("estimate")), f"[{_f(c['low'])}, {_f(c['high'])}]",
                     f"{c['relation']} {_f(c['threshold'])}", seeds or "—", "yes" if c["strong"] else "no",
                     "; ".join(x for x in (c.get("method"), why and f"degenerate: {why}", c.get("detail")) if x)])
    return rows


def checks_card(rec: dict) -> tuple[list[dict], list[str]]:
    """Every check's interval with the per-seed values beside it, and the degeneracy gate (when it
    stopped the evidence before any check): the table and notes every training and deployment card shows."""
    summary = rec.get("summary") or {}
    notes = [f"Degenerate evidence (inconclusive before any check): {r}." for r in summary.get("degenerate") or []]
    checks = summary.get("checks") or []
    if not checks or not all("low" in c or "parts" in c for c in checks):  # records from before intervals
        return [], notes
    return [{"title": "Checks: pass when the 95% interval clears the threshold, fail when it shows the opposite, "
                      "else uncertain",
             "columns": ["check", "status", "estimate", "95% interval", "need", "per seed", "strong", "method / why"],
             "rows": _check_rows(checks)}], notes


@card_for("layer_skip")
def layer_skip_card(rec: dict, out_dir) -> dict:
    ev, acc = rec["evidence"], (rec.get("claim") or {}).get("acceptance") or {}
    path = plot_path(rec, "tradeoff")
    plots.skip_tradeoff(ev["configs"], acc.get("faithful_top5_overlap", 0.9), acc.get("min_speedup", 1.05),
                        f"{rec['claim_id']}: quality vs speed per skip config", out_dir / path)
    summary = rec.get("summary") or {}
    status, noisy = summary.get("config_status", {}), summary.get("implausible_timing", {})
    rows = [[c["name"], c["n_skipped"], ",".join(map(str, c["skipped"])),
             _seed_range([s["top5_overlap"] for s in c["seeds"]]),
             _seed_range([s["greedy_agreement"] for s in c["seeds"]]),
             _seed_range([s["prefix_agreement"] for s in c["seeds"]]),
             _seed_range([s["nll_increase"] for s in c["seeds"]]),
             f"{_f(median(c['speedups']))} ({_f(min(c['speedups']))}–{_f(max(c['speedups']))})",
             _f(c.get("compute_ratio")),
             {"pass": "not free", "fail": "FREE", "uncertain": "uncertain"}.get(status.get(c["name"]), "?")
             + (" (implausible timing)" if c["name"] in noisy else "")]
            for c in ev["configs"]]
    notes = [_speed_note(ev["speed"])] + [f"{name}: {why}." for name, why in noisy.items()]
    notes += [_hardware_note(ev["hardware"])] if "hardware" in ev else []
    notes += [
             f"Top-5 overlap: share of the top-5 next tokens at each position of the unmodified model's greedy "
             f"continuation ({ev['max_new_tokens']} tokens max, teacher forced). Greedy agreement: identical "
             f"continuations. {ev['n_prompts']} distinct prompts; values are mean (seed range)."]
    notes += [f"Layers of `{d['claim_id']}` ({d['verdict']}, claim sha256 {d['claim_sha256'][:12]}): "
              f"least important = {d['skipped']}" for d in ev.get("dependencies", [])]
    checks, gate = checks_card(rec)
    random_plots, random_tables = _random_layer_sets(rec, out_dir)
    repaired_plots, repaired_tables = repaired_reference(rec, out_dir)
    null_plots, null_tables = random_plots + repaired_plots, random_tables + repaired_tables
    return {"plots": [(path, "each skip config: top-5 overlap vs tokens/s ratio; shaded = outputs preserved and faster")]
            + null_plots,
            "tables": checks + [{"title": "Skip configs against the unmodified model",
                        "columns": ["config", "layers skipped", "which", "top-5 overlap", "greedy agreement",
                                    "agreeing prefix", "answer NLL increase", "speedup (median, range)",
                                    "compute ratio", "verdict"],
                        "rows": rows}] + null_tables,
            "notes": gate + notes}


def _random_layer_sets(rec: dict, out_dir) -> tuple[list, list]:
    """The random_component control of each skip config (audit/evidence/layer_skip_random.py): its
    null histogram and one table row (reported beside the verdict, not judged)."""
    nulls = ((rec["evidence"].get("controls") or {}).get("random_component")) or {}
    out, rows = [], []
    for i, (name, ctl) in enumerate(nulls.items()):
        path = null_plot(rec, out_dir, f"null-random-layers-{i}", ctl, f"skip {name} vs {ctl['n_draws']} random sets "
                         f"of {ctl['n_layers_skipped']} layers", "top-5 overlap")
        out.append((path, f"random_component: top-5 overlap after skipping random layer sets of the same size "
                          f"(bars) and after skipping {name} (line); p = {ctl['p']:.3g}, {ctl['status']}"))
        rows.append([name, ctl["n_layers_skipped"], _f(ctl["observed"]), _f(ctl["median"]), _f(ctl["q75"]),
                     f"{ctl['n_draws']} x {ctl['n_seeds']}", _f(ctl["p"]), f"{ctl['status']}: {ctl['meaning']}"])
    if not rows:
        return [], []
    return out, [{"title": "Control: random_component — each config against random layer sets of its size "
                           "(reported beside the verdict, not judged)",
                  "columns": ["config", "layers", "top-5 overlap", "null median", "null 75th", "draws x seeds", "p",
                              "status"], "rows": rows}]


@card_for("quantization")
def quantization_card(rec: dict, out_dir) -> dict:
    ev = rec["evidence"]
    order, modes, ref = ev["order"], ev["modes"], ev["reference"]
    acc = (rec.get("claim") or {}).get("acceptance") or {}
    base = acc.get("baseline", ref)
    ratio = {m: median(modes[m]["speed_ratios"][base]) if m != base else 1.0 for m in order}
    em = {m: mean(s["exact_match"] for s in modes[m]["seeds"]) for m in order}
    kl = {m: mean(s["kl"] for s in modes[m]["seeds"]) for m in order}
    path = plot_path(rec, "modes")
    plots.mode_bars(order, [(f"tokens/s ratio to {base}", [ratio[m] for m in order]),
                            ("weights footprint (MB)", [modes[m]["memory_mb"] for m in order]),
                            (f"KL to {ref} (nats)", [kl[m] for m in order]),
                            ("exact match", [em[m] for m in order])],
                    f"{rec['claim_id']}: precision modes side by side", out_dir / path)
    peak = {m: modes[m].get("peak_memory") or {} for m in order}
    rows = [[m, _f(modes[m]["tokens_per_s"]), _f(ratio[m]), _mb(modes[m]["memory_mb"]), _mb(peak[m].get("peak_mb")),
             _mb(peak[m].get("growth_mb")), _f(em[m]), _f(kl[m])] for m in order]
    checks, gate = checks_card(rec)
    noise_plots, noise_tables, noise_notes = quantization_nulls(rec, out_dir)
    return {"plots": [(path, "speed ratio, memory, KL and exact match per mode (one run, same prompts)")] + noise_plots,
            "tables": checks + [{"title": "Modes", "columns": ["mode", "tokens/s (this machine)", f"ratio to {base} (median)",
                                                      "weights footprint (MB)", "peak RSS during run (MB)",
                                                      "RSS growth during run (MB)", "exact match", f"KL to {ref}"],
                        "rows": rows}] + noise_tables,
            "notes": gate + noise_notes + [_speed_note(ev["speed"]), _hardware_note(ev.get("hardware", {})),
                      "Memory: the weights' footprint (the memory check), and the process RSS during each mode's "
                      "untimed exact-match/KL pass — its peak counts the models of earlier modes, still loaded; "
                      "its growth is the mode's working memory.",
                      f"Exact match: the greedy answer ({ev['max_new_tokens']} tokens) starts with the reference answer. "
                      f"{ev['n_prompts']} distinct prompts."]}


@card_for("quantization_drift")
def drift_card(rec: dict, out_dir) -> dict:
    ev = rec["evidence"]
    effects = ev["per_seed_layer_effects"]
    per_mode = {m: [mean(seed[i] for seed in per_seed) for i in range(len(ev["layers"]))]
                for m, per_seed in effects.items()}
    path = plot_path(rec, "layers")
    plots.mode_layer_effects(ev["layers"], per_mode, ev["metric"], f"{rec['claim_id']}: per-layer {ev['method']} "
                             f"effect under each mode (mean over seeds)", out_dir / path)
    checks, gate = checks_card(rec)
    summary = rec.get("summary") or {}
    top = summary.get("reference_top")
    notes = [f"Top layer under {ev['reference']}: L{top} "
             f"({'separated from every other layer' if summary.get('reference_top_separated') else 'not separated: a tie at rank 1'})."
             ] if top is not None else []
    layer_plots, layer_tables, layer_notes = drift_nulls(rec, out_dir)
    return {"plots": [(path, f"per-layer effect under {ev['reference']} and each quantized mode")] + layer_plots,
            "tables": checks + layer_tables,
            "notes": gate + notes + layer_notes + [
                "Each mode's effects are KL against that mode's own unablated model: the drift of the causal surface, "
                "not the quantization error itself. Spearman and magnitude intervals are bootstrap over prompts "
                "(stratified by family, seeds pooled); per seed values sit beside them."]}
