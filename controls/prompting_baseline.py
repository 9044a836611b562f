"""The prompting baseline of a steering claim (AxBench, Wu et al. 2025: prompting beats steering):
the behaviour asked for in words, with no steering vector, scored by the claim's own metric on the
same eval prompts, reported beside the steering effect.

``controls.prompting_baseline: {instruction: "...", position: prefix | system}``. ``prefix`` (the
default) puts the instruction before the user prompt, separated by a blank line
(``SEPARATOR``), with or without a chat template; ``system`` sends it as a system message and
needs the model's chat template (``suite.chat_template: true``; a tokenizer without one, or a
template that rejects system messages, ends the claim errored).

Per eval prompt (the prompt is the unit) two paired values at the judged cell
(``control_cells[0]``), signed by the claim's direction: the steering effect (steered minus
unsteered) and the prompting effect (instructed minus uninstructed, no vector). Their
simultaneous 95% intervals (:func:`audit.inference.simultaneous_ci`, max-T over the three
contrasts) for the prompting effect, the steering effect and steering minus prompting, pooled over
seeds and per seed.

Verdict policy: the baseline never changes the verdict. When the paired interval of steering
minus prompting lies entirely below 0 (:func:`audit.inference.check` refutes "steering beats
prompting": prompting is shown to move the behaviour more, prompt by prompt), the outcome gains
the reason "prompting beats steering" and the claim's confidence is capped at low
(``EvidenceResult.cap``). Otherwise (steering shown ahead, or the interval contains 0) it is
reported only. Pure: numpy through :mod:`audit.inference`, no torch.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from audit.spec import StrictModel

NAME = "prompting_baseline"
SEPARATOR = "\n\n"
BEATEN = "prompting beats steering"
CAP = "low"
ARMS = ("steering", "prompting")
CONTRASTS = ((0.0, 1.0), (1.0, 0.0), (1.0, -1.0))
NAMES = ("prompting effect", "steering effect", "steering - prompting")


class PromptingBaseline(StrictModel):
    """The behaviour asked for in words instead of steered for (no vector)."""

    instruction: str = Field(min_length=1, description="the words that ask for the behaviour, e.g. 'Answer in as "
                                                       "many words as you can.'")
    position: Literal["prefix", "system"] = Field(
        "prefix", description="prefix: before the user prompt, a blank line between (with or without a chat "
                              "template); system: a system message (needs the model's chat template)")

    @field_validator("instruction")
    @classmethod
    def _words(cls, v):
        if not v.strip():
            raise ValueError("the instruction is blank: write the words that ask for the behaviour")
        return v

    def claim_problems(self, lc) -> list[tuple[tuple, str, str]]:
        if self.position == "system" and not lc.claim.suite.chat_template:
            return [(("controls", NAME, "position"), "a system instruction needs the chat template, but "
                     "suite.chat_template is false", "use position: prefix, or suite.chat_template: true")]
        return []


def user_prompt(prompt: str, control: PromptingBaseline) -> str:
    """The user prompt the model sees under the baseline (unchanged for a system instruction)."""
    return control.instruction + SEPARATOR + prompt if control.position == "prefix" else prompt


def system_message(control: PromptingBaseline) -> str | None:
    return control.instruction if control.position == "system" else None


# --------------------------------------------------------------------------- judging (pure)

def table(ev: dict, cell: str, sign: float):
    """Per eval prompt [steering effect, prompting effect] (signed), pooled over seeds."""
    import numpy as np

    from audit.inference import PromptTable

    base = ev[NAME]
    rows, fam, unit, seed = [], [], [], []
    for si, s in enumerate(ev["seeds"]):
        meta = ev["prompts"]["eval"][si]
        steer = ev["per_prompt"][cell]["effect"][si]
        prompted = base["effect"][si]
        for pi, (uid, f) in enumerate(zip(meta["ids"], meta["families"])):
            rows.append([sign * float(steer[pi]), sign * float(prompted[pi])])
            fam.append(str(f))
            unit.append(str(uid))
            seed.append(int(s))
    return PromptTable(np.array(rows, dtype=float), ARMS, tuple(fam), tuple(unit), tuple(seed))


def intervals(t) -> dict:
    """Simultaneous intervals of the prompting effect, the steering effect and their difference."""
    import numpy as np

    from audit.inference import degenerate, simultaneous_ci

    iv = simultaneous_ci(t, np.array(CONTRASTS), list(NAMES))
    return {"rows": iv.rows(), "inference": iv.describe(), "degenerate": degenerate(t.values)}


def _seed_table(t, s: int):
    from audit.inference import PromptTable

    keep = [i for i, x in enumerate(t.seed) if x == s]
    return PromptTable(t.values[keep], t.labels, tuple(t.family[i] for i in keep), tuple(t.unit[i] for i in keep),
                       tuple(t.seed[i] for i in keep))


def judge(ev: dict, claim, outcome):
    """``(outcome, record, cap)``: the outcome with the note when prompting beats steering (its
    verdict unchanged), the baseline's record, and the confidence ceiling (None: no cap)."""
    from audit.inference import check, fmt_ci
    from audit.verdict import Outcome

    cell = ev["control_cells"][0]
    sign = -1.0 if getattr(claim.acceptance, "direction", "increase") == "decrease" else 1.0
    t = table(ev, cell, sign)
    pooled = intervals(t)
    record = {"control": NAME, "cell": cell, "instruction": ev[NAME]["instruction"],
              "position": ev[NAME]["position"], "sign": sign, "pooled": pooled,
              "per_seed": {str(s): intervals(_seed_table(t, s)) for s in t.seeds}}
    prompting, steering, diff = pooled["rows"]
    decided = check("steering - prompting", diff["low"], diff["high"], 0.0)
    beaten = diff["defined"] and decided["status"] == "refuted"
    said = (f"{NAME}: prompting effect {prompting['estimate']:.4g}, 95% CI {fmt_ci(prompting['low'], prompting['high'])}"
            f" vs steering effect {steering['estimate']:.4g} at {cell}; steering - prompting {diff['estimate']:.4g}, "
            f"95% CI {fmt_ci(diff['low'], diff['high'])} over prompts")
    record.update(status=BEATEN if beaten else {"supported": "steering beats prompting"}.get(
        decided["status"] if diff["defined"] else "", "not shown different"), beaten=beaten, reason=said)
    summary = {**(outcome.summary or {}), NAME: record}
    if not beaten:
        return Outcome(outcome.verdict, list(outcome.reasons), summary), record, None
    note = f"{BEATEN}: {said} lies below 0 — confidence capped at {CAP}"
    return Outcome(outcome.verdict, [*outcome.reasons, note], summary), record, CAP
