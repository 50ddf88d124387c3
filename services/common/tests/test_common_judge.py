"""The evidence judge's shared pieces: the text it reads, loading, and the bundled model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from veritas_common.errors import FailedPrecondition
from veritas_common.judge import (
    BUNDLED_JUDGE_DIR,
    CARD_FILE,
    LABELS,
    EvidenceJudge,
    decides,
    judge_text,
)


def test_a_sentence_is_read_under_its_title_and_headings_without_repeats():
    assert judge_text("Revenue was $4.2 billion.") == "Revenue was $4.2 billion."
    assert judge_text("Revenue rose.", "Acme 10-K", ["Acme 10-K", "Item 7", ""]) == (
        "Acme 10-K > Item 7: Revenue rose."
    )


def test_decides_is_support_or_contradict():
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], dtype=np.float32)
    assert decides(p) == pytest.approx([0.3, 0.9])


def test_a_missing_judge_is_a_failed_precondition_naming_the_fix(tmp_path):
    judge = EvidenceJudge(tmp_path)
    with pytest.raises(FailedPrecondition, match="make train-judge"):
        judge.warm_up()
    with pytest.raises(FailedPrecondition, match="not loaded"):
        judge.judge("q", ["t"])


@pytest.mark.slow
def test_the_bundled_judge_is_compact_carded_and_separates_evidence_from_noise():
    weights = BUNDLED_JUDGE_DIR / "model.safetensors"
    assert weights.stat().st_size < 50 * 2**20
    card = json.loads((BUNDLED_JUDGE_DIR / CARD_FILE).read_text())
    assert card["labels"] == list(LABELS) and len(card["data_sha256"]) == 64
    assert card["export"]["same_verdicts_as_fp32"] >= 0.99
    judge = EvidenceJudge()
    judge.warm_up()
    assert judge.model_id.startswith("evidence-judge@")
    question = "What is the recommended dose of Zentrivex?"
    p = judge.judge(
        question,
        [
            judge_text("The recommended dose is 40 mg once daily.", "Zentrivex label", ["Dosage"]),
            judge_text("The plant employs 210 people.", "Acme annual report", ["Operations"]),
        ],
    )
    assert p.shape == (2, 3) and np.allclose(p.sum(axis=1), 1.0, atol=1e-4)
    answer, noise = decides(p)
    assert answer > 0.5 > noise
