"""Agent metrics, declared once. `AnswerStats` is the only writer."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from veritas_agent.models import Answer

ANSWERS = Counter(
    "veritas_agent_answers_total",
    "Answers by final status (ANSWERED, PARTIAL, REFUSED).",
    ["status"],
)

CLAIMS = Counter(
    "veritas_agent_claims_total",
    "Claims checked by the verifier, by verdict (removed ones included).",
    ["support"],
)

STAGE_DURATION = Histogram(
    "veritas_agent_stage_duration_seconds",
    "Time spent in each stage of answering (retrieve, rerank, select, rank, verify, ...).",
    ["stage"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)

EVIDENCE_COUNT = Histogram(
    "veritas_agent_evidence_count",
    "Evidence spans cited by one answer.",
    buckets=(0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20),
)


class AnswerStats:
    """Exports what the agent collected while answering."""

    def stage(self, name: str, duration_ms: float) -> None:
        STAGE_DURATION.labels(name).observe(duration_ms / 1000)

    def claim(self, support: str) -> None:
        CLAIMS.labels(support).inc()

    def answer(self, answer: Answer) -> None:
        ANSWERS.labels(answer.status.value).inc()
        EVIDENCE_COUNT.observe(len(answer.evidence))
