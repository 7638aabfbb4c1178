"""``--fail-on`` gates: ``METRIC OP NUMBER`` or ``METRIC.delta OP NUMBER``.

A gate *fails* when its comparison holds. ``METRIC`` is ``suite.metric`` as the JSON
report names it; ``.delta`` gates are evaluated for every non-baseline run (the delta
against the baseline), absolute ones for every run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from caic.errors import usage_error

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}
_GATE = (
    r"^\s*(?P<metric>[A-Za-z_]\w*\.[A-Za-z_]\w*)(?P<delta>\.delta)?\s*"
    r"(?P<op><=|>=|==|!=|<|>)\s*(?P<num>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*$"
)


@dataclass(frozen=True)
class Gate:
    """``--fail-on METRIC[.delta] OP NUMBER``: the gate fails when the comparison holds."""

    expr: str
    metric: str
    delta: bool
    op: str
    number: float


def parse_gate(expr: str, known: list[str]) -> Gate:
    """Parse one ``--fail-on`` expression; a bad one or an unknown metric is a usage error."""
    import re

    m = re.match(_GATE, expr)
    if not m:
        raise usage_error(
            f"bad --fail-on expression `{expr}`",
            code="E303",
            hint="write `suite.metric OP NUMBER` or `suite.metric.delta OP "
            "NUMBER`, OP one of < <= > >= == !=",
        )
    metric = m["metric"]
    if metric not in known:
        raise usage_error(
            f"unknown metric `{metric}` in --fail-on",
            code="E304",
            hint="known metrics: " + ", ".join(known),
        )
    return Gate(expr.strip(), metric, bool(m["delta"]), m["op"], float(m["num"]))


def evaluate_gates(report: dict[str, Any], gates: list[Gate]) -> list[dict[str, Any]]:
    """Evaluate gates on every run (absolute) or every non-baseline run (delta)."""
    by_key = {m["key"]: m for m in report["metrics"]}
    results = []
    for g in gates:
        entry = by_key[g.metric]
        for run in report["runs"]:
            label = run["label"]
            if g.delta:
                if label == report["baseline"]:
                    continue
                comp = entry["comparisons"].get(label)
                value = None if comp is None else comp["delta"]
            else:
                got = entry["runs"].get(label)
                value = None if got is None else got["value"]
            failed = value is not None and _OPS[g.op](value, g.number)
            results.append(
                {
                    "gate": g.expr,
                    "run": label,
                    "value": value,
                    "failed": failed,
                    "note": "not measured in this run" if value is None else None,
                }
            )
    return results
