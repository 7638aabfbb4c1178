"""Markdown and HTML views of a report dict (:func:`caic.evals.report.build_report`).

Markdown is meant for a pull-request comment: the metric table and verdicts up front,
everything long folded into ``<details>``. HTML is one self-contained file (CSS and
SVG plots inline, no scripts, no network) rendered from ``report.html.j2``.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from caic.evals.report.svg import color, panel_svg, tradeoff_svg
from caic.evals.stats import format_p

MD_FLIPS = 10
"""Flipped items shown per (run, suite) in Markdown (HTML shows all the report keeps)."""


def fmt(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "—"
    return f"{x:+.3f}" if signed else f"{x:.3f}"


def interval(m: dict[str, Any] | None) -> str:
    """``0.250 [0.120, 0.410]``."""
    if not m:
        return "—"
    out = fmt(m["value"])
    if m.get("ci_low") is not None and m.get("ci_high") is not None:
        out += f" [{fmt(m['ci_low'])}, {fmt(m['ci_high'])}]"
    adj = m.get("adjusted")
    if adj:
        lo, hi = fmt(adj["ci_low"]), fmt(adj["ci_high"])
        out += f"; classifier-adjusted {fmt(adj['value'])} [{lo}, {hi}]"
    return out


def _p_cell(t: dict[str, Any]) -> str:
    """McNemar's (or the bootstrap's) p, and the classifier-adjusted p where there is one."""
    out = format_p(t["p_value"]).removeprefix("p = ").removeprefix("p ")
    adj = t.get("instrument") or {}
    if "p_value" in adj:
        out += " (adj. " + format_p(adj["p_value"]).removeprefix("p = ").removeprefix("p ") + ")"
    return out


def unresolved(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(metric, run, verdict) for each difference significant on the classifier's labels
    but not once its measured error is allowed for."""
    return [
        (m["key"], label, comp["verdict"])
        for m in report["metrics"]
        for label, comp in m["comparisons"].items()
        if (comp.get("test") or {}).get("unresolved")
    ]


def arrow(hib: bool | None) -> str:
    return {True: "↑", False: "↓"}.get(hib, "") if hib is not None else ""


def text_of(x: Any) -> str:
    """A prompt or response as display text: strings as they are, anything else as JSON."""
    if isinstance(x, str):
        return x
    if isinstance(x, dict):
        for k in ("prompt", "question", "text"):
            if isinstance(x.get(k), str):
                rest = {kk: v for kk, v in x.items() if kk != k and not isinstance(v, dict)}
                extra = "" if not rest else "\n" + json.dumps(rest, ensure_ascii=False)
                return x[k] + extra
    return json.dumps(x, ensure_ascii=False, indent=1)


def outcome(o: dict[str, Any]) -> str:
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in o.items())


def _cell(text: str, limit: int = 280) -> str:
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def _constitution(run: dict[str, Any]) -> str:
    c = run.get("constitution")
    if not c:
        return "none"
    return f"{c.get('name')} {c.get('version') or ''}".strip() + f" ({str(c.get('sha256'))[:8]})"


def significant(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(metric, run, verdict, better|worse|"") for each significant comparison."""
    out = []
    for m in report["metrics"]:
        for label, comp in m["comparisons"].items():
            t = comp.get("test")
            if t and t.get("significant"):
                out.append((m["key"], label, comp["verdict"], t.get("direction") or ""))
    return out


def render_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown for a pull-request comment."""
    from caic.compiler.diff import ConstitutionDiff
    from caic.compiler.diff_render import render_markdown as diff_md

    runs = [r["label"] for r in report["runs"]]
    base = report["baseline"]
    others = [r for r in runs if r != base]
    lines = [f"## caic report: {' vs '.join(f'`{r}`' for r in runs)} (baseline `{base}`)", ""]
    lines += ["| run | model | constitution | system prompt | samples |", "|---|---|---|---|---|"]
    for r in report["runs"]:
        lines.append(
            f"| `{r['label']}` | {_cell(str(r.get('model')))} | {_constitution(r)} | "
            f"{'yes' if r.get('system_prompt') else 'no'} | {r['n_samples']} |"
        )
    head = ["metric", *[f"`{r}`" for r in runs]]
    for o in others:
        head += [f"Δ `{o}`", f"p `{o}`"]
    lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in report["metrics"]:
        row = [f"{m['key']} {arrow(m['higher_is_better'])}".strip()]
        row += [interval(m["runs"].get(r)) for r in runs]
        for o in others:
            comp = m["comparisons"].get(o)
            t = comp.get("test") if comp else None
            row += [
                fmt(comp["delta"], True) if comp else "—",
                _p_cell(t) if t else "—",
            ]
        lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        "↑ higher is better, ↓ lower is better; intervals are 95%. p: exact McNemar "
        "on shared items for binary outcomes, otherwise paired bootstrap (exact paired "
        "permutation test below 20 shared items); uncorrected for multiple comparisons. "
        "Refusal rates also show a classifier-adjusted rate: corrected for the refusal "
        "classifier's error measured on text it was not trained on, its interval a "
        "bootstrap over the items and that error (`caic.evals.instrument`); a difference "
        "must hold under it too to be called significant (p column: adj. p in brackets).",
        "",
    ]
    sig = significant(report)
    lines.append("**Verdicts**")
    lines.append("")
    for key, _label, verdict, direction in sig:
        mark = {"better": "🟢", "worse": "🔴"}.get(direction, "•")
        lines.append(f"- {mark} `{key}`: {verdict}")
    unres = unresolved(report)
    for key, _label, verdict in unres:
        lines.append(f"- ◌ `{key}`: {verdict}")
    if not sig and not unres:
        lines.append(
            "- only one run: nothing to compare"
            if not others
            else "- no significant difference on any metric"
        )
    lines.append("")
    if report["gates"]:
        lines += ["**Gates**", ""]
        for g in report["gates"]:
            state = "❌ failed" if g["failed"] else ("– " + g["note"] if g["note"] else "✅ passed")
            lines.append(f"- `{g['gate']}` on `{g['run']}` (value {fmt(g['value'])}): {state}")
        lines.append("")
    if report["per_category"]:
        lines += ["<details><summary><b>Per-category breakdown</b></summary>", ""]
        for pc in report["per_category"]:
            lines += [
                f"**{pc['key']}**",
                "",
                "| category | "
                + " | ".join(f"`{r}`" for r in runs)
                + "".join(f" | Δ `{o}`" for o in others)
                + " |",
                "|---|" + "---|" * (len(runs) + len(others)),
            ]
            for c in pc["categories"]:
                row = [c] + [interval(pc["runs"][r].get(c)) for r in runs]
                row += [fmt(pc["deltas"][o].get(c), True) for o in others]
                lines.append("| " + " | ".join(row) + " |")
            lines.append("")
        lines += ["</details>", ""]
    for label, suites in report["flip_counts"].items():
        total = sum(sum(c.values()) for c in suites.values())
        lines += [
            f"<details><summary><b>Flipped items</b> `{base}` → `{label}`: {total}</summary>",
            "",
        ]
        for suite, counts in suites.items():
            lines += [
                f"**{suite}**: {counts['worse']} worse, {counts['better']} better, "
                f"{counts['changed']} changed",
                "",
                f"| item | {base} | {label} |",
                "|---|---|---|",
            ]
            shown = [f for f in report["flips"] if f["run"] == label and f["suite"] == suite]
            for f in shown[:MD_FLIPS]:
                lines.append(
                    f"| {f['direction']}: `{f['uid']}`<br>{_cell(text_of(f['input']), 200)} | "
                    f"**{outcome(f['baseline']['outcome'])}**<br>"
                    f"{_cell(text_of(f['baseline']['output']))} | "
                    f"**{outcome(f['candidate']['outcome'])}**<br>"
                    f"{_cell(text_of(f['candidate']['output']))} |"
                )
            if len(shown) > MD_FLIPS:
                lines.append(f"| … {len(shown) - MD_FLIPS} more in the HTML/JSON report | | |")
            lines.append("")
        lines += ["</details>", ""]
    for d in report["constitution_diffs"]:
        if d["status"] == "diff":
            cd = ConstitutionDiff.model_validate(d["diff"])
            lines += [
                f"<details><summary><b>Constitution diff</b> `{d['baseline']}` → "
                f"`{d['run']}`: {len(cd.changes)} change(s)</summary>",
                "",
                diff_md(cd, level=4),
                "</details>",
                "",
            ]
        else:
            lines += [f"Constitution `{d['baseline']}` → `{d['run']}`: {d['note']}.", ""]
    return "\n".join(lines).rstrip() + "\n"


def render_html(report: dict[str, Any]) -> str:
    """The report as one self-contained HTML page."""
    import jinja2
    from markupsafe import Markup

    from caic.compiler.diff import ConstitutionDiff
    from caic.compiler.diff_render import sections

    source = resources.files("caic.evals.report").joinpath("report.html.j2").read_text("utf-8")
    env = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    env.filters.update(
        fmt=fmt, interval=interval, arrow=arrow, text_of=text_of, outcome=outcome, p=format_p
    )
    suites = list(dict.fromkeys(m["suite"] for m in report["metrics"]))
    panels = [(s, Markup(svg)) for s in suites if (svg := panel_svg(report, s))]
    tradeoff = tradeoff_svg(report)
    diffs = []
    for d in report["constitution_diffs"]:
        cd = ConstitutionDiff.model_validate(d["diff"]) if d["status"] == "diff" else None
        diffs.append((d, cd, sections(cd) if cd else []))
    labels = [r["label"] for r in report["runs"]]
    return env.from_string(source).render(
        report=report,
        runs=report["runs"],
        labels=labels,
        others=[x for x in labels if x != report["baseline"]],
        colors={x: color(i) for i, x in enumerate(labels)},
        constitution=_constitution,
        significant=significant(report),
        unresolved=unresolved(report),
        tradeoff=Markup(tradeoff) if tradeoff else None,
        panels=panels,
        diffs=diffs,
    )
