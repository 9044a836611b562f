"""The prompting baseline's part of the steering builder (controls/prompting_baseline.py): the
eval prompts re-encoded with the instruction, one ``steering.prompted`` unit per seed (cached like
every unit, planned as a Task so it runs on Ray), and the per-prompt record the judging reads."""

from __future__ import annotations

from controls.prompting_baseline import NAME, system_message, user_prompt


def encode(tok, spec, metric: str, chat: bool, s: dict, control) -> dict:
    """The seed's eval prompts with the instruction (same prompts, same order as the plain ones)."""
    from interventions.steering import continuation_ids, render_ids

    system = system_message(control)
    evals = [p for ps in s["eval"].values() for p in ps]
    out = {"eval": [render_ids(tok, user_prompt(p.prompt, control), chat, system)[0] for p in evals]}
    if metric == "behavior_logprob":
        out["conts"] = [[continuation_ids(tok, user_prompt(p.prompt, control), ph, chat, system)[1]
                         for ph in (spec.behavior.phrases or [p.answer])] for p in evals]
    return out


def record(control, units: list[dict]) -> dict:
    """The evidence section: per seed (in ``seeds`` order) and eval prompt the instructed and the
    plain score, and their difference (the prompting effect)."""
    return {"instruction": control.instruction, "position": control.position,
            "prompted": [u["prompted"] for u in units], "unprompted": [u["unprompted"] for u in units],
            "effect": [[a - b for a, b in zip(u["prompted"], u["unprompted"])] for u in units]}


def plan(ctx, run, keys_of, tok, spec, metric: str, chat: bool, samples: dict, seeds: list) -> dict | None:
    """``ev[NAME]`` when the claim configures the baseline (None otherwise); ``run`` is the
    builder's cached task runner and ``keys_of(seed, **extra)`` its unit keys."""
    control = ctx.lc.claim.controls.prompting_baseline
    if control is None:
        return None
    instructed = {s: encode(tok, spec, metric, chat, samples[s], control) for s in seeds}
    units = run("steering.prompted", {s: (s, keys_of(s, kind="steer_prompted", instructed=instructed[s]))
                                      for s in seeds}, per_seed={s: {"instructed": instructed[s]} for s in seeds})
    return record(control, [units[s] for s in seeds])


__all__ = ["NAME", "encode", "plan", "record"]
