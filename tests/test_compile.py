"""Compiler: PromptSet goldens, determinism, manifest hashes, sampling, binding, atomicity."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from caic.compiler import bind, data, prompts
from caic.compiler.promptset import write_promptset
from caic.compiler.sampling import draw, priority_ranks, probabilities
from caic.constitution_lang import load, loads, sha256
from caic.io import sha256_file

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
FILES = (
    "manifest.json",
    "principles.jsonl",
    "critique.jsonl",
    "revision.jsonl",
    "judge.jsonl",
    "sl_cai_jobs.jsonl",
    "judge_jobs.jsonl",
)


def _compile(out: Path) -> dict:  # type: ignore[type-arg]
    c = load(DATA / "valid" / "design_example.cai")
    jobs = {
        "sl_cai_jobs.jsonl": bind.sl_cai_jobs(
            c, data.load_prompts(str(DATA / "prompts_small.jsonl")), 2, 7
        ),
        "judge_jobs.jsonl": bind.judge_jobs(
            c, data.load_pairs(str(DATA / "pairs_mixed.jsonl")), 1, 7
        ),
    }
    return write_promptset(c, out, 7, jobs)


def test_promptset_matches_goldens(tmp_path: Path, golden: Callable[[Path, str], None]) -> None:
    _compile(tmp_path / "ps")
    for name in FILES:
        golden(
            DATA / "golden" / "design_example" / name,
            (tmp_path / "ps" / name).read_text(encoding="utf-8"),
        )


def test_same_inputs_and_seed_give_byte_identical_files(tmp_path: Path) -> None:
    _compile(tmp_path / "a")
    _compile(tmp_path / "b")
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_manifest_hashes_every_file_and_the_constitution(tmp_path: Path) -> None:
    man = _compile(tmp_path / "ps")
    c = load(DATA / "valid" / "design_example.cai")
    assert man["constitution"]["sha256"] == sha256(c)
    assert man["schema_version"] == 1 and man["seed"] == 7
    for name, meta in man["files"].items():
        assert sha256_file(tmp_path / "ps" / name) == meta["sha256"]
        lines = (tmp_path / "ps" / name).read_text().count("\n")
        assert lines == meta["records"]
    on_disk = json.loads((tmp_path / "ps" / "manifest.json").read_text())
    assert on_disk == man


def test_hash_ignores_formatting_and_comments() -> None:
    a = loads('constitution "x" { category a { principle p { judge "j" } } }')
    b = loads(
        '# note\nconstitution "x" {\n  category a {\n    principle p {\n'
        '      judge "j"  # hi\n    }\n  }\n}\n'
    )
    c = loads('constitution "x" { category a { principle p { judge "k" } } }')
    assert sha256(a) == sha256(b) != sha256(c)


def test_slots_are_filled_and_principle_text_is_never_a_slot() -> None:
    c = loads(
        'constitution "x" { category a { principle p { critique "Mention {{ conversation '
        '}} literally." revision "r" judge "Choose {{ option_a }}." } } }'
    )
    parts = prompts.critique_parts(c, c.principle("p"))
    text = prompts.fill(parts, conversation="USER: hi")
    assert "Mention {{ conversation }} literally." in text
    assert text.count("USER: hi") == 1
    jparts = prompts.judge_parts(c, c.principle("p"), cot=False)
    jtext = prompts.fill(jparts, conversation="C", option_a="AAA", option_b="BBB")
    assert "Choose {{ option_a }}." in jtext and "(A) AAA" in jtext and "(B) BBB" in jtext


def test_template_override_is_used() -> None:
    c = load(DATA / "valid" / "modular" / "child.cai")
    text = prompts.fill(prompts.critique_parts(c, c.principle("replaced")), conversation="CONV")
    assert text == "CONV\n\nCritique request: Child critique."


def test_judge_records_cover_both_orders_and_modes(tmp_path: Path) -> None:
    _compile(tmp_path / "ps")
    rows = [json.loads(x) for x in (tmp_path / "ps" / "judge.jsonl").read_text().splitlines()]
    by = Counter((r["mode"], r["order"]) for r in rows)
    n = by[("pointwise", "none")]
    assert n == 5
    assert by == {
        ("direct", "forward"): n,
        ("direct", "swapped"): n,
        ("cot", "forward"): n,
        ("cot", "swapped"): n,
        ("pointwise", "none"): n,
    }
    swapped = next(r for r in rows if r["order"] == "swapped")
    assert swapped["mapping"] == {"A": "response_b", "B": "response_a"}


def test_weighted_probabilities_follow_the_formula() -> None:
    c = loads(
        'constitution "x" { settings { sampling weighted } '
        'category a { weight 3 principle a1 { judge "x" weight 1 } '
        'principle a2 { judge "y" weight 3 } } '
        'category b { weight 1 principle b1 { judge "z" } } }'
    )
    p = probabilities(c, "judge")
    assert p["a1"] == pytest.approx(0.75 * 0.25)
    assert p["a2"] == pytest.approx(0.75 * 0.75)
    assert p["b1"] == pytest.approx(0.25)
    u = probabilities(
        c.model_copy(update={"settings": c.settings.model_copy(update={"sampling": "uniform"})}),
        "judge",
    )
    assert list(u.values()) == pytest.approx([1 / 3] * 3)


def test_stage_pools_renormalise() -> None:
    c = loads(
        'constitution "x" { category a { principle j { judge "x" } '
        'principle cr { critique "c" revision "r" } } }'
    )
    assert probabilities(c, "critique") == {"cr": 1.0}
    assert probabilities(c, "judge") == {"j": 1.0}


def test_draws_follow_the_declared_probabilities() -> None:
    """Chi-square goodness of fit over 60,000 draws (p > 0.001 for a correct sampler)."""
    from scipy.stats import chisquare

    c = load(ROOT / "constitutions" / "hhh-v2.cai")
    probs = probabilities(c, "critique")
    rows = draw(c, "critique", 30_000, 2, seed=123)
    counts = Counter(name for row in rows for name in row)
    names = sorted(probs)
    observed = [counts[n] for n in names]
    expected = [probs[n] * 60_000 for n in names]
    assert chisquare(observed, expected).pvalue > 0.001
    # and a wrong distribution (uniform) is rejected, so the test has power
    uniform = [60_000 / len(names)] * len(names)
    assert chisquare(observed, uniform).pvalue < 1e-6


def test_priority_ranks() -> None:
    c = load(DATA / "valid" / "design_example.cai")
    r = priority_ranks(c)
    assert r["safety"] == 0 and r["ethics"] == 1 and r["honesty"] == 2
    assert r["helpfulness"] == 3 and r["style"] == 1


def test_pair_loader_shapes_and_gold() -> None:
    pairs = data.load_pairs(str(DATA / "pairs_mixed.jsonl"))
    assert [p["id"] for p in pairs] == ["r1", "t1", "h1"]
    assert pairs[0]["gold"] is None
    t1 = pairs[1]
    chosen = "You are doing better than you think."
    assert t1[f"response_{t1['gold']}"] == chosen
    h1 = pairs[2]
    assert h1["conversation"] == [{"role": "user", "content": "Can you help me insult my sister?"}]
    assert h1[f"response_{h1['gold']}"].startswith("I'd rather help")


def test_prompt_loader_csv_and_errors(tmp_path: Path) -> None:
    rows = data.load_prompts(str(DATA / "prompts_small.csv"))
    assert rows[0] == {
        "id": "c1",
        "prompt": "How do I pick a lock, quickly?",
        "category": "nonviolent_crime",
    }
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok"}\n{"prompt": \n')
    from caic.errors import CaicError

    with pytest.raises(CaicError) as e:
        data.load_prompts(str(bad))
    d = e.value.diagnostics[0]
    assert (d.path, d.line) == (str(bad), 2)
    nocol = tmp_path / "nocol.jsonl"
    nocol.write_text('{"body": "x"}\n')
    with pytest.raises(CaicError) as e:
        data.load_prompts(str(nocol))
    assert e.value.diagnostics[0].line == 1


def test_interrupted_compile_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = load(DATA / "valid" / "design_example.cai")
    out = tmp_path / "ps"
    write_promptset(c, out, 7)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real = Path.write_bytes
    calls = {"n": 0}

    def boom(self: Path, data_: bytes) -> int:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(self, data_)

    monkeypatch.setattr(Path, "write_bytes", boom)
    changed = c.model_copy(update={"name": "changed"})
    with pytest.raises(KeyboardInterrupt):
        write_promptset(changed, out, 7)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p for p in tmp_path.iterdir() if p.name != "ps"] == []


def test_hf_format(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    from caic.compiler.hf import write_hf

    c = load(DATA / "valid" / "design_example.cai")
    jobs = {
        "sl_cai_jobs.jsonl": bind.sl_cai_jobs(
            c, data.load_prompts(str(DATA / "prompts_small.jsonl")), 2, 7
        )
    }
    write_hf(c, tmp_path / "hf", 7, jobs)
    dd = datasets.load_from_disk(str(tmp_path / "hf" / "dataset"))
    assert set(dd) == {"principles", "critique", "revision", "judge", "sl_cai_jobs"}
    assert dd["sl_cai_jobs"].num_rows == 3
    assert json.loads(dd["judge"][0]["messages_json"])[0]["role"] == "user"
    assert os.path.exists(tmp_path / "hf" / "manifest.json")
