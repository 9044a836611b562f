"""The prompting baseline on a steering card (controls/prompting_baseline.py): a forest plot of the
prompting effect, the steering effect and steering - prompting (pooled and per seed, 95%
simultaneous intervals over prompts) and their table rows; a note when prompting beats steering."""

from __future__ import annotations

from audit import plots
from controls.prompting_baseline import BEATEN, CAP, NAME


def _row(r: dict) -> list:
    return [f"{r['estimate']:.4g}", f"[{r['low']:.4g}, {r['high']:.4g}]"]


def section(rec: dict, out_dir, stem: str, xlabel: str) -> tuple[list, list, list]:
    """(plots, tables, notes) of the baseline, empty when the claim has none."""
    pb = (rec.get("summary") or {}).get(NAME)
    if not pb:
        return [], [], []
    pooled = pb["pooled"]["rows"]
    seeds = pb.get("per_seed") or {}
    rows = [[r["contrast"], *_row(r), "; ".join(f"seed {s}: {v['rows'][i]['estimate']:.4g}" for s, v in seeds.items()),
             pb["status"] if i == 2 else ""] for i, r in enumerate(pooled)]
    forest = [{**r, "contrast": f"{r['contrast']} (pooled)"} for r in pooled] + \
        [{**v["rows"][i], "contrast": f"{v['rows'][i]['contrast']} (seed {s})"} for s, v in seeds.items() for i in range(3)]
    path = f"{stem}-prompting-baseline.png"
    plots.intervals(forest, 0.0, f"{rec['claim_id']}: prompting baseline vs steering at {pb['cell']}", out_dir / path,
                    xlabel=xlabel)
    where = "before the user prompt" if pb["position"] == "prefix" else "as a system message"
    table = {"title": f"Prompting baseline at {pb['cell']}: the instruction {pb['instruction']!r} {where}, no steering "
                      f"vector (95% simultaneous CI over prompts, {pb['pooled']['inference']['method']})",
             "columns": ["quantity", "pooled", "95% CI", "per seed", "status"], "rows": rows}
    notes = [f"**Prompting beats steering** at {pb['cell']}: asking for the behaviour in words moves it more than the "
             f"steering vector, prompt by prompt — confidence capped at {CAP}."] if pb.get("beaten") else []
    caption = (f"prompting effect, steering effect and steering - prompting per prompt (pooled and per seed; "
               f"{BEATEN if pb.get('beaten') else pb['status']})")
    return [(path, caption)], [table], notes
