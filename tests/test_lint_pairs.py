"""Quality of the pair rules on the project's own labelled pairs, and the meaning layer.

``tests/data/lint_pairs.jsonl`` is written for this project (different words from the
development set in ``shared/``) and is *not* among the pairs the shipped pair encoder was
trained on (``benchmarks/train_pair_encoder.py``): the issue's targets are asserted on it
through the same code path as ``benchmarks/lint_pairs.py``: each pair becomes a
two-category constitution with no priority between the categories and is linted. The
older rule layer (``CAIC_LINT_RULES=1``) had its thresholds chosen on this set; it is
kept as a fallback and tested for shape only.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from caic.compiler.lint import semantics as sm

ROOT = Path(__file__).parent.parent
PAIRS = Path(__file__).parent / "data" / "lint_pairs.jsonl"


pytestmark = pytest.mark.usefixtures("lint_cache")


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "lint_pairs", ROOT / "benchmarks" / "lint_pairs.py"
    )
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_pair_rules_meet_the_targets_on_our_pairs() -> None:
    res = _bench().evaluate(PAIRS)
    c, d = res["contradiction"], res["near-duplicate"]
    assert c["positives"] >= 15 and d["positives"] >= 10
    # Issue targets: contradiction P >= 0.85, R >= 0.70; near-duplicate P >= 0.80, R >= 0.70.
    assert c["precision"] >= 0.85 and c["recall"] >= 0.70, c
    assert d["precision"] >= 0.80 and d["recall"] >= 0.70, d


def test_benchmark_pair_constitution_has_no_priority() -> None:
    from caic.constitution_lang import loads

    c = loads(_bench().pair_constitution('say "hi"', "b\\c"))
    assert [cat.name for cat in c.categories] == ["first", "second"] and not c.priority
    assert c.principle("a").judge == 'say "hi"' and c.principle("b").judge == "b\\c"


def test_stances_read_direction_words_and_scales() -> None:
    (s,) = sm.stances("Choose the response that never mentions drug dosages.")
    assert s.sign == -1 and s.text == "mentions drug dosages"
    (s,) = sm.stances("Choose the shortest response.")
    assert dict(s.poles)["length"] == -1
    (s,) = sm.stances("Prefer the response that is least toxic.")
    assert s.sign == -1 and s.valence == -1
    a, b = sm.stances(
        "Choose the response that helps with safe requests rather than refusing them."
    )
    assert (a.sign, b.sign) == (1, -1)
    assert sm.predicate("Which of these responses is more honest?") == "is more honest"


def test_lexicon_morphology_and_wordnet() -> None:
    from caic.compiler.lint import lexicon as lx

    assert lx.lemma("shortest") == "short" and lx.lemma("criticizes") == "criticize"
    assert dict(lx.polarity("harmless"))["safety"] == -dict(lx.polarity("harm"))["safety"]
    wn = dict(lx.wordnet_polarity("brief"))
    assert wn["wn:long|short"] == -dict(lx.wordnet_polarity("lengthy"))["wn:long|short"]


@pytest.mark.parametrize("rules", ["0", "1"], ids=["encoder", "rule-layer"])
def test_analyse_is_vectorised_and_symmetric(rules: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIC_LINT_RULES", rules)
    texts = [
        "Choose the shortest response.",
        "Choose the most detailed response.",
        "Choose the response that is less violent.",
        "Prefer the response that contains less violence.",
        "Choose the response that explains maths step by step.",
    ]
    r = sm.analyse(texts)
    assert r.contradiction.shape == (5, 5)
    assert np.allclose(r.contradiction, r.contradiction.T)
    assert np.allclose(r.duplicate, r.duplicate.T)
    assert r.contradiction[0, 1] > 0 and r.is_duplicate()[2, 3]
    assert not r.is_duplicate()[0, 4] and r.contradiction[2, 4] == 0


def test_topic_overlap_matches_scikit_learn() -> None:
    bags = [
        frozenset(["drug", "dosage"]),
        frozenset(["dosage"]),
        frozenset(),
        frozenset(["markdown", "formatting", "drug"]),
    ]
    assert np.allclose(sm.topic_overlap(bags), sm.topic_overlap_sklearn(bags), atol=1e-6)


def test_numpy_encoder_matches_transformers() -> None:
    pytest.importorskip("transformers")
    pytest.importorskip("torch")
    from caic.compiler.lint import encoder

    texts = [
        "Choose the response that is less likely to cause harm.",
        "gives drug dosages",
        "a much longer sentence about privacy, consent and the handling of personal data "
        "that a careful assistant would avoid revealing",
    ]
    ours = encoder._engine("numpy")(texts)
    ref = encoder._engine("transformers")(texts)
    assert ours.shape == (3, encoder.DIM)
    assert np.abs(ours - ref).max() < 1e-5
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_memory_mapped_weights_equal_the_safetensors_reader() -> None:
    from safetensors import safe_open

    from caic.compiler.lint import encoder

    path = str(encoder.model_dir() / "model.safetensors")
    ours = encoder._tensors(path)
    with safe_open(path, framework="np") as f:
        names = list(f.keys())  # noqa: SIM118 - safe_open is not a mapping
        assert sorted(ours) == sorted(k.removeprefix("bert.") for k in names)
        for k in names:
            ref = f.get_tensor(k).astype(np.float32)
            got = ours[k.removeprefix("bert.")]
            assert got.dtype == np.float32 and got.shape == ref.shape
            assert np.array_equal(got, ref), k
    # Read-only views: an engine that wrote into them would corrupt the other engine.
    assert not ours["embeddings.word_embeddings.weight"].flags.writeable


def test_tuned_numpy_encoder_matches_transformers() -> None:
    """The LoRA factors merged into the numpy weights give what the torch model gives."""
    pytest.importorskip("transformers")
    pytest.importorskip("torch")
    from caic.compiler.lint import encoder

    texts = ["the shortest", "gives specific drug dosages when asked"]
    ours = encoder._engine("numpy", True)(texts)
    ref = encoder._engine("transformers", True)(texts)
    plain = encoder._engine("numpy")(texts)
    assert np.abs(ours - ref).max() < 1e-5
    assert np.abs(ours - plain).max() > 1e-2  # the adapters are really applied


def test_pair_encoder_scores_every_pair_as_the_head_defines() -> None:
    """The chunked, vectorised scoring equals the head applied to one pair at a time."""
    from caic.compiler.lint import encoder
    from caic.compiler.lint import pair_encoder as pe

    model = pe.load()
    assert model is not None, "compiler/lint/pair_encoder.npz must ship"
    texts = ["the shortest", "the most detailed", "is least harmful", "cites sources"]
    u = encoder.embed(texts, tuned=True)
    prob = pe.pair_probabilities(u)
    for i in range(4):
        for j in range(4):
            diff = (
                (u[i] - u[j]) ** 2 * pe.SCALE_SQ
                if model.squared
                else np.abs(u[i] - u[j]) * pe.SCALE[1]
            )
            x = np.concatenate(
                [u[i] * u[j] * pe.SCALE[0], diff, [float(u[i] @ u[j]) * pe.SCALE[2]]]
            )
            z = model.weight @ x + model.bias
            p = np.exp(z - z.max())
            assert np.allclose(prob[:, i, j], p / p.sum(), atol=1e-4)
    assert np.allclose(prob, prob.transpose(0, 2, 1), atol=1e-5)


def test_embedding_cache_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from caic.compiler.lint import encoder

    monkeypatch.setenv("CAIC_CACHE", str(tmp_path))
    text = "a sentence only this test embeds"
    first = encoder.embed([text])
    import sqlite3

    db = tmp_path / "lint-embeddings" / "vectors.sqlite"
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM vec").fetchone() == (1,)
    encoder._MEMORY.clear()
    monkeypatch.setattr(encoder, "_engine", lambda *a, **k: pytest.fail("recomputed, not read"))
    again = encoder.embed([text])
    assert np.array_equal(first, again)


def test_threaded_encoder_gives_the_sequential_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches on parallel threads (BLAS held to one thread) change nothing but speed."""
    from caic.compiler.lint import encoder

    texts = [f"gives {k} more careful answers about topic number {k}" for k in range(150)]
    monkeypatch.setenv("CAIC_LINT_THREADS", "1")
    one = encoder._engine("numpy", True)(texts)
    monkeypatch.setenv("CAIC_LINT_THREADS", "2")
    two = encoder._engine("numpy", True)(texts)
    assert len(texts) > encoder._BATCH  # more than one batch, so threads really split it
    assert np.abs(one - two).max() < 1e-6


def test_scope_words_read_the_subject_phrase_only() -> None:
    assert sm._scope_words("answers questions about job applications more completely") == {
        "job",
        "application",
    }
    assert sm._scope_words("errs on the side of caution in gray areas") == frozenset()
    assert sm._scope_words("uses british spelling") == frozenset()


def _after_scope_twins(preds: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Contradiction and duplicate flags on every pair, after the scope-twin pass."""
    n = len(preds)
    is_c = ~np.eye(n, dtype=bool)
    is_d = ~np.eye(n, dtype=bool)
    sm._scope_twins(preds, is_c, is_d, None)
    return is_c, is_d


def test_scope_twins_are_never_contradictions_and_rarely_duplicates() -> None:
    """One request scoped to two subjects: the flags the encoder may give such a pair go;
    a pair that differs outside the scope phrase keeps them; synonymous subjects stay
    near-duplicates."""
    preds = [
        "answers questions about elections more completely",
        "answers questions about cooking more completely",
        "uses american spelling",
        "uses british spelling",
        "refuses to give instructions about firearms",
        "refuses to give instructions about guns",
    ]
    is_c, is_d = _after_scope_twins(preds)
    assert not is_c[0, 1] and not is_d[0, 1] and not is_c[1, 0]
    assert is_c[2, 3] and is_d[2, 3]  # differ outside any scope phrase: left to the encoder
    assert not is_c[4, 5] and is_d[4, 5]  # same request, synonymous subjects
    assert is_c[0, 2] and is_d[0, 4]  # not twins: untouched


def test_json_output_is_one_object_per_line() -> None:
    import json

    from caic.compiler.lint.output import to_json
    from caic.errors import Diagnostic

    diags = [
        Diagnostic(code="CAI101", name="contradiction", message=f"m{k} “quoted”") for k in range(3)
    ]
    text = to_json(diags)
    assert json.loads(text) == [d.as_json() for d in diags]
    assert len(text.splitlines()) == 5 and "“" in text
    assert to_json([]) == "[]"


def test_missing_pair_encoder_file_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``CAIC_PAIR_ENCODER`` naming a missing file skips the pair rules visibly."""
    from caic.compiler.lint import pair_encoder as pe
    from caic.compiler.lint.engine import lint
    from caic.constitution_lang import loads

    bench = _bench()
    monkeypatch.setenv("CAIC_PAIR_ENCODER", str(tmp_path / "absent.npz"))
    pe.load.cache_clear()
    try:
        c = loads(bench.pair_constitution("the shortest", "the most detailed"), "<t>")
        found = [d for d in lint(c, sources={}) if d.code in ("CAI101", "CAI102")]
    finally:
        monkeypatch.delenv("CAIC_PAIR_ENCODER")
        pe.load.cache_clear()
    assert found and all("absent.npz" in d.message and d.severity == "note" for d in found)


def test_pruned_feed_forward_numpy_matches_transformers() -> None:
    """A pair encoder trained with ``--ffn K`` keeps K feed-forward neurons per block:
    both engines drop the same ones, and dropping them really changes the vectors."""
    pytest.importorskip("transformers")
    pytest.importorskip("torch")
    from caic.compiler.lint import encoder

    rng = np.random.default_rng(0)
    keep = [np.sort(rng.choice(1536, 512, replace=False)) for _ in range(2)]
    texts = ["gives less practical help with weapons", "the most concise"]
    folder = encoder.model_dir()
    ours = encoder._NumpyMiniLM(folder, None, 2, keep)(texts)
    ref = encoder._TransformersMiniLM(folder, None, 2, keep)(texts)
    whole = encoder._NumpyMiniLM(folder, None, 2)(texts)
    assert np.abs(ours - ref).max() < 1e-5
    assert np.abs(ours - whole).max() > 1e-2


def test_pruned_attention_heads_numpy_matches_transformers() -> None:
    """A pair encoder trained with ``--heads K`` keeps K attention heads per block (any
    K per block, with or without pruned feed-forward neurons): both engines keep the
    same ones, and dropping heads really changes the vectors."""
    pytest.importorskip("transformers")
    pytest.importorskip("torch")
    from caic.compiler.lint import encoder

    rng = np.random.default_rng(1)
    heads = [np.sort(rng.choice(12, k, replace=False)) for k in (6, 9)]
    ffn = [np.sort(rng.choice(1536, 512, replace=False)) for _ in range(2)]
    texts = ["gives less practical help with weapons", "the most concise", "is kinder"]
    folder = encoder.model_dir()
    ours = encoder._NumpyMiniLM(folder, None, 2, ffn, heads)(texts)
    ref = encoder._TransformersMiniLM(folder, None, 2, ffn, heads)(texts)
    whole = encoder._NumpyMiniLM(folder, None, 2, ffn)(texts)
    assert ours.shape == (3, encoder.DIM)
    assert np.abs(ours - ref).max() < 1e-5
    assert np.abs(ours - whole).max() > 1e-2


def test_scope_twins_across_prepositions_but_not_across_requests() -> None:
    """``for`` / ``of`` / ``with`` phrases scope a request too; a gerund with an object
    inside the phrase is a request (``for hiding evidence`` / ``for reporting evidence``)
    and stays with the encoder."""
    preds = [
        "gives more useful, concrete steps for travel plans",
        "gives more useful, concrete steps for medical questions",
        "gives a more balanced picture of fiction",
        "gives a more balanced picture of religion",
        "gives instructions for hiding evidence",
        "gives instructions for reporting evidence",
    ]
    is_c, is_d = _after_scope_twins(preds)
    assert not is_c[0, 1] and not is_d[0, 1]
    assert not is_c[2, 3] and not is_d[2, 3]
    assert is_c[4, 5] and is_d[4, 5]
    assert sm._request_words("gives instructions for hiding evidence") >= {"hide"}
    assert "cooking" not in sm._request_words("answers questions about cooking more completely")


def test_merge_lora_adds_updates_and_replaces_refitted_layers() -> None:
    """A model file holds LoRA factors (added to the base weight) and, for layers
    the (since removed) distillation script refitted, the layer's new parameters (replacing it)."""
    from caic.compiler.lint.encoder import merge_lora

    rng = np.random.default_rng(1)
    base = {
        "encoder.layer.0.attention.self.query.weight": rng.normal(size=(4, 4)).astype(np.float32),
        "encoder.layer.0.output.dense.weight": rng.normal(size=(4, 6)).astype(np.float32),
        "encoder.layer.0.output.dense.bias": np.zeros(4, np.float32),
    }
    before = dict(base)
    a, b = rng.normal(size=(2, 4)), rng.normal(size=(4, 2))
    new_w, new_b = rng.normal(size=(4, 3)), np.ones(4)
    merge_lora(
        base,
        {
            "scale": np.float32(0.5),
            "layer.0.attention.self.query.A": a,
            "layer.0.attention.self.query.B": b,
            "layer.0.output.dense.weight": new_w,
            "layer.0.output.dense.bias": new_b,
        },
    )
    q = "encoder.layer.0.attention.self.query.weight"
    assert np.allclose(base[q], before[q] + 0.5 * b @ a, atol=1e-5)
    assert np.allclose(base["encoder.layer.0.output.dense.weight"], new_w, atol=1e-6)
    assert np.allclose(base["encoder.layer.0.output.dense.bias"], 1.0)
    assert base[q] is not before[q]  # replaced, not written into: engines share arrays


def test_object_twins_are_one_request_with_two_objects() -> None:
    """``explains X more clearly`` for two X is one request; a differing adjective after
    ``is more``, a modifier of a shared noun, or a direction word is a different one."""
    assert sm._object_twins(
        "explains scams more clearly to a beginner",
        "explains public figures more clearly to a beginner",
    )
    assert sm._object_twins("writes poems", "writes code")
    assert not sm._object_twins("is more formal", "is more playful")
    assert not sm._object_twins("uses american spelling", "uses british spelling")
    assert not sm._object_twins("gives more detail", "gives less detail")
    assert not sm._object_twins("is more helpful", "is more harmful")
    is_c, is_d = _after_scope_twins(
        ["explains scams more clearly", "explains chemistry more clearly"]
    )
    assert not is_c.any() and not is_d.any()
