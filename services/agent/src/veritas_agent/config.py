"""Agent settings (`VERITAS_*` environment variables)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from veritas_common.contract import MAX_QUESTION_CHARS, MAX_VERIFY_EVIDENCE
from veritas_common.settings import VeritasSettings, default_addr


class AgentSettings(VeritasSettings):
    """Peers, pipeline sizes and the thresholds of evidence selection and verification."""

    # Peers.
    retrieval_addr: str = default_addr("retrieval")
    rerank_addr: str = default_addr("rerank")
    generation_addr: str = default_addr("generation")
    embedding_addr: str = default_addr("embedding")
    # Deadline of generation calls, in seconds (a CPU model may queue behind other requests).
    generation_timeout_s: float = 120.0
    # LoRA adapter the generation peer applies to the agent's calls; empty for the base model.
    generation_adapter_id: str = ""

    # Whether Ask reranks when a request leaves it unset. Off on the embedded default: its
    # reranker is the bi-encoder fallback, which ranked below plain hybrid retrieval on SciFact
    # (nDCG@10 0.835 vs 0.884) and added ~1 s per question. Turn on with a cross-encoder.
    ask_rerank: bool = False

    # Retrieval: candidates fetched before reranking, and Search's default result count.
    search_candidates: int = Field(default=20, ge=1, le=200)
    search_top_k: int = Field(default=10, ge=1, le=200)
    # Largest top_k a Search request may ask for.
    max_search_top_k: int = Field(default=100, ge=1)

    # Evidence selection: chunks (best first) whose sentences are scored.
    context_chunks: int = Field(default=5, ge=1, le=50)

    # The evidence judge (veritas_common.judge): ranks evidence, gates answerability and
    # verifies claims. Off falls back to bi-encoder similarity and overlap everywhere.
    evidence_judge: bool = True
    # Directory of a judge (model.safetensors, config.json); empty: the one trained by
    # `make train-judge` and shipped in veritas_common/weights/evidence-judge.
    judge_model: str = ""
    # Sentences (best by the prefilter's relevance) the judge reads per question: each costs
    # a cross-encoder pair (~5-10 ms batched on one CPU core).
    judge_limit: int = Field(default=24, ge=1, le=200)
    # The answerability gate: refuse when no sentence's P(decides) reaches it. Also the bar
    # each claim's sentence must clear in the verifier. Calibrated on the tuning part of the
    # development data (`python -m veritas_evals.calibrate`: best SciFact decision accuracy,
    # with not-enough-info claims as negatives, 0.784 at 0.05; agent README).
    gate_threshold: float = Field(default=0.05, ge=0.0, le=1.0)
    # Abstractive claims and the Verify tool: P(decides) a claim needs from one of its quotes
    # to be SUPPORTED or CONTRADICTED (no relevance bar filters what a caller sends).
    claim_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    # Candidates shown to the model: P(decides) within this of the best, and at least ...
    judge_margin: float = Field(default=0.5, ge=0.0, le=1.0)
    # ... this.
    candidate_floor: float = Field(default=0.2, ge=0.0, le=1.0)

    # The bi-encoder fallback's relevance = w * cosine(question, sentence) + (1 - w) *
    # content-word overlap (also the prefilter before the judge).
    similarity_weight: float = Field(default=0.6, ge=0.0, le=1.0)
    # A sentence is evidence only when its relevance reaches this ...
    relevance_threshold: float = Field(default=0.40, ge=0.0, le=1.0)
    # ... and its cosine similarity reaches this (stops a lone shared word, e.g. "capital" in
    # "capital of France" vs "capital expenditures", from carrying a sentence over the bar).
    # Both calibrated with all-MiniLM-L6-v2 on the bundled samples (README).
    min_similarity: float = Field(default=0.30, ge=-1.0, le=1.0)
    # Keep only sentences within this much of the best one's relevance.
    relevance_margin: float = Field(default=0.12, ge=0.0, le=1.0)
    # Most candidate sentences shown to the model for ranking (best first).
    max_candidates: int = Field(default=8, ge=1, le=50)
    # Most claims in an answer.
    max_claims: int = Field(default=3, ge=1, le=20)

    # Generation budgets.
    rank_max_new_tokens: int = Field(default=64, ge=8)
    data_max_new_tokens: int = Field(default=256, ge=16)

    # Fallback verifier (no judge): a claim is related to its quotes when
    #   w * best cosine(claim, quote) + (1 - w) * share of its content words in the quotes
    # reaches the threshold. Calibrated with all-MiniLM-L6-v2 on the SciFact train claims with
    # even ids (macro-F1 over SUPPORTED/UNSUPPORTED/CONTRADICTED, README); checked on the odd ones.
    verify_similarity_weight: float = Field(default=0.5, ge=0.0, le=1.0)
    verify_threshold: float = Field(default=0.34, ge=0.0, le=1.0)
    # Structured data whose numbers do not appear in the evidence is dropped.
    data_require_grounded_numbers: bool = True

    # Request limits; the defaults are the ones every front door enforces (veritas_common.contract).
    max_question_chars: int = Field(default=MAX_QUESTION_CHARS, ge=1)
    max_schema_chars: int = Field(default=20000, ge=1)
    # Verify: most evidence texts, and most characters of claim and evidence together.
    max_verify_evidence: int = Field(default=MAX_VERIFY_EVIDENCE, ge=1)
    max_verify_chars: int = Field(default=500_000, ge=1)
    # Calculate: longest expression or program.
    max_expression_chars: int = Field(default=2000, ge=1)
    # Mode used when a request leaves it unspecified.
    default_mode: Literal["extractive", "abstractive"] = "extractive"
    # Abstractive mode lets the model write claims; the embedded 135M model writes fluent but
    # wrong text, so it is enabled only where a strong model is served (production chart).
    abstractive_enabled: bool = False
