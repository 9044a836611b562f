"""Calibration of the verdict engine: the real criteria on synthetic evidence with planted truths.

Each case draws evidence whose truth is known (all-equal sweeps, tied tops, a planted hub of a
stated size, steering with and without a real direction, saturated training arms, ...) and
counts the verdicts over ``--draws`` draws. Prints one row per case, then exactly

    false_supported=<x> false_refuted=<y> min_power=<z>

x: the highest rate of "supported" on a case whose truth is not supported; y: the same for
"refuted"; z: the lowest rate of the true verdict over the cases that have one.
Targets: x <= 0.05, y <= 0.05, z >= 0.8 at the stated effect sizes.

    .venv/bin/python bench/calibration.py [--draws 200] [--seed 0] [--only SUBSTRING]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audit.calibration import all_cases, run_case, summarise  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default="", help="run only the cases whose name contains this")
    args = ap.parse_args()
    rows = []
    print(f"{'case':62s} {'truth':10s} {'effect':32s} {'sup':>5s} {'ref':>5s} {'inc':>5s} {'err':>5s} {'s':>6s}")
    for case in all_cases():
        if args.only not in case.name:
            continue
        t0 = time.perf_counter()
        row = run_case(case, args.draws, args.seed)
        rows.append(row)
        print(f"{row['case'][:62]:62s} {row['truth']:10s} {row['effect'][:32]:32s} {row['supported']:5.3f} "
              f"{row['refuted']:5.3f} {row['inconclusive']:5.3f} {row['errored']:5.3f} {time.perf_counter() - t0:6.1f}",
              flush=True)
    s = summarise(rows)
    print(f"false_supported={s['false_supported']:.3f} false_refuted={s['false_refuted']:.3f} "
          f"min_power={s['min_power']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
