"""The registry of report cards and what every card shares (plot paths, sizes, the confidence
sentence). A card builder (one module per evidence ``kind``) returns ``{"plots":
[(relative_png, caption)], "tables": [{"title", "columns", "rows"}], "notes": [str]}``; the
templates render every card the same way.
"""

from __future__ import annotations

import re

from audit.ledger import slug
from audit.registry import Registry

CARDS: Registry = Registry("report card (evidence kind)")


def card_for(kind: str):
    return CARDS.register(kind)


def plot_stem(rec: dict) -> str:
    """Where a claim's plots go, relative to the report: ``plots/<slug of the claim id>`` (the id
    read back from the ledger never becomes a path by itself)."""
    return f"plots/{slug(rec['claim_id'])}"


def plot_path(rec: dict, name: str) -> str:
    return f"{plot_stem(rec)}-{name}.png"


def pooled_null_plot(rec: dict, out_dir, stem: str, ctl: dict, title: str, xlabel: str) -> str:
    """The histogram of a pooled null test's record ``ctl`` (bars, its bulk quantile, the observed
    value and each seed's); its path."""
    from audit import plots
    from audit.criteria.steering import BULK, pooled_null

    path = plot_path(rec, stem)
    plots.null_histogram(pooled_null(ctl["null_per_seed"]), ctl["observed"], ctl["q75"], BULK, ctl["p"],
                         f"{rec['claim_id']}\n{title} ({ctl['n_seeds']} seeds, seed mean)", xlabel, out_dir / path,
                         per_seed_observed=ctl["observed_per_seed"])
    return path


def fmt_mb(mb) -> str:
    """A memory size given in MB as people read it: ``377 MB``, ``1.84 GB`` (``—`` when unknown)."""
    if not isinstance(mb, (int, float)) or isinstance(mb, bool):
        return "—"
    if abs(mb) >= 1024:
        return f"{mb / 1024:.3g} GB"
    return f"{mb:.3g} MB" if abs(mb) < 100 else f"{mb:.0f} MB"


def _level(level) -> str:
    return str(level or "none").replace("_", " ")


def _clean(note: str) -> str:
    """``1 evidence kind(s)`` -> ``1 evidence kind``, ``3 seed(s)`` -> ``3 seeds``."""
    return re.sub(r"\b(\d+) ((?:\w+ )?\w+)\(s\)", lambda m: f"{m[1]} {m[2]}{'' if m[1] == '1' else 's'}", str(note))


def confidence_sentence(rec: dict) -> str:
    """Why the record's confidence is what it is, in one sentence: its cap and what set it (the
    notes the runner stored, or the ladder applied to what ran), and the step below the cap when
    the verdict is not strong."""
    from audit.confidence import LEVELS, claim_cap, record_cap

    verdict, conf = rec.get("verdict"), rec.get("confidence") or "none"
    if verdict == "pending":
        return "No confidence: not run here (the model's weights are not on this machine), so it is no evidence."
    if verdict == "errored":
        return "No confidence: the evidence could not be computed."
    notes = [n for n in rec.get("confidence_notes") or [] if not str(n).startswith("not strong")]
    cap, older = record_cap(rec), ""
    if not notes:  # a record from before the runner stored its cap: the ladder applied to what it says ran
        claim = rec.get("claim") or {}
        controls = claim.get("controls") or {}
        stage = claim.get("stage") if claim.get("stage") in ("exploratory", "confirmatory") else "confirmatory"
        cap, notes = claim_cap(set(rec.get("evidence_kinds") or []), set(rec.get("controls_run") or []),
                               len(controls.get("seeds") or []), bool(controls.get("waive")), stage=stage)
        older = " (recorded before caps were stored: the cap is the ladder applied to what the record says ran)"
    why = "; ".join(_clean(n) for n in notes)
    if verdict not in ("supported", "refuted"):
        return (f"No confidence: an {verdict or 'undecided'} verdict carries none; a decided one could reach at most "
                f"{_level(cap)} ({why}).")
    if conf in LEVELS and cap in LEVELS and LEVELS.index(conf) > LEVELS.index(cap):
        return (f"{_level(conf).capitalize()} confidence, as recorded by an older version; today's ladder caps this "
                f"evidence at {_level(cap)} ({why}).")
    step = ""
    if conf in LEVELS and cap in LEVELS and LEVELS.index(conf) < LEVELS.index(cap):
        step = (f"; the verdict is not strong (its decisive interval clears the threshold by less than its "
                f"half-width), so one step below the cap")
    return f"{_level(conf).capitalize()} confidence: the cap is {_level(cap)} ({why}){step}{older}."


def build_card(rec: dict, out_dir) -> dict:
    """The card of one record; records without a registered builder get an empty card."""
    kind = (rec.get("evidence") or {}).get("kind")
    empty = {"plots": [], "tables": [], "notes": []}
    if kind in CARDS:
        return {**empty, **CARDS.get(kind)(rec, out_dir)}
    return empty
