"""``caic schema [NAME]``: the JSON Schema of each artefact caic writes.

The artefacts are the pydantic models the stages write and read back; their schemas are
also kept in ``docs/schemas/NAME.json`` (``caic schema --write docs/schemas`` refreshes
them; a test fails when they are stale).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from caic.cli import app, usage

ARTEFACTS: dict[str, tuple[str, str]] = {
    "promptset-manifest": ("caic.compiler.artefacts:PromptSetManifest", "compile: manifest.json"),
    "principle": ("caic.compiler.artefacts:PrincipleRecord", "compile: principles.jsonl"),
    "critique-prompt": ("caic.compiler.artefacts:CritiqueRecord", "compile: critique.jsonl"),
    "revision-prompt": ("caic.compiler.artefacts:RevisionRecord", "compile: revision.jsonl"),
    "judge-prompt": ("caic.compiler.artefacts:JudgeRecord", "compile: judge.jsonl"),
    "sl-cai-job": ("caic.compiler.artefacts:SLCAIJob", "compile --prompts: sl_cai_jobs.jsonl"),
    "judge-job": ("caic.compiler.artefacts:JudgeJob", "compile --pairs: judge_jobs.jsonl"),
    "constitution-diff": ("caic.compiler.diff:ConstitutionDiff", "diff --format json"),
    "sl-cai-trace": ("caic.training.slcai:TraceRow", "sl-cai generate: a trace row"),
    "sft-row": ("caic.training.slcai:SFTRow", "sl-cai export: an SFT row"),
    "pair": ("caic.training.pair_sampler:PairRow", "rlaif pairs: a row"),
    "label": ("caic.training.label_rows:LabelRow", "rlaif label: a row"),
    "run-record": ("caic.training.modelcard:RunRecord", "train: run.json and the model card"),
    "eval-manifest": ("caic.evals.run_artefacts:RunManifest", "eval: manifest.json"),
    "eval-sample": ("caic.evals.run_artefacts:Sample", "eval: samples.jsonl"),
}
"""Name → (``module:Model``, what writes it)."""


def schema_of(name: str) -> dict[str, Any]:
    """The JSON Schema of the artefact ``name``."""
    target = ARTEFACTS[name][0]
    module, _, attr = target.partition(":")
    model = getattr(importlib.import_module(module), attr)
    schema: dict[str, Any] = model.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": name, **schema}


def schema_text(name: str) -> str:
    return json.dumps(schema_of(name), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@app.command("schema")
def schema(
    name: Annotated[
        str | None, typer.Argument(help="An artefact name; none lists them.", show_default=False)
    ] = None,
    write: Annotated[
        Path | None,
        typer.Option("--write", help="Write every schema as NAME.json into this folder."),
    ] = None,
) -> None:
    """Print the JSON Schema of an artefact caic writes, or list the artefacts.

    Example: `caic schema label`
    """
    from caic.io import write_text_atomic

    if write is not None:
        write.mkdir(parents=True, exist_ok=True)
        for n in ARTEFACTS:
            write_text_atomic(write / f"{n}.json", schema_text(n))
        typer.echo(str(write))
        return
    if name is None:
        for n, (_, what) in ARTEFACTS.items():
            typer.echo(f"{n:<20} {what}")
        return
    if name not in ARTEFACTS:
        import difflib

        close = difflib.get_close_matches(name, list(ARTEFACTS), n=1)
        raise usage(f"no artefact `{name}`", hint=f"did you mean `{close[0]}`?" if close else None)
    typer.echo(schema_text(name), nl=False)
