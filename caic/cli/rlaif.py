"""``caic rlaif pairs | label | audit | probe``: AI preference labels for stage 2 (RL-CAI).

Each command is its job's config (:mod:`caic.training.rlaif_job`) as options, and a call."""

from __future__ import annotations

import json

import typer

from caic.cli import group, print_diagnostics
from caic.cli.options import config_command
from caic.cli.progress import progress_bar, say
from caic.training.rlaif_job import AuditConfig, LabelConfig, PairsConfig, ProbeConfig

rlaif = group(
    "rlaif",
    "RLAIF (stage 2): sample response pairs, label them with an AI judge, audit the labels.",
)


@config_command(rlaif, "pairs", PairsConfig, short={"out": "-o", "model": "-m"})
def pairs_cmd(cfg: PairsConfig) -> None:
    """Sample `--n` completions per prompt from a policy, for the judge to label.

    Writes `{id, prompt, response_a, response_b (, response_c ...), model, seed, ...}` per
    prompt. Prompts are sampled in chunks of `--chunk-size`, each with a seed derived from
    `--seed` and its index, and written as each chunk finishes. **Resuming**: rerun the
    same command and only missing prompts are sampled; a run with a different model, seed,
    sampling or prompts is refused. `--limit` may grow between runs.

    Example: `caic rlaif pairs --prompts prompts.jsonl --n 2 --temperature 0.9 --out pairs.jsonl`
    """
    from caic.training.rlaif_job import pairs

    with progress_bar("prompts") as progress:
        result = pairs(cfg, say=say, progress=progress)
    if result.resumed < result.total:
        say(f"wrote {result.written} prompt(s) to {result.out} in {result.seconds:.1f} s")
    typer.echo(str(result.out))


@config_command(
    rlaif,
    "label",
    LabelConfig,
    short={"constitution": "-c", "out": "-o"},
    flags={"cot": ["--cot/--no-cot"]},
)
def label_cmd(cfg: LabelConfig) -> None:
    """Label response pairs with an AI judge against the constitution's principles.

    Each output row is a TRL conversational preference row (`prompt`, `chosen`,
    `rejected`) plus the soft label `p_chosen`, the per-order estimates `p_forward` and
    `p_swapped`, `consistent`, the principles and their votes, the judge, the constitution
    sha256 and `gold` where the input has a human preference. A judge that picks neither
    option is recorded as `abstained: true` with no label. `--mode` and `--cot` default to
    the constitution's `judge` settings (pairwise without CoT unless it says otherwise).

    **Resuming**: rerun the same command and only missing pairs are judged; a run with a
    different constitution, judge, mode, principles, seed or pairs file is refused.

    Example: `caic rlaif label -c hhh-v2 --pairs pairs.jsonl --mode pointwise --out labels.jsonl`
    """
    from caic.training.rlaif_job import label

    with progress_bar("pairs") as progress:
        r = label(cfg, say=say, progress=progress)
    if r.resumed < r.total:
        say(
            f"labelled {r.labelled} pair(s), {r.abstained} abstention(s), "
            f"into {r.out} in {r.seconds:.1f} s"
        )
    typer.echo(str(r.out))


@config_command(rlaif, "audit", AuditConfig)
def audit_cmd(cfg: AuditConfig) -> None:
    """Audit AI labels: position consistency, first-slot rate, length bias, abstentions,
    and, with gold labels, accuracy, Cohen's κ, ECE and Brier, overall and per principle.

    Gold comes from the labels' `gold` field (kept from the input pairs) or `--gold`.
    `--format json` prints the keys `position_consistency`, `first_slot_rate`,
    `length_bias`, `abstention_rate`, `accuracy`, `kappa`, `ece`, `brier`, `n`,
    `n_labelled`, `n_gold` and `per_principle`; a measure that cannot be computed is null.

    Example: `caic rlaif audit --labels labels.jsonl --format json`
    """
    from caic.training.label_audit import render_human
    from caic.training.rlaif_job import audit

    report = audit(cfg, say=say).report
    if cfg.format == "json":
        typer.echo(json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        typer.echo(render_human(report))


@config_command(rlaif, "probe", ProbeConfig, short={"constitution": "-c"})
def probe_cmd(cfg: ProbeConfig) -> None:
    """Behavioural lint: flag principle pairs whose votes conflict or coincide in practice.

    Every principle with a judge text labels every probe pair; pairs of principles whose
    votes anti-correlate (Pearson r <= -0.3) are reported as `conflict-in-practice`
    (CAI901) unless a `tension` declares them, and those with r >= 0.9 as
    `redundant-in-practice` (CAI902). Exit 1 when there are findings.

    Example: `caic rlaif probe -c hhh-v2 --pairs probe.jsonl --limit 20`
    """
    from caic.training.rlaif_job import probe

    diags = probe(cfg, say=say).diagnostics
    print_diagnostics(diags, cfg.format)
    if cfg.format == "human":
        say(f"{len(diags)} finding(s)")
    raise typer.Exit(1 if diags else 0)
