"""The answering pipeline: retrieve -> rerank -> select evidence -> rank (or write) claims ->
verify -> structure -> answer. Each stage is its own component; this module sequences them,
records a trace step and a latency per stage, and applies the answer contract's rules."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from veritas.v1 import common_pb2
from veritas_agent.calculator import Calculation, Calculator
from veritas_agent.citations import CitationLedger, DraftClaim
from veritas_agent.config import AgentSettings
from veritas_agent.evidence import EvidenceSelector
from veritas_agent.judging import CachedJudge
from veritas_agent.metrics import AnswerStats
from veritas_agent.models import (
    REFUSAL_CONTRADICTED,
    REFUSAL_NO_EVIDENCE,
    REFUSAL_NO_SUPPORTED_CLAIM,
    Answer,
    Claim,
    Evidence,
    Question,
    TraceStep,
    Usage,
)
from veritas_agent.peers import Generation, Peers
from veritas_agent.ranking import ClaimRanker
from veritas_agent.search import SearchOutcome, SearchPipeline
from veritas_agent.structured import DataExtractor, parse_schema
from veritas_agent.verifier import (
    ClaimVerifier,
    JudgeVerifier,
    SimilarityPolarityVerifier,
    Verdict,
)
from veritas_agent.writing import ClaimWriter
from veritas_common.contract import AnswerMode, AnswerStatus, SearchMode, Support
from veritas_common.errors import InvalidArgument
from veritas_common.judge import EvidenceJudge

log = logging.getLogger(__name__)

ABSTRACTIVE_DISABLED = (
    "abstractive mode needs a stronger model than the embedded default "
    "(enable it with VERITAS_ABSTRACTIVE_ENABLED=true where one is served)"
)


@dataclass
class _Run:
    """Trace, usage and clock of one answer."""

    stats: AnswerStats
    started: float = field(default_factory=time.perf_counter)
    trace: list[TraceStep] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)

    def step(self, name: str, detail: str, since: float, *, ran: bool = True) -> TraceStep:
        """Records a finished stage; a skipped one (`ran=False`) stays out of the latency
        histogram so it does not drag the stage's percentiles towards zero."""
        duration_ms = (time.perf_counter() - since) * 1000
        step = TraceStep(name, detail, duration_ms)
        self.trace.append(step)
        if ran:
            self.stats.stage(name, duration_ms)
        return step

    def add_generation(self, generation: Generation | None) -> None:
        if generation is None:
            return
        self.usage.prompt_tokens += generation.prompt_tokens
        self.usage.completion_tokens += generation.completion_tokens
        self.usage.prefill_ms += generation.prefill_ms
        self.usage.decode_ms += generation.decode_ms


class Agent:
    """Answers questions from retrieved evidence; see the module docstring."""

    def __init__(
        self,
        *,
        search: SearchPipeline,
        selector: EvidenceSelector,
        ranker: ClaimRanker,
        writer: ClaimWriter,
        verifier: ClaimVerifier,
        extractor: DataExtractor,
        settings: AgentSettings,
        calculator: Calculator | None = None,
        stats: AnswerStats | None = None,
    ) -> None:
        self.search_pipeline = search
        self.selector = selector
        self.ranker = ranker
        self.writer = writer
        self.verifier = verifier
        self.extractor = extractor
        self.settings = settings
        self.calculator = calculator or Calculator(settings.max_expression_chars)
        self.stats = stats or AnswerStats()

    @classmethod
    def from_settings(
        cls,
        settings: AgentSettings,
        peers: Peers,
        verifier: ClaimVerifier | None = None,
        judge: CachedJudge | None = None,
    ) -> Agent:
        """The agent as the service runs it; `verifier` and `judge` replace the ones the
        settings name (a judge already loaded, shared by tests)."""
        calculator = Calculator(settings.max_expression_chars)
        if not settings.evidence_judge:
            judge = None
        elif judge is None:
            judge = CachedJudge(EvidenceJudge(settings.judge_model))
        if verifier is None:
            verifier = (
                JudgeVerifier(
                    judge,
                    calculator,
                    answer_threshold=settings.gate_threshold,
                    claim_threshold=settings.claim_threshold,
                )
                if judge is not None
                else SimilarityPolarityVerifier(
                    peers.embedding,
                    calculator,
                    similarity_weight=settings.verify_similarity_weight,
                    threshold=settings.verify_threshold,
                )
            )
        return cls(
            search=SearchPipeline(peers.retrieval, peers.rerank),
            selector=EvidenceSelector(
                judge,
                context_chunks=settings.context_chunks,
                judge_limit=settings.judge_limit,
                gate_threshold=settings.gate_threshold,
                judge_margin=settings.judge_margin,
                candidate_floor=settings.candidate_floor,
                similarity_weight=settings.similarity_weight,
                relevance_threshold=settings.relevance_threshold,
                min_similarity=settings.min_similarity,
                relevance_margin=settings.relevance_margin,
                max_candidates=settings.max_candidates,
            ),
            ranker=ClaimRanker(
                peers.generation,
                max_claims=settings.max_claims,
                max_new_tokens=settings.rank_max_new_tokens,
            ),
            writer=ClaimWriter(
                peers.generation,
                max_claims=settings.max_claims,
                max_new_tokens=settings.data_max_new_tokens,
            ),
            verifier=verifier,
            extractor=DataExtractor(
                peers.generation,
                max_new_tokens=settings.data_max_new_tokens,
                require_grounded_numbers=settings.data_require_grounded_numbers,
                calculator=calculator,
            ),
            settings=settings,
            calculator=calculator,
        )

    def warm_up(self) -> None:
        self.verifier.warm_up()
        if self.selector.judge is not None:
            self.selector.judge.warm_up()

    # -- Search ---------------------------------------------------------------------------

    async def search(
        self,
        query: str,
        *,
        top_k: int = 0,
        tenant: str = "",
        collection: str = "",
        mode: SearchMode | None = None,
        rerank: bool = False,
        filter: common_pb2.Filter | None = None,
    ) -> SearchOutcome:
        """Retrieval (and reranking when asked), best first, cut to `top_k`."""
        if not query.strip():
            raise InvalidArgument("query must not be empty")
        if len(query) > self.settings.max_question_chars:
            raise InvalidArgument(
                f"query has {len(query)} characters; the limit is "
                f"{self.settings.max_question_chars}"
            )
        top_k = top_k or self.settings.search_top_k
        if not 0 < top_k <= self.settings.max_search_top_k:
            raise InvalidArgument(f"top_k must be in 1..{self.settings.max_search_top_k}")
        start = time.perf_counter()
        outcome = await self.search_pipeline.run(
            query,
            top_k=top_k,
            candidates=self.settings.search_candidates,
            rerank=rerank,
            tenant=tenant,
            collection=collection,
            mode=mode,
            filter=filter,
        )
        self.stats.stage("search", (time.perf_counter() - start) * 1000)
        return outcome

    # -- Tools ----------------------------------------------------------------------------

    async def verify(self, claim: str, evidence: Sequence[str]) -> Verdict:
        """The verdict of the verifier Ask uses on `claim` given `evidence` texts."""
        if not claim.strip():
            raise InvalidArgument("claim must not be empty")
        if not evidence:
            raise InvalidArgument("evidence must hold at least one text")
        limit = self.settings.max_verify_evidence
        if len(evidence) > limit:
            raise InvalidArgument(f"{len(evidence)} evidence texts; the limit is {limit}")
        empty = [i for i, text in enumerate(evidence) if not text.strip()]
        if empty:
            raise InvalidArgument(f"evidence text {empty[0]} is empty")
        size = len(claim) + sum(len(text) for text in evidence)
        if size > self.settings.max_verify_chars:
            raise InvalidArgument(
                f"claim and evidence have {size} characters; the limit is "
                f"{self.settings.max_verify_chars}"
            )
        return await self.verifier.verify(claim, list(evidence))

    def calculate(self, expression: str) -> Calculation:
        """The calculator's value of an expression or FinQA / ConvFinQA program."""
        return self.calculator.calculate(expression)

    # -- Ask ------------------------------------------------------------------------------

    async def ask(self, question: Question) -> Answer:
        """The answer, once every stage has run."""
        async for item in self.ask_steps(question):
            if isinstance(item, Answer):
                return item
        raise AssertionError("ask_steps ended without an answer")

    def _validate(self, question: Question) -> tuple[AnswerMode, dict[str, Any] | None]:
        if not question.text.strip():
            raise InvalidArgument("question must not be empty")
        if len(question.text) > self.settings.max_question_chars:
            raise InvalidArgument(
                f"question has {len(question.text)} characters; the limit is "
                f"{self.settings.max_question_chars}"
            )
        mode = question.mode or AnswerMode(self.settings.default_mode)
        if mode == AnswerMode.ABSTRACTIVE and not self.settings.abstractive_enabled:
            raise InvalidArgument(ABSTRACTIVE_DISABLED)
        schema = None
        if question.data_schema.strip():
            schema = parse_schema(question.data_schema, self.settings.max_schema_chars)
        return mode, schema

    async def ask_steps(self, question: Question) -> AsyncIterator[TraceStep | Answer]:
        """Each trace step as it completes, then the answer. Bad input raises before any
        work is done."""
        mode, schema = self._validate(question)
        run = _Run(self.stats)
        settings = self.settings

        since = time.perf_counter()
        retrieved = await self.search_pipeline.retrieve(
            question.text,
            top_k=max(settings.search_candidates, settings.context_chunks),
            tenant=question.tenant,
            collection=question.collection,
            mode=question.search_mode,
            filter=question.filter,
        )
        hits = retrieved.hits
        mode_name = (question.search_mode or SearchMode.HYBRID).value
        yield run.step("retrieve", f"{len(hits)} chunks from {mode_name} search", since)
        run.usage.retrieve_ms = run.trace[-1].duration_ms

        since = time.perf_counter()
        if question.rerank is False:
            yield run.step("rerank", "skipped: disabled by request", since, ran=False)
        elif question.rerank is None and not settings.ask_rerank:
            detail = "skipped: off by default (VERITAS_ASK_RERANK)"
            yield run.step("rerank", detail, since, ran=False)
        elif not hits:
            yield run.step("rerank", "skipped: nothing retrieved", since, ran=False)
        else:
            model = await self.search_pipeline.rerank(question.text, hits)
            top = hits[0]
            yield run.step(
                "rerank",
                f"{len(hits)} chunks rescored by {model or 'reranker'}; top {top.chunk.chunk_id} "
                f"({top.score:.3f})",
                since,
            )
            run.usage.rerank_ms = run.trace[-1].duration_ms

        since = time.perf_counter()
        selection = await self.selector.select(
            question.text,
            hits,
            retrieved.query_vector,
            use_judge=not question.disable_selector,
            gate=not question.disable_gate,
        )
        detail = (
            f"{selection.sentences_scored} sentences from {selection.chunks_used} chunks; "
            f"{selection.judged} judged by {selection.ranked_by}; "
            f"{len(selection.candidates)} candidates (best {selection.best_score:.2f})"
        )
        if question.disable_gate:
            detail += "; answerability gate disabled by request"
        if selection.inconsistent_chunks:
            detail += (
                f"; skipped {len(selection.inconsistent_chunks)} chunks whose offsets do not "
                "match their text"
            )
        yield run.step("select", detail, since)
        if not selection.candidates:
            reason = selection.refusal or REFUSAL_NO_EVIDENCE
            async for item in self._finish(run, question, AnswerStatus.REFUSED, [], [], "", reason):
                yield item
            return

        since = time.perf_counter()
        drafts: list[DraftClaim]
        if mode == AnswerMode.EXTRACTIVE:
            ranking = await self.ranker.rank(question.text, selection.candidates)
            run.add_generation(ranking.generation)
            drafts = [
                DraftClaim(c.text, c.spans, label=c.id, context=c.context) for c in ranking.selected
            ]
            yield run.step("rank", ranking.detail, since)
        else:
            writing = await self.writer.write(question.text, selection.candidates)
            run.add_generation(writing.generation)
            drafts = writing.claims
            yield run.step("write", writing.detail, since)

        since = time.perf_counter()
        ledger = CitationLedger(hits)
        kept, detail = await self._verify(question.text, drafts, disabled=question.disable_verify)
        if not kept and mode == AnswerMode.EXTRACTIVE and not question.disable_verify:
            # The model's picks all failed; the best candidate that passes takes their place.
            chosen = {d.label for d in drafts}
            for candidate in selection.candidates:
                if candidate.id in chosen:
                    continue
                draft = DraftClaim(
                    candidate.text, candidate.spans, label=candidate.id, context=candidate.context
                )
                backfill, _ = await self._verify(question.text, [draft], disabled=False)
                if backfill:
                    kept = backfill
                    detail += f"; {candidate.id} verified in their place"
                    break
        yield run.step("verify", detail, since, ran=not question.disable_verify)
        run.usage.verify_ms = run.trace[-1].duration_ms

        if not kept:
            contradicted = any(d.support == Support.CONTRADICTED for d in drafts)
            reason = REFUSAL_CONTRADICTED if contradicted else REFUSAL_NO_SUPPORTED_CLAIM
            async for item in self._finish(run, question, AnswerStatus.REFUSED, [], [], "", reason):
                yield item
            return
        status = AnswerStatus.ANSWERED if len(kept) == len(drafts) else AnswerStatus.PARTIAL
        evidence, citations = ledger.number(kept)
        claims = [
            Claim(d.text, cited, d.support, d.score)
            for d, cited in zip(kept, citations, strict=True)
        ]

        data_json = ""
        if schema is not None:
            since = time.perf_counter()
            outcome = await self.extractor.extract(question.text, schema, evidence)
            run.add_generation(outcome.generation)
            data_json = outcome.data_json
            yield run.step("structure", outcome.detail, since)

        async for item in self._finish(run, question, status, claims, evidence, data_json, ""):
            yield item

    async def _verify(
        self, question: str, drafts: list[DraftClaim], *, disabled: bool
    ) -> tuple[list[DraftClaim], str]:
        """Sets each draft's verdict; returns the drafts to keep and the trace line."""
        if disabled:
            for draft in drafts:
                draft.support, draft.score = Support.UNSPECIFIED, 0.0
                self.stats.claim(draft.support.value)
            return drafts, f"skipped: disabled by request ({len(drafts)} claims kept unchecked)"
        verdicts = await asyncio.gather(*(self._verdict(question, d) for d in drafts))
        for draft, verdict in zip(drafts, verdicts, strict=True):
            draft.support, draft.score, draft.reason = (
                verdict.support,
                verdict.score,
                verdict.reason,
            )
            self.stats.claim(draft.support.value)
        kept = [d for d in drafts if d.support == Support.SUPPORTED]
        detail = f"{len(kept)} of {len(drafts)} claims supported ({self.verifier.name})"
        removed = [
            f"{d.label or d.text[:30]}: {d.reason}"
            for d in drafts
            if d.support != Support.SUPPORTED
        ]
        if removed:
            detail += "; removed " + "; ".join(removed)
        return kept, detail

    async def _verdict(self, question: str, draft: DraftClaim) -> Verdict:
        quotes = [span.quote for span in draft.spans]
        if draft.context:  # extractive: the claim is a quoted sentence of the evidence
            return await self.verifier.check_extractive(
                question, draft.text, [draft.context, *quotes[1:]]
            )
        return await self.verifier.verify(draft.text, quotes)

    async def _finish(
        self,
        run: _Run,
        question: Question,
        status: AnswerStatus,
        claims: list[Claim],
        evidence: list[Evidence],
        data_json: str,
        refusal_reason: str,
    ) -> AsyncIterator[TraceStep | Answer]:
        since = time.perf_counter()
        summary = (
            f"{status.value}: {refusal_reason}"
            if status == AnswerStatus.REFUSED
            else f"{status.value} with {len(claims)} claims citing {len(evidence)} evidence spans"
        )
        yield run.step("answer", summary, since)
        run.usage.total_ms = (time.perf_counter() - run.started) * 1000
        answer = Answer(
            answer_id=uuid.uuid4().hex,
            question=question.text,
            status=status,
            answer=" ".join(c.text for c in claims),
            claims=claims,
            evidence=evidence,
            refusal_reason=refusal_reason,
            data_json=data_json,
            usage=run.usage,
            trace=run.trace,
        )
        self.stats.answer(answer)
        self.stats.stage("total", run.usage.total_ms)
        log.info(
            "answered",
            extra={
                "answer_id": answer.answer_id,
                "status": status.value,
                "claims": len(claims),
                "evidence_ids": [e.chunk_id for e in evidence],
                "caller": question.caller,
                "total_ms": round(run.usage.total_ms, 1),
            },
        )
        yield answer
