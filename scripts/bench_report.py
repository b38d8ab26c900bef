#!/usr/bin/env python3
"""Prints the medians of the last `cargo bench` run and each benchmark's
ratio to the baseline measured beside it in the same run.

Reads criterion's estimates (target/criterion/<group>/<name>/new/estimates.json).
Each group pairs a measurement with the baseline measured beside it;
targets are from the issues that asked for the benchmarks.
"""

import json
import sys
from pathlib import Path

# group: (candidate, baseline, absolute median target in ns or None,
#         ratio target or None, added-time target in ns or None)
TARGETS = {
    "welcome_broker": ("agent", "baseline", 5_000, None, None),
    "welcome_plain": ("agent", "baseline", 5_000, None, None),
    "large_set_configuration": ("agent", "baseline", None, 2.0, None),
    "c_boundary_welcome": ("c_abi", "rust_api", None, None, 1_000),
    "deploy_50": ("agent", "baseline", None, 1.3, None),
    "teardown_50": ("agent", None, 300_000_000, None, None),
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
    print(f"{'benchmark':<26} {'measured':>10} {'baseline':>10} {'ratio':>7}  target")
    for group in sorted(p for p in root.iterdir() if p.name in TARGETS):
        candidate, reference, absolute, relative, added = TARGETS[group.name]
        if not (group / candidate / "new").is_dir():
            continue
        agent = median_ns(group / candidate / "new" / "estimates.json")
        if reference is None:
            baseline, ratio = float("nan"), float("nan")
        else:
            baseline = median_ns(group / reference / "new" / "estimates.json")
            ratio = agent / baseline
        verdicts = []
        if absolute is not None:
            ok = agent < absolute
            failed |= not ok
            verdicts.append(f"< {human(absolute)} {'met' if ok else 'MISSED'}")
        if relative is not None:
            ok = ratio <= relative
            failed |= not ok
            verdicts.append(f"<= {relative}x baseline {'met' if ok else 'MISSED'}")
        if added is not None:
            ok = agent - baseline < added
            failed |= not ok
            verdicts.append(f"adds {human(agent - baseline)} (< {human(added)} {'met' if ok else 'MISSED'})")
        shown = "-" if reference is None else human(baseline)
        ratio_text = "-" if reference is None else f"{ratio:.2f}x"
        print(f"{group.name:<26} {human(agent):>10} {shown:>10} {ratio_text:>7}  {'; '.join(verdicts)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
