"""Training configurations: pydantic models loaded from YAML, overridable by ``key=value``.

One model per trainer (:class:`SFTRunConfig`, :class:`RMRunConfig`, :class:`DPORunConfig`,
:class:`RLRunConfig`), sharing :class:`LoraSettings` and :class:`TrainSettings`. Every field
has a default and a docstring saying why. A config file is YAML whose first line is a comment
with the command that runs it (torchtune's recipe configs)::

    # caic train sft --config training/configs/sft-smoke.yaml
    data: training/data/sft_tiny.jsonl
    output_dir: runs/sft-smoke
    train: {max_steps: 8}

Overrides on the command line use dotted paths and YAML values:
``train.max_steps=3 lora.enabled=false output_dir=/tmp/x``. An unknown key or a value of the
wrong type is one line naming the field path and the expected type.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from caic.errors import usage_error

Kind = Literal["sft", "rm", "dpo", "rl"]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class LoraSettings(_Strict):
    """The PEFT LoRA adapter, or full fine-tuning when ``enabled`` is false."""

    enabled: bool = True
    """Train a LoRA adapter (true) or every weight (false). LoRA trains about 1% of the weights,
    fits a laptop, saves a few-MB adapter, and gives DPO/RL a free reference model (the base
    with the adapter disabled)."""
    r: int = Field(default=16, ge=1)
    """Adapter rank. 16 is the common default: enough capacity for behaviour tuning of small
    models without noticeable overfitting on a few thousand rows."""
    alpha: int = Field(default=32, ge=1)
    """LoRA scaling numerator (scale = alpha / r). Twice the rank is the usual choice and keeps
    the effective step size independent of ``r``."""
    dropout: float = Field(default=0.05, ge=0.0, lt=1.0)
    """Dropout on the adapter input; 0.05 is a little regularisation for small data sets
    (the smoke configs use 0, because there the point is to over-fit)."""
    target_modules: list[str] | Literal["all-linear"] = "all-linear"
    """Modules that get adapters. ``all-linear`` (every linear layer but the output head)
    trains better than attention-only LoRA at the same rank (QLoRA paper)."""


class TrainSettings(_Strict):
    """Optimisation and hardware settings mapped onto TRL's config for every trainer."""

    max_steps: int = -1
    """Optimizer steps to run; -1 means run ``epochs`` epochs. Smoke configs fix a few steps so
    a run has a known cost."""
    epochs: float = Field(default=1.0, gt=0)
    """Passes over the data when ``max_steps`` is -1; one pass is the usual choice for SFT and
    preference data to avoid memorising labels."""
    learning_rate: float = Field(default=2e-4, gt=0)
    """Peak AdamW learning rate. 2e-4 suits LoRA; full fine-tuning wants about 1e-5."""
    batch_size: int = Field(default=4, ge=1)
    """Per-device batch size (pairs for rm/dpo, prompts x generations for rl). 4 fits the
    135M model on a laptop CPU (~2-3 GB, benchmarks/train_bench.py); raise it on a GPU."""
    grad_accum: int = Field(default=1, ge=1)
    """Gradient accumulation steps; 1 (none) because small runs need no larger batch. Raise
    it to reach a larger effective batch in less memory."""
    max_length: int = Field(default=1024, ge=8)
    """Token budget per sequence. SFT and DPO truncate to it; the reward trainer drops pairs
    longer than it (TRL behaviour). 1024 covers SL-CAI revisions with room to spare."""
    warmup_ratio: float = Field(default=0.0, ge=0.0, lt=1.0)
    """Fraction of steps spent warming the learning rate up; 0 for short runs, ~0.03 for long."""
    lr_scheduler: str = "linear"
    """transformers scheduler (linear, cosine, constant, ...); linear decay is TRL's default."""
    weight_decay: float = Field(default=0.0, ge=0.0)
    """AdamW weight decay; 0 because LoRA adapters are already a strong regulariser."""
    max_grad_norm: float = Field(default=1.0, gt=0)
    """Gradient clipping norm; 1.0 is the transformers default and keeps RL steps stable."""
    logging_steps: int = Field(default=1, ge=1)
    """Log loss/reward every N steps. Every step, so short runs have a full history in
    ``metrics.json``."""
    save_steps: int = Field(default=0, ge=0)
    """Write a resumable checkpoint every N steps under ``output_dir/checkpoints`` (0: none).
    An interrupted run started again resumes from the newest checkpoint."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where to train. ``auto`` picks CUDA when present. Under ``accelerate launch`` the
    launcher decides the device of each process."""
    bf16: bool | None = None
    """bfloat16 mixed precision. ``null`` means on for CUDA GPUs that support it, off on CPU,
    where bf16 is slower than fp32 (STACK-NOTES) and TRL's default of on would be wrong."""
    gradient_checkpointing: bool | None = None
    """Recompute activations in the backward pass to save memory. ``null`` means on for CUDA
    and off on CPU, where memory is plentiful and the ~20% slowdown buys nothing."""
    cpu_threads: int | None = Field(default=None, ge=1)
    """Torch CPU threads; ``null`` keeps torch's default (one per core). On a machine shared
    with other jobs, 1 avoids OpenMP oversubscription, which slowed LoRA steps 3-8x here."""
    num_workers: int = Field(default=0, ge=0)
    """DataLoader worker processes; 0 keeps tokenised batches in the main process (the data are
    small and pre-tokenised)."""


class RMTrainSettings(TrainSettings):
    """:class:`TrainSettings` with the reward-model learning rate."""

    learning_rate: float = Field(default=1e-4, gt=0)
    """Peak learning rate; 1e-4 is TRL's reward-model default and suits a LoRA reward head."""


class DPOTrainSettings(TrainSettings):
    """:class:`TrainSettings` with the DPO learning rate."""

    learning_rate: float = Field(default=5e-5, gt=0)
    """Peak learning rate; 5e-5 is a common LoRA DPO rate (TRL's 1e-6 is for full
    fine-tuning, where every weight moves)."""


class RLTrainSettings(TrainSettings):
    """:class:`TrainSettings` with the RL learning rate."""

    learning_rate: float = Field(default=1e-5, gt=0)
    """Peak learning rate; RL against a learned reward wants small steps, or the policy finds
    the reward model's blind spots."""


class RunConfig(_Strict):
    """Fields every training run has."""

    kind: Kind
    """Which trainer the config is for (``sft``, ``rm``, ``dpo``, ``rl``)."""
    model: str | None = None
    """Base model: ``null`` for the embedded SmolLM2-135M-Instruct; else a local folder, a
    ``.gguf`` file, a Hugging Face id, or the output folder of an earlier caic run (its adapter
    is merged into its base first, so DPO/RL can start from the SFT model)."""
    output_dir: str = "runs/train"
    """Where the adapter or model, tokenizer, resolved config, metrics and model card go
    (overridable as ``output_dir=PATH``). Under ``runs/``, which git ignores, so trained
    weights never land in a commit by accident."""
    seed: int = 0
    """Seed for data order, adapter initialisation and sampling; recorded in every artefact.
    Fixed (not random) by default so the same config and data give the same model."""
    constitution: str | None = None
    """The constitution the data came from (path or shipped name), named in the model card.
    ``null`` takes the ``constitution_sha256`` the data rows carry; a mismatch is an error."""
    probe_items: int = Field(default=8, ge=0)
    """Training items measured before and after training (NLL, reward margin, implicit reward,
    mean reward) into ``metrics.json``, so a run shows it learned. 0 disables the probe."""
    lora: LoraSettings = LoraSettings()
    """The LoRA adapter (see :class:`LoraSettings`)."""
    train: TrainSettings = TrainSettings()
    """Optimisation and hardware (see :class:`TrainSettings`)."""
    trl: dict[str, Any] = {}
    """Extra fields passed to the TRL config class as they are, for options caic does not
    model (e.g. ``{warmup_steps: 10}``); unknown names are rejected when the run starts."""


class SFTRunConfig(RunConfig):
    """``caic train sft``: TRL SFTTrainer on SL-CAI revisions (or any TRL SFT data set)."""

    kind: Literal["sft"] = "sft"
    """Which trainer this config is for; lets a config file say what it is."""
    data: str = "sl_cai_sft.jsonl"
    """Training rows: the ``caic sl-cai export`` JSONL (conversational ``messages``), any TRL
    SFT JSONL (``messages``, ``prompt``/``completion`` or ``text``), a ``save_to_disk`` folder
    or a Hugging Face dataset id."""
    split: str = "train"
    """Split to read when ``data`` is a Hugging Face dataset id or a DatasetDict folder;
    ``train`` because that is the split name SFT data sets use."""
    assistant_only_loss: bool = True
    """Loss on assistant turns only: the model learns the revisions, not to imitate red-team
    prompts. Needs ``{% generation %}`` markers; caic supplies an equivalent template for
    SmolLM2/ChatML and otherwise trains on the final assistant turn as a completion."""
    chat_template: str | None = None
    """A ``.jinja``/``.j2`` chat template with ``{% generation %}`` markers to use for training;
    ``null`` picks one (TRL's patched template, or caic's for ChatML models)."""


class RMRunConfig(RunConfig):
    """``caic train rm``: a reward model on RLAIF labels (TRL RewardTrainer)."""

    kind: Literal["rm"] = "rm"
    """Which trainer this config is for."""
    data: str = "labels.jsonl"
    """``caic rlaif label`` output: TRL preference rows plus ``p_chosen`` and ``abstained``."""
    soft_labels: bool = True
    """Train against ``p_chosen`` with a soft-target Bradley-Terry cross-entropy, keeping the
    judge's uncertainty (a 0.55 label pulls far less than a 0.95 one). False: TRL's hard
    -log sigmoid(r_c - r_r) loss."""
    skip_abstained: bool = True
    """Drop rows the judge abstained on: they carry no preference."""
    center_rewards_coefficient: float | None = None
    """TRL's penalty keeping rewards mean-zero (0.01 recommended for RL use); off by default."""
    train: RMTrainSettings = RMTrainSettings()
    """Optimisation (learning rate 1e-4 by default)."""


class DPORunConfig(RunConfig):
    """``caic train dpo``: TRL DPOTrainer on RLAIF labels (LoRA by default)."""

    kind: Literal["dpo"] = "dpo"
    """Which trainer this config is for."""
    data: str = "labels.jsonl"
    """``caic rlaif label`` output (or any TRL preference JSONL)."""
    beta: float = Field(default=0.1, gt=0)
    """KL strength: how far the policy may move from the reference. 0.1 is the DPO paper's value."""
    loss_type: str = "sigmoid"
    """TRL DPO loss: ``sigmoid`` (the DPO paper's loss, the best studied, hence the default),
    ``ipo``, ``robust`` (with ``label_smoothing``), ... Checked by TRL when the run starts."""
    label_smoothing: float = Field(default=0.0, ge=0.0, lt=0.5)
    """Assumed label-flip rate for the ``robust``/cDPO losses: admits AI labels are noisy."""
    min_confidence: float = Field(default=0.0, ge=0.0, le=0.5)
    """Drop pairs whose soft label is within this distance of 0.5 (``|p_chosen - 0.5|``): the
    judge could not tell them apart. 0 keeps every labelled pair."""
    skip_abstained: bool = True
    """Drop rows the judge abstained on: they carry no preference, and DPO would otherwise
    train on an arbitrary direction."""
    train: DPOTrainSettings = DPOTrainSettings()
    """Optimisation (learning rate 5e-5 by default)."""


class RLRunConfig(RunConfig):
    """``caic train rl``: GRPO or RLOO against a trained caic reward model, LoRA on the policy."""

    kind: Literal["rl"] = "rl"
    """Which trainer this config is for."""
    algorithm: Literal["grpo", "rloo"] = "grpo"
    """TRL trainer: GRPO (group-normalised advantages) or RLOO (leave-one-out baseline). TRL has
    no PPOTrainer any more; both use the reward model as their reward function."""
    prompts: str = "prompts.jsonl"
    """Prompts to roll out: JSONL/CSV with a prompt column (red-team prompts, pairs or labels
    files work), or a Hugging Face dataset id."""
    prompt_column: str | None = None
    """Name of the prompt column when it is not one of the usual names; ``null`` finds
    ``prompt``/``text``/... itself, which covers caic's and TRL's files."""
    max_prompts: int | None = Field(default=None, ge=1)
    """Use only the first N prompts; ``null`` uses all, because a real run wants every
    prompt and smoke configs set a small number explicitly."""
    reward_model: str = "runs/rm"
    """Output folder of ``caic train rm`` (adapter or full model), or any sequence-classification
    model with one label."""
    num_generations: int = Field(default=4, ge=2)
    """Completions sampled per prompt; the group is the baseline. The batch must be divisible
    by it."""
    max_completion_length: int = Field(default=64, ge=1)
    """New tokens per completion. Short keeps CPU steps affordable; raise on GPU."""
    temperature: float = Field(default=1.0, gt=0)
    """Sampling temperature for rollouts; 1.0 explores enough for group baselines to differ."""
    beta: float = Field(default=0.0, ge=0.0)
    """KL penalty against the reference policy (0: no reference forward pass, TRL's GRPO
    default; RLOO's is 0.05)."""
    train: RLTrainSettings = RLTrainSettings()
    """Optimisation (learning rate 1e-5 by default)."""


CONFIG_CLASSES: dict[str, type[RunConfig]] = {
    "sft": SFTRunConfig,
    "rm": RMRunConfig,
    "dpo": DPORunConfig,
    "rl": RLRunConfig,
}

C = TypeVar("C", bound=BaseModel)


# -- loading --------------------------------------------------------------------------------


def shipped_path(path: str | Path) -> Path:
    """``path`` as given when it exists; else, for ``training/...``, the file shipped inside the
    installed package (so the shipped configs and data work from any directory)."""
    p = Path(path)
    if p.exists() or p.is_absolute() or p.parts[:1] != ("training",):
        return p
    packaged = Path(__file__).resolve().parent.joinpath(*p.parts[1:])
    return packaged if packaged.exists() else p


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML mapping from ``path``; syntax errors and non-mappings are one-line usage errors."""
    import yaml

    p = shipped_path(path)
    if not p.is_file():
        raise usage_error(f"no such config file: {p}", path=str(p), code="E004")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise usage_error(
            f"malformed YAML: {problem}", path=str(p), line=line, code="E005"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise usage_error("a config must be a YAML mapping", path=str(p), code="E005")
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """``a.b=VALUE`` → (["a", "b"], VALUE parsed as YAML); ``a.b=`` is an empty string."""
    import yaml

    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise usage_error(f"override `{text}` is not KEY=VALUE", hint="e.g. train.max_steps=3")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return [k.strip() for k in key.strip().split(".")], value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """A copy of ``data`` with each ``dotted.key=value`` set (intermediate mappings created)."""
    import copy

    out = copy.deepcopy(data)
    for text in overrides:
        keys, value = parse_override(text)
        node = out
        for i, k in enumerate(keys[:-1]):
            nxt = node.get(k)
            if nxt is None:
                nxt = node[k] = {}
            if not isinstance(nxt, dict):
                path = ".".join(keys[: i + 1])
                raise usage_error(f"override `{text}`: `{path}` is not a mapping")
            node = nxt
        node[keys[-1]] = value
    return out


def type_name(annotation: Any) -> str:
    """A short name for a field annotation: ``int``, ``float | None``, ``'grpo' | 'rloo'``."""
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(annotation))
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(a) for a in typing.get_args(annotation))
    if origin is not None:
        args = ", ".join(type_name(a) for a in typing.get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if annotation is type(None):
        return "None"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    return getattr(annotation, "__name__", str(annotation))


def _field_at(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[Any, list[str]]:
    """The annotation at ``loc`` in ``model`` and the sibling field names there (for hints)."""
    annotation: Any = model
    siblings: list[str] = list(model.model_fields)
    for part in loc:
        cls = _model_in(annotation)
        if cls is None or not isinstance(part, str) or part not in cls.model_fields:
            if cls is not None:
                siblings = list(cls.model_fields)
            return (annotation if cls is None else None), siblings
        siblings = list(cls.model_fields)
        annotation = cls.model_fields[part].annotation
    return annotation, siblings


def _field_loc(model: type[BaseModel], loc: tuple[Any, ...], extra: bool) -> tuple[Any, ...]:
    """The part of a pydantic error location that names fields (drops union-member tags)."""
    out: list[Any] = []
    cls: type[BaseModel] | None = model
    for part in loc:
        if cls is not None and isinstance(part, str) and part in cls.model_fields:
            out.append(part)
            cls = _model_in(cls.model_fields[part].annotation)
        elif extra and cls is not None and isinstance(part, str):
            out.append(part)  # the unknown key itself
            break
        elif isinstance(part, int):
            out.append(part)
        else:
            break
    return tuple(out)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def describe_error(model: type[BaseModel], err: ValidationError) -> str:
    """The first validation error as one line: ``path: message (expected TYPE)``."""
    first = err.errors()[0]
    loc = _field_loc(model, tuple(first["loc"]), extra=first["type"] == "extra_forbidden")
    path = ".".join(str(p) for p in loc) or "<root>"
    annotation, siblings = _field_at(model, loc)
    if first["type"] == "extra_forbidden":
        import difflib

        close = difflib.get_close_matches(str(loc[-1]), siblings, n=1)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        return f"unknown key `{path}`{hint} (known here: {', '.join(siblings)})"
    got = first.get("input")
    shown = f"{type(got).__name__} {got!r}" if not isinstance(got, dict) else "a mapping"
    if len(shown) > 60:
        shown = shown[:57] + "..."
    expected = type_name(annotation) if annotation is not None else "?"
    detail = first["msg"][0].lower() + first["msg"][1:]
    return f"`{path}` expects {expected}, got {shown} ({detail})"


def validate(
    model: type[C], data: dict[str, Any], source: str, overrides: list[str] | None = None
) -> C:
    """``model(**data)``, with the first error turned into a one-line usage error.

    The error points at the line of the offending key in ``source``, or at the command line
    when the key came from an override.
    """
    try:
        return model.model_validate(data)
    except ValidationError as e:
        loc = _field_loc(model, tuple(e.errors()[0]["loc"]), extra=True)
        dotted = ".".join(str(p) for p in loc)
        keys = [o.partition("=")[0].strip() for o in overrides or []]
        if any(
            dotted == k or dotted.startswith(k + ".") or k.startswith(dotted + ".") for k in keys
        ):
            raise usage_error(f"override: {describe_error(model, e)}", code="E010") from None
        line, column = key_line(source, loc)
        raise usage_error(
            describe_error(model, e), path=source, line=line, column=column, code="E010"
        ) from None


def key_line(source: str, loc: tuple[Any, ...]) -> tuple[int, int]:
    """(line, column), 1-based, where the YAML key path ``loc`` is written in ``source``."""
    import re

    try:
        lines = Path(source).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return 1, 1
    start, found = 0, (1, 1)
    for part in (p for p in loc if isinstance(p, str)):
        pat = re.compile(rf"(^\s*(?:-\s+)?|[{{,]\s*)({re.escape(part)})\s*:")
        for n in range(start, len(lines)):
            m = pat.search(lines[n])
            if m:
                start, found = n, (n + 1, m.start(2) + 1)
                break
        else:
            return found
    return found


def load_config(
    kind: str, path: str | Path | None, overrides: list[str] | None = None
) -> RunConfig:
    """The ``kind`` config from YAML ``path`` (or defaults) with ``overrides`` applied."""
    if kind not in CONFIG_CLASSES:
        raise usage_error(f"unknown trainer `{kind}`", hint="one of sft, rm, dpo, rl")
    cls = CONFIG_CLASSES[kind]
    data = read_yaml(path) if path is not None else {}
    source = str(path) if path is not None else "<defaults>"
    declared = data.get("kind")
    if declared is not None and declared != kind:
        raise usage_error(
            f"{source} is a `{declared}` config, not `{kind}`",
            path=source,
            code="E010",
            hint=f"run it with: caic train {declared} --config {source}",
        )
    data = apply_overrides(data, overrides or [])
    return validate(cls, data, source, overrides)


def to_yaml(cfg: BaseModel, header: str = "") -> str:
    """The resolved config as YAML (every field, defaults included), after a comment header."""
    import yaml

    body = yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
    return header + body


def field_docs(model: type[BaseModel]) -> dict[str, str]:
    """``{dotted.field: docstring}`` for every field, nested models included (documentation)."""
    out: dict[str, str] = {}
    for name, info in model.model_fields.items():
        out[name] = (info.description or "").strip()
        sub = _model_in(info.annotation)
        if sub is not None:
            for k, v in field_docs(sub).items():
                out[f"{name}.{k}"] = v
    return out


def commented_yaml(cfg: BaseModel, header: str = "") -> str:
    """``cfg`` as YAML with every field's docstring as a comment above it (``caic train show``).

    The result loads back to the same config, so it is a starting point for a new file.
    """
    import textwrap

    import yaml

    def scalar(value: Any) -> str:
        text = yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True)
        return text.strip().removesuffix("...").strip()

    lines: list[str] = []

    def walk(model: BaseModel, indent: str) -> None:
        for name, info in type(model).model_fields.items():
            doc = " ".join((info.description or "").split())
            width = max(40, 92 - len(indent))
            for chunk in textwrap.wrap(doc, width):
                lines.append(f"{indent}# {chunk}")
            value = getattr(model, name)
            if isinstance(value, BaseModel):
                lines.append(f"{indent}{name}:")
                walk(value, indent + "  ")
            else:
                lines.append(f"{indent}{name}: {scalar(value)}")

    walk(cfg, "")
    return header + "\n".join(lines) + "\n"
