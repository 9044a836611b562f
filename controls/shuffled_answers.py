"""The shuffled-answers control for training claims: the candidate placement trained again on the
same training prompts with their answers permuted among them (a derangement drawn by the seed,
``random.Random("shuffled_answers:<seed>")``). An adapter that learns the task must do better on
the held-out prompts than one trained on answers that do not belong to their prompts; if the
shuffled adapter does as well, what was "learned" is not the prompt-to-answer mapping (e.g. a
constant answer, or the answer format alone).
"""

from __future__ import annotations

import random

NAME = "shuffled_answers"


def derangement(n: int, seed: int) -> list[int]:
    """A seeded permutation of range(n) with no fixed point (n >= 2): a random order rotated by one."""
    if n < 2:
        raise ValueError(f"shuffled_answers needs at least 2 training prompts, got {n}")
    order = list(range(n))
    random.Random(f"{NAME}:{seed}").shuffle(order)
    out = [0] * n
    for i, src in enumerate(order):  # each prompt takes the answer of the next one in the shuffled order
        out[src] = order[(i + 1) % n]
    return out


def shuffled(prompts: list, seed: int) -> list:
    """The training prompts with answers moved by :func:`derangement` (ids and prompts kept)."""
    perm = derangement(len(prompts), seed)
    return [p.model_copy(update={"answer": prompts[j].answer}) for p, j in zip(prompts, perm)]


def claim_problems(lc, control) -> list[tuple[tuple, str, str]]:
    """The claim-file checks of the control (``control``: its YAML spec): ``lora`` retrains the
    acceptance's candidate, ``lora_sweep`` a named grid point and judges nothing with it."""
    from audit.errors import did_you_mean

    points = getattr(lc.claim.intervention, "points", None)
    if points is None:
        out = [] if hasattr(lc.claim.acceptance, "candidate") else [
            (("controls", NAME), f"shuffled_answers retrains the acceptance's candidate; acceptance "
             f"'{lc.claim.acceptance.kind}' names none", "use it with lora_efficiency")]
        return out + ([(("controls", NAME, "point"), "point names a lora_sweep grid point; a lora claim retrains the "
                        "acceptance's candidate", "delete point")] if control.point is not None else [])
    labels = [p.label for p in points]
    out = [] if control.point is None or control.point in labels else [
        (("controls", NAME, "point"), f"point '{control.point}' is not a grid point of this sweep",
         did_you_mean(control.point, labels) or f"points: {', '.join(labels)}")]
    if "min_margin" in control.model_fields_set:
        out.append((("controls", NAME, "min_margin"), "a sweep reports the shuffled-answers point beside the real one "
                    "and judges nothing with it: min_margin has no effect here", "delete min_margin"))
    return out


def sweep_point(spec, control) -> str:
    """The grid point a sweep trains again on shuffled answers: the named one, else the first."""
    return control.point or spec.points[0].label


REPORTED = ("final_loss", "kl_drift", "exact_match", "answer_nll")  # a run's measurements put side by side


def beside(point: str, real: list[dict], shuffled_rows: list[dict]) -> dict:
    """The shuffled-answers point beside the real one (rows per seed): per measurement the mean over
    seeds of each and the per-seed pairs, and one reason line (reported, not judged)."""
    from audit.stats import mean

    def avg(rows, key):
        values = [r[key] for r in rows if r.get(key) is not None]
        return mean(values) if values else None

    metrics = {m: {"real": avg(real, m), "shuffled": avg(shuffled_rows, m),
                   "per_seed": {str(r["seed"]): [r.get(m), s.get(m)] for r, s in zip(real, shuffled_rows)}}
               for m in REPORTED}
    shown = "; ".join(f"{m.replace('_', ' ')} {_g(v['shuffled'])} (real {_g(v['real'])})" for m, v in metrics.items())
    return {"point": point, "metrics": metrics,
            "reason": f"{NAME} (reported, not judged): point {point} trained on answers permuted among its training "
                      f"prompts, mean over {len(real)} seeds: {shown}"}


def _g(x) -> str:
    return "—" if x is None else f"{x:.3g}"
