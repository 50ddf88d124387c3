"""The evidence judge's recipe: perturbations, training pairs from the train part only, and a
short real training run that changes the weights and exports a checked fp16 judge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from veritas_training.negation import negate

from veritas_common.judge import CONTRADICT, LABELS, NEI, SUPPORT, EvidenceJudge

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
needs_data = pytest.mark.skipif(
    not (DATA / "scifact").is_dir(), reason="../shared/data (development datasets) not found"
)


@pytest.mark.parametrize(
    ("claim", "negated"),
    [
        ("Aspirin increases the risk of bleeding.", "Aspirin reduces the risk of bleeding."),
        ("Smoking does not cause lung cancer.", "Smoking causes lung cancer."),
        ("ALDH1 expression is associated with poor prognosis.",
         "ALDH1 expression is not associated with poor prognosis."),
        ("Obesity causes diabetes in adults.", "Obesity does not cause diabetes in adults."),
        ("Patients cannot tolerate the drug.", "Patients can tolerate the drug."),
        ("Higher doses were better tolerated.", "Lower doses were better tolerated."),
    ],
)  # fmt: skip
def test_negation_flips_the_claim_with_one_edit(claim, negated):
    assert negate(claim) == negated


def test_negation_gives_up_rather_than_guess():
    assert negate("Macrolides protect against myocardial infarction.") is None
    assert negate("10% of patients had a relapse.") is None


@needs_data
@pytest.mark.slow
def test_pairs_come_from_the_train_part_only_and_are_reproducible():
    from veritas_training.judge_data import build_pairs, data_hash

    from veritas_evals.datasets import SciFact

    scifact = SciFact.load(DATA)
    tuning_text = {s for d in scifact.doc_ids_of("tuning") for s in scifact.corpus[d].sentences}
    train_text = {s for d in scifact.doc_ids_of("train") for s in scifact.corpus[d].sentences}
    tuning_only = tuning_text - train_text
    tuning_claims = {c.claim for c in scifact.claims_of("tuning")}
    pairs = build_pairs(DATA, sources=["scifact"])
    assert {p.label for p in pairs} == {NEI, SUPPORT, CONTRADICT}
    for pair in pairs:
        parts = pair.text.split(": ")
        suffixes = {": ".join(parts[i:]) for i in range(len(parts))}
        assert not suffixes & tuning_only, pair
        assert pair.question not in tuning_claims or pair.source == "scifact:negated", pair
    assert data_hash(pairs) == data_hash(build_pairs(DATA, sources=["scifact"]))


@needs_data
@pytest.mark.slow
def test_a_short_run_changes_the_weights_and_exports_a_checked_judge(tmp_path):
    import torch
    from safetensors.torch import load_file
    from veritas_training.train_judge import load_recipe, train

    from veritas_common.bundled import minilm_dir

    out = tmp_path / "judge"
    recipe = load_recipe(
        Path(__file__).resolve().parents[1] / "recipes" / "evidence-judge.yaml",
        [f"data={DATA}", f"out={out}", "sources=[pubmedqa]", "max_pairs=48", "batch_size=8",
         "max_length=64", "learning_rate=1e-4"],
    )  # fmt: skip
    card = train(recipe)
    weights = load_file(str(out / "model.safetensors"))
    assert all(t.dtype == torch.float16 for t in weights.values())
    base = load_file(str(minilm_dir() / "model.safetensors"))
    layer = "encoder.layer.5.output.dense.weight"
    changed = (weights[f"bert.{layer}"].float() - base[layer].float()).abs().max()
    assert changed > 0  # training moved the encoder, not just the new head
    assert card["export"]["same_verdicts_as_fp32"] >= 0.99
    assert json.loads((out / "card.json").read_text())["data_sha256"] == card["data_sha256"]
    judge = EvidenceJudge(out)
    judge.warm_up()
    probabilities = judge.judge("Does aspirin prevent strokes?", ["Aspirin cut strokes by half."])
    assert probabilities.shape == (1, len(LABELS))
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-4)
    assert judge.model_id.startswith("evidence-judge@")


def test_recipe_rejects_unknown_keys(tmp_path):
    from veritas_training.train_judge import load_recipe

    with pytest.raises(SystemExit, match="bad override"):
        load_recipe(None, ["epoch=2"])
    recipe = tmp_path / "r.yaml"
    recipe.write_text("learning_rat: 0.1\n")
    with pytest.raises(SystemExit, match="unknown recipe keys: learning_rat"):
        load_recipe(recipe, [])
