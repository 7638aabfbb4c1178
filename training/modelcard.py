"""What a training run records about itself: ``run.json`` and the model card (``README.md``).

Both name the constitution (name, version, sha256), every data file with its sha256, the base
model and the caic version, so a model can be traced back to the principles it was trained on.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from caic.errors import usage_error
from caic.training.trainer_data import DataFile

SCHEMA_VERSION = 1


class ConstitutionRef(BaseModel):
    """The constitution a model's data came from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sha256: str
    """sha256 of the canonical text (``caic.constitution_lang.sha256``)."""
    name: str | None = None
    """Its name, when known (from the config, or a shipped constitution with this hash)."""
    version: str | None = None
    """Its version string, when known."""
    path: str | None = None
    """Where it was loaded from, when the config named it."""


class BaseModelRef(BaseModel):
    """The model a run started from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    spec: str | None
    """The config's ``model`` value (``None`` = the embedded default)."""
    name: str
    """Human name: GGUF stem, Hugging Face id or folder."""
    source: str
    """What ``from_pretrained`` loaded."""
    adapters: list[str] = []
    """Earlier caic adapters merged into the base before training (innermost first)."""


class RunRecord(BaseModel):
    """``run.json``: the manifest of one training run, written last (it marks completion)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = SCHEMA_VERSION
    """Version of this record's layout."""
    kind: str
    """``sft``, ``rm``, ``dpo`` or ``rl``."""
    caic_version: str
    """caic's version."""
    seed: int
    """The run's seed."""
    base_model: BaseModelRef
    """The model trained."""
    constitutions: list[ConstitutionRef]
    """The constitution(s) the data came from (usually one; empty when the data carry none)."""
    data: list[DataFile]
    """Every input read, with sha256 and row counts."""
    adapter: bool
    """True when ``output_dir`` holds a LoRA adapter, False for a full model."""
    outputs: dict[str, str]
    """sha256 of each weight file written, by file name."""
    versions: dict[str, str]
    """Library versions (trl, peft, transformers, torch)."""
    summary: dict[str, Any]
    """Headline numbers: first/last logged loss or reward, the before/after probe, steps, time."""
    command: str | None = None
    """The command line that ran it, when known."""
    extra: dict[str, Any] = {}
    """Trainer-specific facts (e.g. the reward model an RL run used)."""


def shipped_by_sha() -> dict[str, tuple[str, str, str]]:
    """``{sha256: (name, version, path)}`` of the constitutions caic ships."""
    from caic.constitution_lang import load, sha256
    from caic.constitutions import shipped

    out: dict[str, tuple[str, str, str]] = {}
    for _key, path in shipped().items():
        try:
            c = load(path)
        except Exception:  # a broken shipped file must not stop a training run
            continue
        out.setdefault(sha256(c), (c.name, c.version or "", str(path)))
    return out


def resolve_constitutions(named: str | None, data: list[DataFile]) -> list[ConstitutionRef]:
    """The constitution(s) behind a run: the config's, checked against the data's hashes."""
    data_shas = sorted({s for d in data for s in d.constitution_sha256})
    if named is not None:
        from caic.constitution_lang import load, sha256
        from caic.constitutions import find

        path = find(named)
        if not path.exists():
            raise usage_error(f"constitution not found: {named}", code="E004")
        c = load(path)
        sha = sha256(c)
        if data_shas and data_shas != [sha]:
            files = ", ".join(d.path for d in data if d.constitution_sha256)
            raise usage_error(
                f"the data ({files}) was produced under constitution sha256 "
                f"{', '.join(s[:12] for s in data_shas)}, but the config names {c.name} "
                f"(sha256 {sha[:12]})",
                code="E011",
                hint="point `constitution` at the file the data came from, or drop it",
            )
        return [ConstitutionRef(sha256=sha, name=c.name, version=c.version, path=str(path))]
    if not data_shas:
        return []
    known = shipped_by_sha()
    refs = []
    for sha in data_shas:
        name, version, path = known.get(sha, (None, None, None))
        refs.append(ConstitutionRef(sha256=sha, name=name, version=version or None, path=path))
    return refs


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def render_card(run: RunRecord, hyper: dict[str, Any]) -> str:
    """The model card: YAML front matter for the Hub, then the provenance tables."""
    import yaml

    what = {
        "sft": "supervised fine-tuning on SL-CAI revisions (stage 1 of Constitutional AI)",
        "rm": "a reward model on RLAIF preference labels (stage 2 of Constitutional AI)",
        "dpo": "DPO on RLAIF preference labels (stage 2 of Constitutional AI)",
        "rl": "RL against a reward model trained on RLAIF labels (stage 2 of Constitutional AI)",
    }[run.kind]
    front: dict[str, Any] = {
        "library_name": "peft" if run.adapter else "transformers",
        "tags": ["caic", "constitutional-ai", "trl", run.kind],
        "caic": {
            "kind": run.kind,
            "caic_version": run.caic_version,
            "constitution_sha256": [c.sha256 for c in run.constitutions],
            "data_sha256": {d.path: d.sha256 for d in run.data},
        },
    }
    if (
        run.base_model.spec is not None
        and "/" in run.base_model.name
        and not run.base_model.adapters
    ):
        front["base_model"] = run.base_model.name
    lines = ["---", yaml.safe_dump(front, sort_keys=False).rstrip(), "---", ""]
    lines += [f"# caic {run.kind} model", "", f"Trained by caic {run.caic_version}: {what}.", ""]
    lines += ["## Constitution", ""]
    if run.constitutions:
        lines += ["| name | version | sha256 |", "|---|---|---|"]
        for c in run.constitutions:
            lines.append(f"| {c.name or '(unknown)'} | {c.version or '(unknown)'} | `{c.sha256}` |")
    else:
        lines.append("No constitution recorded: the training data carry no `constitution_sha256`.")
    lines += ["", "## Base model", ""]
    lines.append(f"- name: {run.base_model.name}")
    lines.append(f"- loaded from: `{run.base_model.source}`")
    for a in run.base_model.adapters:
        lines.append(f"- with the caic adapter `{a}` merged in first")
    lines.append(f"- output: {'LoRA adapter' if run.adapter else 'full model weights'}")
    lines += [
        "",
        "## Data",
        "",
        "| role | file | sha256 | rows | skipped |",
        "|---|---|---|---|---|",
    ]
    for d in run.data:
        skipped = ", ".join(f"{k}: {v}" for k, v in d.skipped.items()) or "0"
        lines.append(f"| {d.role} | `{d.path}` | `{d.sha256 or '-'}` | {d.rows} | {skipped} |")
    lines += ["", "## Outputs", ""]
    for name, sha in sorted(run.outputs.items()):
        lines.append(f"- `{name}`: sha256 `{sha}`")
    lines += ["", "## Results", ""]
    for k, v in run.summary.items():
        lines.append(f"- {k}: {_fmt(v)}")
    lines += ["", "## Training", "", f"- seed: {run.seed}"]
    for k, v in run.versions.items():
        lines.append(f"- {k} {v}")
    if run.command:
        lines.append(f"- command: `{run.command}`")
    lines += ["", "Resolved configuration (also in `config.yaml`):", "", "```yaml"]
    lines.append(yaml.safe_dump(hyper, sort_keys=False).rstrip())
    lines += ["```", ""]
    return "\n".join(lines)
