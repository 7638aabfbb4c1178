"""Find and load the models trainers start from: the embedded default, a folder, a GGUF file,
a Hugging Face id, or the output folder of an earlier caic run.

A caic LoRA run saves only its adapter. Started from such a folder, a trainer merges the
adapter into its base (found again through the run's ``config.yaml``, so a moved cache does not
break it) and trains a fresh adapter on top: DPO or RL after SFT, as TRL recommends
("merge and unload the existing adapter"), with the SFT model as the reference.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from caic.errors import CaicError, usage_error

if TYPE_CHECKING:
    import torch
    from peft import LoraConfig
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from caic.training.config import LoraSettings

log = logging.getLogger(__name__)

TRAINING_TEMPLATE = Path(__file__).with_name("smollm2_training.j2")
"""SmolLM2's chat template with ``{% generation %}`` markers (renders identically)."""


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model spec points: a loadable base and the caic adapters to merge into it."""

    spec: str | None
    """The spec as written in the config (``None`` = the embedded default)."""
    source: str
    """A local folder or Hugging Face id that ``from_pretrained`` loads."""
    name: str
    """A human name for model cards: the GGUF stem, the HF id or the folder."""
    adapters: tuple[Path, ...] = ()
    """PEFT adapter folders to merge into ``source``, innermost first (SFT, then DPO ...)."""
    base_name: str | None = None
    """With adapters, the name of the model under them."""

    @property
    def adapter(self) -> Path | None:
        """The outermost adapter (the one ``spec`` names), if any."""
        return self.adapters[-1] if self.adapters else None


def _is_model_dir(p: Path) -> bool:
    return (p / "config.json").is_file() or (p / "adapter_config.json").is_file()


def resolve_model(spec: str | None, _depth: int = 0) -> ResolvedModel:
    """Resolve a model spec without loading weights; a missing model is one clear line."""
    from caic.backends import transformers_backend as tb

    if spec is None or spec.strip() in ("", "default"):
        gguf = tb.default_gguf_path()
        return ResolvedModel(
            None, str(tb.materialise_gguf(gguf)), f"{gguf.stem} (embedded default)"
        )
    text = spec.strip()
    path = Path(text).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise usage_error(f"base model not found: no such GGUF file {text}", code="E004")
        return ResolvedModel(spec, str(tb.materialise_gguf(path.resolve())), path.stem)
    if path.exists():
        if not path.is_dir() or not _is_model_dir(path):
            raise usage_error(
                f"base model {text} is not a model folder (no config.json or adapter_config.json)",
                code="E004",
            )
        if (path / "adapter_config.json").is_file():
            if _depth > 8:
                raise usage_error(f"adapter chain under {text} is too deep (a cycle?)", code="E004")
            base = _adapter_base(path, _depth)
            return ResolvedModel(
                spec,
                base.source,
                str(path),
                adapters=(*base.adapters, path),
                base_name=base.base_name or base.name,
            )
        return ResolvedModel(spec, str(path), str(path))
    first = Path(text.split("/")[0]).expanduser()
    looks_local = text.startswith(("/", ".", "~")) or text.count("/") > 1 or first.is_dir()
    if looks_local:
        raise usage_error(f"base model not found: no such folder {text}", code="E004")
    check_hub_model(text)
    return ResolvedModel(spec, text, text)


def check_hub_model(repo_id: str) -> None:
    """Fail early, in one line, when a Hugging Face id is neither cached nor on the Hub.

    Without this, transformers retries the download for about a minute, logging each retry,
    before its error reaches the user. A cached model passes without touching the network;
    with ``HF_HUB_OFFLINE=1`` an uncached one fails at once. Otherwise one metadata request
    (no retries) asks the Hub whether the repository exists.
    """
    from huggingface_hub import constants, try_to_load_from_cache

    try:
        if isinstance(try_to_load_from_cache(repo_id, "config.json"), str):
            return
    except ValueError as e:  # not a valid repo id ("a b", "x//y" ...)
        raise usage_error(
            f"base model not found: {repo_id} is not a local path or a Hugging Face id ({e})",
            code="E004",
        ) from None
    import os

    if constants.HF_HUB_OFFLINE or os.environ.get("TRANSFORMERS_OFFLINE", "") not in ("", "0"):
        raise usage_error(
            f"base model not found: {repo_id} is not a local folder and not in the Hugging Face "
            "cache (offline mode is set)",
            code="E004",
        )
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    try:
        HfApi().model_info(repo_id, timeout=10)
    except GatedRepoError:
        return  # it exists; loading says what access it needs
    except RepositoryNotFoundError:
        raise usage_error(
            f"base model not found: no local folder and no Hugging Face model {repo_id}",
            code="E004",
        ) from None
    except Exception as e:  # noqa: BLE001 - network errors come from several libraries
        raise usage_error(
            f"base model not found: {repo_id} is not a local folder, not in the Hugging Face "
            f"cache, and the Hub could not be asked ({_describe(e)})",
            code="E004",
            hint="download it first, or point `model` at a local folder",
        ) from None


def _adapter_base(adapter: Path, depth: int) -> ResolvedModel:
    """The model under a caic adapter: its run's ``config.yaml`` spec, else PEFT's record."""
    run_cfg = adapter / "config.yaml"
    if run_cfg.is_file():
        import yaml

        data = yaml.safe_load(run_cfg.read_text(encoding="utf-8")) or {}
        if isinstance(data, dict) and "model" in data:
            # caic writes local model paths absolute, so this finds the exact model the
            # adapter was trained on (PEFT's record names only the innermost base)
            return resolve_model(data["model"], depth + 1)
    cfg = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    base_id = cfg.get("base_model_name_or_path")
    if not base_id:
        raise usage_error(f"{adapter}/adapter_config.json names no base model", code="E004")
    return resolve_model(base_id, depth + 1)


def _describe(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"[:300]


def load_tokenizer(model: ResolvedModel) -> PreTrainedTokenizerBase:
    """The tokenizer saved with an adapter, else the base's; pad token = eos when unset."""
    from transformers import AutoTokenizer

    where = (
        model.adapter
        if model.adapter and (model.adapter / "tokenizer_config.json").is_file()
        else None
    )
    try:
        tok = AutoTokenizer.from_pretrained(str(where or model.source))
    except (OSError, ValueError) as e:
        raise usage_error(f"cannot load the tokenizer of {model.name}: {_describe(e)}") from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def _plain(model: Any) -> Any:
    # A GGUF-loaded model keeps a quantizer wrapper that refuses training and saving although
    # its weights are plain floats (STACK-NOTES); the cached safetensors copy has none, but an
    # arbitrary folder might.
    if getattr(model, "hf_quantizer", None) is not None and not getattr(
        model, "is_loaded_in_4bit", False
    ):
        model.hf_quantizer = None
        model.is_quantized = False
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
    return model


def load_causal_lm(model: ResolvedModel, dtype: torch.dtype) -> PreTrainedModel:
    """The causal LM a spec names, with a caic adapter merged in."""
    from transformers import AutoModelForCausalLM

    try:
        base = AutoModelForCausalLM.from_pretrained(model.source, dtype=dtype)
    except (OSError, ValueError) as e:
        raise usage_error(
            f"cannot load base model {model.name}: {_describe(e)}", code="E004"
        ) from None
    return merge_adapters(_plain(base), model.adapters)


def merge_adapters(model: Any, adapters: tuple[Path, ...]) -> Any:
    """Load each adapter onto ``model`` and merge it in, innermost first."""
    if not adapters:
        return model
    from peft import PeftModel

    for adapter in adapters:
        try:
            model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
        except (OSError, ValueError, KeyError, RuntimeError) as e:
            raise usage_error(
                f"cannot load adapter {adapter}: {_describe(e)}", code="E004"
            ) from None
    return model


def load_reward_model(
    spec: str, dtype: torch.dtype
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A one-label sequence classifier: a caic ``train rm`` output (adapter merged) or any model."""
    from transformers import AutoModelForSequenceClassification

    resolved = resolve_model(spec)
    path = Path(spec)
    cfg_file = path / "adapter_config.json"
    if cfg_file.is_file():
        task = json.loads(cfg_file.read_text(encoding="utf-8")).get("task_type")
        if task != "SEQ_CLS":
            raise usage_error(
                f"{spec} holds a {task or 'non-classifier'} adapter, not a reward model",
                hint="point reward_model at the output_dir of `caic train rm`",
                code="E004",
            )
    from trl.trainer.reward_trainer import suppress_seqcls_warning

    try:
        with suppress_seqcls_warning():  # the score head's weights come with the adapter
            base = AutoModelForSequenceClassification.from_pretrained(
                resolved.source, num_labels=1, dtype=dtype
            )
    except (OSError, ValueError) as e:
        raise usage_error(f"cannot load reward model {spec}: {_describe(e)}", code="E004") from None
    model = merge_adapters(_plain(base), resolved.adapters)
    tok = load_tokenizer(resolved)
    model.config.pad_token_id = tok.pad_token_id
    model.config._name_or_path = path.name or spec  # TRL names its reward metrics after it
    model.eval()
    return model, tok


def lora_config(settings: LoraSettings, task_type: str) -> LoraConfig:
    """PEFT's LoraConfig; a reward model also trains (and saves) its new ``score`` head."""
    from peft import LoraConfig

    return LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=settings.target_modules,
        task_type=task_type,
        modules_to_save=["score"] if task_type == "SEQ_CLS" else None,
    )


def training_chat_template(tok: PreTrainedTokenizerBase) -> str | None:
    """A template with ``{% generation %}`` markers that renders as ``tok``'s does, or None.

    None means the tokenizer's own template already has markers. TRL patches the templates
    it knows; SmolLM2's is not among them (STACK-NOTES), so caic ships an equivalent one.
    Raises :class:`CaicError` when neither applies; callers then fall back to training on the
    final assistant turn as a completion.
    """
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    current = tok.chat_template
    if not current:
        raise CaicError("the tokenizer has no chat template")
    if has_generation_markers(current):
        return None
    ours = TRAINING_TEMPLATE.read_text(encoding="utf-8")
    if _renders_same(tok, ours):
        return ours
    try:
        return get_training_chat_template(tok)
    except ValueError as e:
        raise CaicError(f"no training chat template for this model: {e}") from None


_PROBES: list[list[dict[str, str]]] = [
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],
    [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "and 3+3?"},
    ],
]


def _renders_same(tok: PreTrainedTokenizerBase, template: str) -> bool:
    try:
        for conv in _PROBES:
            for gen in (False, True):
                a = tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=gen)
                b = tok.apply_chat_template(
                    conv, tokenize=False, add_generation_prompt=gen, chat_template=template
                )
                if a != b:
                    return False
    except Exception:  # a template that fails on the probes is simply not equivalent
        return False
    return True


def select_device(requested: str) -> str:
    """``auto`` → ``cuda`` when available, else ``cpu``."""
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise usage_error(
            "train.device is cuda but no CUDA device is visible", hint="use train.device=cpu"
        )
    return requested


def logits_of(
    model: Any, tok: PreTrainedTokenizerBase, conversations: list[list[dict[str, str]]]
) -> torch.Tensor:
    """Next-token logits over each chat-rendered conversation (for "did training change it")."""
    import torch

    texts = [str(tok.apply_chat_template(c, tokenize=False)) for c in conversations]
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    device = next(model.parameters()).device
    with torch.inference_mode():
        out = model(**{k: v.to(device) for k, v in enc.items()})
    return out.logits.float().cpu()
