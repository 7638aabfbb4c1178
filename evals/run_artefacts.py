"""The eval run log: the typed contract between ``caic eval`` and ``caic report``.

A run directory holds ``manifest.json`` (:class:`RunManifest`) and ``samples.jsonl``
(one :class:`Sample` per line). Reports read nothing else. Both are validated here
before they are written, so a field that drifts fails the writer, not the reader.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

SCHEMA_VERSION = 1


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Summary(_Frozen):
    """A metric's value on a set of items, with its 95% interval."""

    value: float | None
    """The metric; null when no item counts towards it (n = 0) or it is undefined."""
    ci_low: float | None
    """Lower end of the 95% interval (Wilson for proportions, bootstrap otherwise)."""
    ci_high: float | None
    """Upper end of the 95% interval."""
    n: int
    """Items counted (those the metric applies to)."""


class MetricEntry(Summary):
    """One metric of one suite: overall, its direction, and per category."""

    higher_is_better: bool
    """Direction of improvement."""
    per_category: dict[str, Summary]
    """The same metric within each item category that has counted items."""


class DataInfo(_Frozen):
    """Where a suite's items came from."""

    source: str
    """File path, ``default:NAME`` (the set shipped with caic) or a Hugging Face id."""
    sha256: str
    """Hash of the source file (of the canonical rows for a Hugging Face dataset)."""
    n: int
    """Items evaluated (after ``--limit``)."""


class ConstitutionInfo(_Frozen):
    """The constitution under test."""

    name: str
    """Its ``constitution "NAME"``."""
    version: str | None
    """Its ``version``, if it declares one."""
    sha256: str
    """Hash of its canonical text (blind to formatting and comments)."""
    path: str
    """The file it was loaded from."""


class Timing(_Frozen):
    """Wall-clock time of the invocation that wrote the manifest."""

    started: str
    """ISO 8601, UTC."""
    finished: str
    """ISO 8601, UTC."""
    seconds: float
    """Elapsed seconds (of this invocation; a resumed run counts only its own part)."""


class RunManifest(_Frozen):
    """``DIR/manifest.json``: what was run, on what, and the metrics."""

    schema_version: int = SCHEMA_VERSION
    """Version of this layout."""
    kind: Literal["eval-run"] = "eval-run"
    """Marks an eval run directory."""
    caic_version: str
    """The caic that wrote it."""
    suites: list[str]
    """Suite names, in run order (``over-refusal``; metric keys use ``over_refusal``)."""
    model: str
    """Backend spec of the model under test (``default`` = the embedded model)."""
    judge: str | None
    """Backend spec of the refusal/harm judge, or null (patterns only)."""
    constitution: ConstitutionInfo | None
    """The constitution under test, or null."""
    system_prompt: bool
    """Whether the constitution was rendered into the system message."""
    seed: int
    """Seed of the item subset, principle draws and bootstrap intervals."""
    data: dict[str, DataInfo]
    """Per suite (by ``--suite`` name): its data source."""
    timing: Timing
    """When it ran."""
    metrics: dict[str, dict[str, MetricEntry]]
    """``metrics[suite_key][metric_name]``; suite_key is the suite name with ``-`` → ``_``."""
    instruments: dict[str, Any] = {}
    """What measured the replies and what it is worth: ``refusal_classifier`` is the
    classifier's card (name, version, its confusion matrices on sources it was not
    trained on; ``caic.evals.refusal_model.card``), or ``{"name": "judge", "spec": ...,
    "measured": null}`` when a model judge decided. ``caic report`` widens refusal-rate
    intervals by it (``caic.evals.instrument``)."""


class Sample(_Frozen):
    """One line of ``DIR/samples.jsonl``: one item of one suite."""

    uid: str
    """``"{suite_key}:{id}"``, unique in the run."""
    suite: str
    """The suite key (``over_refusal``)."""
    id: str
    """The item's id in its data source."""
    category: str | None
    """The item's category (metrics are also reported per category)."""
    input: dict[str, Any]
    """What the model was given (prompt, choices, pair, label ...)."""
    output: str | dict[str, Any]
    """The reply, or the suite's structured answers (letters, soft labels)."""
    scores: dict[str, Any]
    """Per-item outcomes the metrics are computed from (booleans, classes, probabilities)."""
