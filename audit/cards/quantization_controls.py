"""The quantization cards' controls (audit/evidence/quantization_controls.py), reported beside the
verdict: per mode the null histogram and one table row — the mode's KL against same-norm random
weight noise, its exact match against the re-paired floor, or the drift's Spearman against
shuffled layer labels and against the sweeps of same-norm random weight noise."""

from __future__ import annotations

from audit.cards.base import pooled_null_plot


def _f(x) -> str:
    return "—" if x is None else f"{x:.3g}"


def _range(ctl: dict) -> str:
    return f"{_f(ctl['median'])} ({_f(ctl['null_min'])}–{_f(ctl['null_max'])})"


def _records(rec: dict, name: str) -> dict:
    return (rec["evidence"].get("controls") or {}).get(name) or {}


def _per_mode(rec: dict, out_dir, name: str, stem: str, xlabel: str, plot_text, row, title: str,
              columns: list[str]) -> tuple[list, list]:
    """A null histogram per mode (``plot_text(mode, ctl) -> (title, caption)``) and one table row each
    (``row(mode, ctl)``); an undefined or degenerate control gets its row, never a plot."""
    out, rows = [], []
    for i, (mode, ctl) in enumerate(_records(rec, name).items()):
        if ctl.get("undefined") or ctl.get("degenerate"):
            rows.append([mode, *["—"] * (len(columns) - 2), f"{ctl['status']}: {ctl['meaning']}"])
            continue
        plot_title, caption = plot_text(mode, ctl)
        out.append((pooled_null_plot(rec, out_dir, f"{stem}-{i}", ctl, f"{plot_title} ({ctl['n_draws']} draws)", xlabel),
                    caption))
        rows.append(row(mode, ctl))
    return (out, [{"title": title, "columns": columns, "rows": rows}]) if rows else ([], [])


def weight_noise_nulls(rec: dict, out_dir) -> tuple[list, list, list]:
    """(plots, tables, notes) of ``quantization`` + ``random_vector``."""
    from controls.weight_noise import CONFOUND, NAME

    plots_, tables = _per_mode(
        rec, out_dir, NAME, "null-weight-noise", f"KL to {rec['evidence']['reference']} (nats)",
        lambda mode, ctl: (f"{mode}: KL vs random weight noise of its error's row norms",
                           f"random_vector: KL of float32 models with same-norm random weight noise (bars) and of "
                           f"{mode} (line); p(more) = {ctl['p_more']:.3g}, p(less) = {ctl['p_less']:.3g}: "
                           f"{ctl['meaning']}"),
        lambda mode, ctl: [mode, _f(ctl["error_norm"]), _f(ctl["observed"]), _range(ctl),
                           f"{ctl['n_draws']} x {ctl['n_seeds']}", f"{_f(ctl['p_more'])} / {_f(ctl['p_less'])}",
                           f"{ctl['status']}: {ctl['meaning']}"],
        "Control: random_vector — each mode's KL against float32 with random weight noise of the mode's error "
        "norms, row by row (reported beside the verdict, not judged)",
        ["mode", "error norm", "KL", "null median (range)", "draws x seeds", "p more / less harmful", "status"])
    return plots_, tables, [f"{NAME} (weight noise) confound: {CONFOUND}."] if tables else []


def repaired_match_nulls(rec: dict, out_dir) -> tuple[list, list]:
    """(plots, tables) of ``quantization`` + ``shuffled_label``."""
    from controls.repaired_answers import NAME

    return _per_mode(
        rec, out_dir, NAME, "null-repaired-match", "exact match",
        lambda mode, ctl: (f"{mode}: exact match, own prompts vs re-paired answers",
                           f"shuffled_label: {mode}'s greedy answers scored against another prompt's answer of the "
                           f"family (bars, the re-paired floor) and against their own (line); p = {ctl['p']:.3g}, "
                           f"{ctl['status']}"),
        lambda mode, ctl: [mode, _f(ctl["observed"]), _range(ctl), _f(ctl["p"]), str(ctl["prompts_without_donor"]),
                           f"{ctl['status']}: {ctl['meaning']}"],
        "Control: shuffled_label — each mode's exact match against its re-paired floor (its greedy answers scored "
        "on another prompt's answer of the family; reported beside the verdict, not judged)",
        ["mode", "exact match", "re-paired median (range)", "p", "prompts without donor", "status"])


def quantization_nulls(rec: dict, out_dir) -> tuple[list, list, list]:
    """(plots, tables, notes) of every control of a ``quantization`` claim."""
    noise_plots, noise_tables, noise_notes = weight_noise_nulls(rec, out_dir)
    match_plots, match_tables = repaired_match_nulls(rec, out_dir)
    return noise_plots + match_plots, noise_tables + match_tables, noise_notes


def _tops(top: dict) -> str:
    if top["p"] is None:
        return "undefined: a tie at the top"
    return f"{top['matches']} of {top['seeds_decided']} (chance {_f(top['chance'])}, p = {_f(top['p'])})"


def shuffled_layer_nulls(rec: dict, out_dir) -> tuple[list, list]:
    """(plots, tables) of ``quantization_drift`` + ``shuffled_label``."""
    from controls.shuffled_layers import NAME

    return _per_mode(
        rec, out_dir, NAME, "null-shuffled-layers", "Spearman correlation",
        lambda mode, ctl: (f"{mode}: Spearman with {rec['evidence']['reference']} vs shuffled layer labels",
                           f"shuffled_label: Spearman of {mode}'s per-layer effects with the reference's after "
                           f"shuffling the layer labels (bars) and as measured (line); p = {ctl['p']:.3g}, "
                           f"{ctl['status']}"),
        lambda mode, ctl: [mode, _f(ctl["observed"]), _range(ctl), _f(ctl["p"]), _tops(ctl["top"]),
                           f"{ctl['status']}: {ctl['meaning']}"],
        "Control: shuffled_label — each mode's Spearman with the reference against shuffled layer labels "
        "(reported beside the verdict, not judged)",
        ["mode", "Spearman", "null median (range)", "p", "top layer kept (seeds)", "status"])


def _magnitude(m: dict | None) -> str:
    if m is None:
        return "—"
    return (f"{_f(m['observed'])} vs {_f(m['median'])} ({_f(m['null_min'])}–{_f(m['null_max'])}), "
            f"p {_f(m['p_more'])} / {_f(m['p_less'])}: {m['status']}")


def drift_noise_nulls(rec: dict, out_dir) -> tuple[list, list, list]:
    """(plots, tables, notes) of ``quantization_drift`` + ``random_vector``."""
    from controls.drift_noise import CONFOUNDS, NAME

    plots_, tables = _per_mode(
        rec, out_dir, NAME, "null-drift-noise", "Spearman correlation",
        lambda mode, ctl: (f"{mode}: Spearman with {rec['evidence']['reference']} vs random weight noise of its "
                           f"error's row norms",
                           f"random_vector: Spearman with the reference's sweep of the sweeps of float32 models "
                           f"carrying same-norm random weight noise (bars) and of {mode}'s sweep (line); p(more "
                           f"disturbed) = "
                           f"{ctl['p_more']:.3g}, p(less) = {ctl['p_less']:.3g}: {ctl['meaning']}"),
        lambda mode, ctl: [mode, _f(ctl["error_norm"]), _f(ctl["observed"]), _range(ctl),
                           f"{ctl['n_draws']} x {ctl['n_seeds']}", f"{_f(ctl['p_more'])} / {_f(ctl['p_less'])}",
                           _magnitude(ctl.get("magnitude")), f"{ctl['status']}: {ctl['meaning']}"],
        "Control: random_vector — each mode's Spearman with the reference's sweep against the sweeps of float32 "
        "with random weight noise of the mode's error norms, row by row (reported beside the verdict, not judged)",
        ["mode", "error norm", "Spearman", "null median (range)", "draws x seeds", "p more / less disturbed",
         "magnitude ratio vs null (p more / less)", "status"])
    return plots_, tables, [f"{NAME} (weight noise) confound: {CONFOUNDS}."] if tables else []


def drift_nulls(rec: dict, out_dir) -> tuple[list, list, list]:
    """(plots, tables, notes) of every control of a ``quantization_drift`` claim."""
    layer_plots, layer_tables = shuffled_layer_nulls(rec, out_dir)
    noise_plots, noise_tables, noise_notes = drift_noise_nulls(rec, out_dir)
    return layer_plots + noise_plots, layer_tables + noise_tables, noise_notes
