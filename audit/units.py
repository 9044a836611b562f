"""The plan of evidence units: what every intervention kind hands to an executor.

A builder plans its evidence as :class:`Task` s — an op registered by name (:func:`audit.unit_ops.unit_op`), its
picklable arguments, and the content-hash keys of the cached units it yields — and runs them with
:func:`run_tasks`. That one function is the cache rule for every kind (hits are served, only tasks
with a missing unit are computed, finished units are written by this process alone, errors are
never written) and the one executor contract (``executor.compute(ctx, tasks)``: locally in this
process, or spread over Ray workers — any kind, any task). An op is the only code that touches the
model: ``op(ctx, **args) -> value`` where ``ctx`` is the claim's :class:`RunContext` (on a Ray
worker, rebuilt there around the worker's model). A task with keys returns ``{key: value}``; a task
without keys (a trained adapter, a timing run: artifacts the op caches itself) returns any value.

This module imports no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from audit.unit_ops import OPS


@dataclass(frozen=True)
class Task:
    """One piece of work on the claim's model. ``keys``: the cached units it yields (empty: the
    value is not a cache unit); ``steps``: progress it accounts for; ``label``: for errors."""

    op: str
    args: dict = field(default_factory=dict)
    keys: tuple[str, ...] = ()
    label: str = ""
    steps: int = 1


def compute(ctx, task: Task):
    """Run one task here (the local executor, and a Ray worker on its own model)."""
    import interventions.compute  # noqa: F401  (registers the ops; model-side, imported only here)

    value = OPS.get(task.op)(ctx, **task.args)
    if task.keys:
        missing = [k for k in task.keys if k not in value]
        if missing:
            raise RuntimeError(f"op {task.op} ({task.label}) did not return {len(missing)} of its units")
    return value


def cached(ctx, keys) -> tuple[dict, list[str]]:
    """(values found in the evidence cache, keys missing), keys in the order given."""
    cache = ctx.options.evidence_cache
    found, missing = {}, []
    for key in keys:
        value = cache.get(key)
        if value is None:
            missing.append(key)
        else:
            found[key] = value
    return found, missing


def run_tasks(ctx, tasks: list[Task], lookup: bool = True) -> tuple[dict, list]:
    """Compute ``tasks`` on the claim's executor: ``({key: value} of every keyed task, [value of
    each keyless task in order])``. Keyed tasks whose units are all cached are not sent (``lookup=
    False``: the caller planned only missing units); each finished task's units are written as soon
    as it returns (a killed run resumes from them)."""
    cache = ctx.options.evidence_cache
    values: dict = {}
    todo = []
    for task in tasks:
        found, missing = cached(ctx, task.keys) if task.keys and lookup else ({}, [None])
        values.update(found)
        if missing:
            todo.append(task)
        else:
            ctx.progress.advance(task.steps)
    keyless: dict[int, object] = {}
    for task, value in ctx.options.executor.compute(ctx, todo):
        if task.keys:
            for key in task.keys:
                cache.put(key, value[key])
                values[key] = value[key]
        else:
            keyless[id(task)] = value
        ctx.progress.advance(task.steps)
    return values, [keyless[id(t)] for t in tasks if not t.keys]


def run_batched(ctx, items: dict, make_tasks) -> dict:
    """Per-item units computed in batches of the *missing* ones: ``items`` maps each unit's key to
    what it is computed from; ``make_tasks(missing_items)`` plans the tasks that yield their keys.
    Returns ``{key: value}`` for every item."""
    found, missing = cached(ctx, items)
    values, _ = run_tasks(ctx, make_tasks([items[k] for k in missing]), lookup=False) if missing else ({}, [])
    return {**found, **values}


def run_one(ctx, task: Task):
    """The value of one keyless task (a trained adapter, a timing run)."""
    return run_tasks(ctx, [task])[1][0]
