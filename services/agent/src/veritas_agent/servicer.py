"""AgentService: protos in, domain calls, protos out. Errors are `VeritasError`s raised by
the domain; the shared interceptor maps them to status codes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from veritas.v1 import agent_pb2, agent_pb2_grpc, common_pb2, retrieval_pb2
from veritas_agent.agent import Agent
from veritas_agent.models import Answer, Evidence, Question, TraceStep
from veritas_common.contract import AnswerMode, SearchMode
from veritas_common.errors import InvalidArgument


def question_from_proto(request: agent_pb2.AskRequest) -> Question:
    return Question(
        text=request.question,
        tenant=request.tenant,
        collection=request.collection,
        filter=request.filter if request.HasField("filter") else None,
        data_schema=request.data_schema,
        mode=AnswerMode.from_request(request.mode),
        rerank=request.rerank if request.HasField("rerank") else None,
        disable_verify=request.disable_verify,
        disable_selector=request.disable_selector,
        disable_gate=request.disable_gate,
        search_mode=SearchMode.from_request(request.search_mode),
        caller=request.caller,
    )


def evidence_to_proto(ev: Evidence) -> common_pb2.Evidence:
    return common_pb2.Evidence(
        id=ev.id,
        chunk_id=ev.chunk_id,
        doc_id=ev.doc_id,
        source=ev.source,
        title=ev.title,
        section_path=list(ev.section_path),
        page=ev.page,
        char_start=ev.char_start,
        char_end=ev.char_end,
        quote=ev.quote,
        retrieval_score=ev.retrieval_score,
        rerank_score=ev.rerank_score,
    )


def step_to_proto(step: TraceStep) -> agent_pb2.TraceStep:
    return agent_pb2.TraceStep(name=step.name, detail=step.detail, duration_ms=step.duration_ms)


def answer_to_proto(answer: Answer) -> agent_pb2.Answer:
    u = answer.usage
    return agent_pb2.Answer(
        answer_id=answer.answer_id,
        question=answer.question,
        status=answer.status.to_proto(),
        answer=answer.answer,
        claims=[
            agent_pb2.Claim(
                text=c.text, citations=c.citations, support=c.support.to_proto(), score=c.score
            )
            for c in answer.claims
        ],
        evidence=[evidence_to_proto(e) for e in answer.evidence],
        refusal_reason=answer.refusal_reason,
        data_json=answer.data_json,
        usage=agent_pb2.Usage(
            prompt_tokens=u.prompt_tokens,
            completion_tokens=u.completion_tokens,
            retrieve_ms=u.retrieve_ms,
            rerank_ms=u.rerank_ms,
            prefill_ms=u.prefill_ms,
            decode_ms=u.decode_ms,
            verify_ms=u.verify_ms,
            total_ms=u.total_ms,
        ),
        trace=[step_to_proto(s) for s in answer.trace],
    )


class AgentServicer(agent_pb2_grpc.AgentServiceServicer):
    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    async def Ask(
        self, request: agent_pb2.AskRequest, context: grpc.aio.ServicerContext
    ) -> agent_pb2.AskResponse:
        answer = await self.agent.ask(question_from_proto(request))
        return agent_pb2.AskResponse(answer=answer_to_proto(answer))

    async def AskStream(
        self, request: agent_pb2.AskStreamRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[agent_pb2.AskStreamResponse]:
        async for item in self.agent.ask_steps(question_from_proto(request.request)):
            if isinstance(item, Answer):
                yield agent_pb2.AskStreamResponse(answer=answer_to_proto(item))
            else:
                yield agent_pb2.AskStreamResponse(step=step_to_proto(item))

    async def Search(
        self, request: agent_pb2.AgentServiceSearchRequest, context: grpc.aio.ServicerContext
    ) -> agent_pb2.AgentServiceSearchResponse:
        if request.top_k < 0:
            raise InvalidArgument("top_k must not be negative")
        outcome = await self.agent.search(
            request.query,
            top_k=request.top_k,
            tenant=request.tenant,
            collection=request.collection,
            mode=SearchMode.from_request(request.mode),
            rerank=request.rerank,
            filter=request.filter if request.HasField("filter") else None,
        )
        return agent_pb2.AgentServiceSearchResponse(
            results=[
                retrieval_pb2.ScoredChunk(
                    chunk=hit.chunk,
                    score=hit.score,
                    bm25_score=hit.bm25_score,
                    dense_score=hit.dense_score,
                )
                for hit in outcome.hits
            ]
        )

    async def Verify(
        self, request: agent_pb2.VerifyRequest, context: grpc.aio.ServicerContext
    ) -> agent_pb2.VerifyResponse:
        verdict = await self.agent.verify(request.claim, list(request.evidence))
        return agent_pb2.VerifyResponse(
            support=verdict.support.to_proto(),
            score=verdict.score,
            verifier=self.agent.verifier.name,
            reason=verdict.reason,
        )

    async def Calculate(
        self, request: agent_pb2.CalculateRequest, context: grpc.aio.ServicerContext
    ) -> agent_pb2.CalculateResponse:
        result = self.agent.calculate(request.expression)
        return agent_pb2.CalculateResponse(
            value=result.value, expression=result.expression, steps=result.steps
        )
