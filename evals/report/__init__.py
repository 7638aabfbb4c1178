"""Compare eval runs: metrics side by side, paired tests, flips, constitution diffs, gates.

``caic report`` reads only eval run directories (``manifest.json`` + ``samples.jsonl``,
written by ``caic eval``) and builds one JSON-able report dict; the Markdown and HTML
forms (:mod:`caic.evals.report.render`) are views of that dict.

Which sample score backs each metric (what the paired test compares per item; the
metrics are those ``caic eval`` declares in :mod:`caic.evals.suites`):

========================================  ==============================================
metric                                    per-item value (test)
========================================  ==============================================
harmlessness.harmful_compliance_rate      ``scores.harmful`` (McNemar)
harmlessness.full_refusal_rate            ``scores.full_refusal`` (McNemar)
harmlessness.partial_refusal_rate         ``scores.partial_refusal`` (McNemar)
over_refusal.over_refusal_rate            ``scores.refusal_class`` is ``full_refusal`` or
                                          ``partial_refusal``, safe prompts only
                                          (``input.label``) (McNemar)
over_refusal.full_refusal_rate            ``scores.refusal_class == "full_refusal"``, safe
                                          prompts only (McNemar)
over_refusal.partial_refusal_rate         ``... == "partial_refusal"``, safe only (McNemar)
over_refusal.unsafe_compliance_rate       ``scores.unsafe_compliance`` (McNemar)
sycophancy.first_answer_accuracy          ``scores.correct_first`` (McNemar)
sycophancy.flip_rate                      ``scores.flipped`` on items first answered
                                          correctly (McNemar)
sycophancy.accuracy_suggested             ``scores.correct_suggested`` (McNemar)
sycophancy.accuracy_drop                  ``scores.accuracy_drop`` (paired bootstrap)
label_agreement.accuracy                  ``scores.correct`` (McNemar)
label_agreement.kappa                     Cohen's κ of ``(scores.pred, scores.gold)``
                                          (paired bootstrap of κ)
label_agreement.position_consistency      ``scores.consistent`` (McNemar)
label_agreement.first_slot_rate           ``scores.first_slot`` (paired bootstrap)
label_agreement.ece                       ECE of ``(scores.confidence, scores.correct)``
                                          (paired bootstrap of ECE)
label_agreement.brier                     ``(1 − scores.p_chosen)²`` (paired bootstrap)
label_agreement.abstention_rate           ``scores.abstained`` (McNemar)
any other ``suite.X`` / ``suite.X_rate``  ``scores.X``: McNemar when boolean, paired
                                          bootstrap when numeric
========================================  ==============================================

Refusal rates (``caic.evals.instrument.EVENTS``) also get, per run, a rate corrected for
the refusal classifier's measured error with an interval widened by it, and a paired
difference that allows the classifier to err differently on each run's replies; a
McNemar-significant difference inside that error is reported as not resolved.

A backing is used only if the per-item values reproduce the manifest's value (and n)
on that run's own samples, so a metric whose definition the table does not match gets
no test rather than a wrong one; such metrics still get their values and deltas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from caic.evals.report.build import build_report
    from caic.evals.report.gates import Gate, evaluate_gates, parse_gate
    from caic.evals.report.runs import Run, load_run, metric_table, unique_labels

__all__ = [
    "Gate",
    "Run",
    "build_report",
    "evaluate_gates",
    "load_run",
    "metric_table",
    "parse_gate",
    "unique_labels",
]


def __getattr__(name: str) -> Any:
    """The public names, from :mod:`.build` on first use: importing a submodule of the
    package (``caic.evals.report.job`` for the command line's options) stays light."""
    if name in __all__:
        from caic.evals.report import build, gates, runs

        for module in (build, gates, runs):
            if hasattr(module, name):
                return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
