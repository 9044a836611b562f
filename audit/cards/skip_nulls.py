"""The nulls on the layer-skip card: one histogram per control and config (:func:`audit.cards.base.pooled_null_plot`), and
the re-paired reference (audit/evidence/layer_skip_repaired.py): per config the null of top-5
overlap against another prompt's unmodified output and one table row with the real overlap and
greedy agreement beside their re-paired floors (reported, not judged)."""

from __future__ import annotations

from audit.cards.base import pooled_null_plot as null_plot
from controls.repaired_answers import NAME


def _f(x) -> str:
    return "—" if x is None else f"{x:.3g}"


def _beside(test: dict) -> list[str]:
    """Observed, null median (range), p of one pooled test."""
    return [_f(test["observed"]), f"{_f(test['median'])} ({_f(test['null_min'])}–{_f(test['null_max'])})", _f(test["p"])]


def repaired_reference(rec: dict, out_dir) -> tuple[list, list]:
    """(plots, tables) of the control; empty when the claim did not run it."""
    nulls = (rec["evidence"].get("controls") or {}).get(NAME) or {}
    out, rows = [], []
    for i, (name, ctl) in enumerate(nulls.items()):
        if ctl.get("undefined"):
            rows.append([name, "—", "—", "—", "—", "—", "—", "—", f"undefined: {ctl['reason']}"])
            continue
        path = null_plot(rec, out_dir, f"null-repaired-reference-{i}", ctl, f"skip {name}: own prompt vs "
                         f"{ctl['n_draws']} re-pairings", "top-5 overlap with the unmodified model")
        out.append((path, f"shuffled_label: top-5 overlap of the skipped model with the unmodified model on another "
                          f"prompt of the family (bars, the re-paired floor) and on its own prompt (line); "
                          f"p = {ctl['p']:.3g}, {ctl['status']}"))
        agree = ctl["agreement"]
        rows.append([name, *_beside(ctl), *_beside(agree), str(ctl["prompts_without_donor"]),
                     f"{ctl['status']}: {ctl['meaning']} (greedy agreement: {agree['status']})"])
    if not rows:
        return [], []
    return out, [{"title": "Control: shuffled_label — each config's output against the unmodified model's on another "
                           "prompt of the family, the re-paired floor (reported beside the verdict, not judged)",
                  "columns": ["config", "top-5 overlap", "re-paired median (range)", "p", "greedy agreement",
                              "re-paired median (range)", "p", "prompts without donor", "status"], "rows": rows}]
