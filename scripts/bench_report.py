#!/usr/bin/env python3
"""Prints the medians of the last `cargo bench` run and each benchmark's
ratio to the baseline measured beside it in the same run.

Reads criterion's estimates (target/criterion/<group>/<name>/new/estimates.json).
Each group has an `agent` and a `baseline` entry; targets are from the issue
that asked for the benchmark.
"""

import json
import sys
from pathlib import Path

TARGETS = {
    # group: (absolute median target in ns or None, ratio target or None)
    "welcome_broker": (5_000, None),
    "welcome_plain": (5_000, None),
    "large_set_configuration": (None, 2.0),
}


def median_ns(path: Path) -> float:
    return json.loads(path.read_text())["median"]["point_estimate"]


def human(ns: float) -> str:
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def main() -> int:
    root = Path(__file__).resolve().parent.parent / "target" / "criterion"
    if not root.is_dir():
        print(f"no criterion results under {root}; run `cargo bench` first", file=sys.stderr)
        return 1
    failed = False
    print(f"{'benchmark':<26} {'agent':>10} {'baseline':>10} {'ratio':>7}  target")
    for group in sorted(p for p in root.iterdir() if (p / "agent" / "new").is_dir()):
        agent = median_ns(group / "agent" / "new" / "estimates.json")
        baseline = median_ns(group / "baseline" / "new" / "estimates.json")
        ratio = agent / baseline
        absolute, relative = TARGETS.get(group.name, (None, None))
        verdicts = []
        if absolute is not None:
            ok = agent < absolute
            failed |= not ok
            verdicts.append(f"< {human(absolute)} {'met' if ok else 'MISSED'}")
        if relative is not None:
            ok = ratio <= relative
            failed |= not ok
            verdicts.append(f"<= {relative}x baseline {'met' if ok else 'MISSED'}")
        print(f"{group.name:<26} {human(agent):>10} {human(baseline):>10} {ratio:>6.2f}x  {'; '.join(verdicts)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
