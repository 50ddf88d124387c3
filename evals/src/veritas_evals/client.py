"""The gateway's public HTTP API, as the harness uses it. Nothing here knows service internals:
responses are read into the shared answer schema (`veritas_common.schemas`), the models the
gateway serves, so an answer that breaks the contract fails here instead of skewing a metric."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from veritas_common import schemas
from veritas_common.contract import SearchMode
from veritas_evals.datasets import Document

M = TypeVar("M", bound=BaseModel)


class GatewayError(RuntimeError):
    """The gateway answered with an error status (its `detail` in the message)."""

    def __init__(self, method: str, path: str, status: int, detail: str) -> None:
        super().__init__(f"{method} {path}: HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


class EndpointMissing(GatewayError):
    """The route does not exist on this gateway (404 on the route itself, 405)."""


class ContractBroken(GatewayError):
    """The gateway answered 2xx with a body that does not fit the shared answer schema."""


class GatewayUnreachable(GatewayError):
    """No HTTP exchange at all (connection refused, reset): nothing more can be measured."""


@dataclass
class IngestSummary:
    """What an idempotent ingestion did: already in the collection, sent, newly indexed."""

    collection: str
    requested: int
    present: int
    uploaded: int
    ingested: int
    unchanged: int


class GatewayClient:
    """Synchronous client of the gateway: documents, search, ask, verify, calculate."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = 300.0,
        http: httpx.Client | None = None,
    ) -> None:
        """`http`: an httpx client to send through (tests pass one bound to an app)."""
        self.http = http or httpx.Client(base_url=base_url, timeout=timeout_s)
        self.http.headers["Authorization"] = f"Bearer {api_key}"

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            reply = self.http.request(method, path, **kwargs)
        except httpx.TimeoutException as err:
            # One slow request is a measurement (an error for that case), not a dead gateway.
            raise GatewayError(method, path, 0, f"no reply in time ({type(err).__name__})") from err
        except httpx.TransportError as err:
            raise GatewayUnreachable(method, path, 0, str(err) or type(err).__name__) from err
        if reply.status_code >= 400:
            try:
                detail = str(reply.json().get("detail", reply.text))
            except ValueError:
                detail = reply.text
            # FastAPI answers an unknown route with exactly {"detail": "Not Found"}; a 404 with
            # any other detail is an unknown *object* on a route that exists.
            missing = reply.status_code == 405 or (
                reply.status_code == 404 and detail == "Not Found"
            )
            cls = EndpointMissing if missing else GatewayError
            raise cls(method, path, reply.status_code, detail)
        return reply.json()

    # ---- documents ---------------------------------------------------------------------------
    def list_sources(self, collection: str) -> set[str]:
        body = self._call("GET", "/v1/documents", params={"collection": collection})
        listed = _read(schemas.DocumentList, body, "GET /v1/documents")
        return {doc.source for doc in listed.documents}

    def upload(
        self, documents: Sequence[Document], collection: str
    ) -> list[schemas.IngestedDocument]:
        files = [("file", (d.source, d.text.encode("utf-8"), d.mime_type)) for d in documents]
        body = self._call("POST", "/v1/documents", files=files, data={"collection": collection})
        return _read(schemas.UploadResponse, body, "POST /v1/documents").documents

    def ingest(
        self,
        documents: Sequence[Document],
        collection: str,
        *,
        batch_size: int = 16,
        on_batch: Callable[[int], None] | None = None,
    ) -> IngestSummary:
        """Uploads the documents whose source is not yet in the collection, in batches.
        Re-running is cheap: present sources are skipped, and identical bytes would be a no-op
        on the server anyway (content-hash document ids)."""
        present = self.list_sources(collection)
        todo = [d for d in documents if d.source not in present]
        ingested = unchanged = 0
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            for entry in self.upload(batch, collection):
                if entry.status == "ingested":
                    ingested += 1
                else:
                    unchanged += 1
            if on_batch is not None:
                on_batch(len(batch))
        return IngestSummary(
            collection,
            len(documents),
            len(documents) - len(todo),
            len(todo),
            ingested,
            unchanged,
        )

    # ---- answering ---------------------------------------------------------------------------
    def search(
        self, query: str, *, collection: str, top_k: int, mode: SearchMode, rerank: bool
    ) -> list[schemas.SearchResult]:
        body = {
            "query": query,
            "top_k": top_k,
            "collection": collection,
            "mode": mode.value,
            "rerank": rerank,
        }
        reply = self._call("POST", "/v1/search", json=body)
        return _read(schemas.SearchResponse, reply, "POST /v1/search").results

    def ask(
        self,
        question: str,
        *,
        collection: str,
        data_schema: dict[str, Any] | None = None,
        rerank: bool | None = None,
        verify: bool = True,
        search_mode: SearchMode = SearchMode.HYBRID,
        selector: bool | None = None,
        gate: bool | None = None,
    ) -> schemas.Answer:
        """POST /v1/ask; `rerank` None leaves it to the server's default; `selector` and `gate`
        (the evidence selector and the answerability gate) are sent only when set, so a
        gateway that does not know them still answers the other requests."""
        body: dict[str, Any] = {
            "question": question,
            "collection": collection,
            "verify": verify,
            "search_mode": search_mode.value,
        }
        if rerank is not None:
            body["rerank"] = rerank
        if selector is not None:
            body["selector"] = selector
        if gate is not None:
            body["gate"] = gate
        if data_schema is not None:
            body["data_schema"] = data_schema
        return _read(schemas.Answer, self._call("POST", "/v1/ask", json=body), "POST /v1/ask")

    def verify(self, claim: str, evidence: Sequence[str]) -> schemas.VerifyResponse:
        """POST /v1/verify {claim, evidence} -> {support, score, verifier}."""
        body = self._call("POST", "/v1/verify", json={"claim": claim, "evidence": list(evidence)})
        return _read(schemas.VerifyResponse, body, "POST /v1/verify")

    def calculate(self, expression: str) -> schemas.CalculateResponse:
        """POST /v1/calculate {expression} -> {value, expression, steps}."""
        body = self._call("POST", "/v1/calculate", json={"expression": expression})
        return _read(schemas.CalculateResponse, body, "POST /v1/calculate")


def _read(model: type[M], body: Any, route: str) -> M:
    """The response body as its schema; a body that breaks the contract is a GatewayError."""
    try:
        return model.model_validate(body)
    except ValidationError as err:
        method, path = route.split(" ", 1)
        raise ContractBroken(
            method, path, 200, f"response breaks the answer schema: {err}"
        ) from None
