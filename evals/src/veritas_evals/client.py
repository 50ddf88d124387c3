"""The gateway's public HTTP API, as the harness uses it. Nothing here knows service internals."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from veritas_evals.datasets import Document


class GatewayError(RuntimeError):
    """The gateway answered with an error status (its `detail` in the message)."""

    def __init__(self, method: str, path: str, status: int, detail: str) -> None:
        super().__init__(f"{method} {path}: HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


class EndpointMissing(GatewayError):
    """The route does not exist on this gateway (404 on the route itself, 405)."""


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
        return {doc["source"] for doc in body["documents"]}

    def upload(self, documents: Sequence[Document], collection: str) -> list[dict[str, Any]]:
        files = [("file", (d.source, d.text.encode("utf-8"), d.mime_type)) for d in documents]
        body = self._call("POST", "/v1/documents", files=files, data={"collection": collection})
        return list(body["documents"])

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
                if entry["status"] == "ingested":
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
        self, query: str, *, collection: str, top_k: int, mode: str, rerank: bool
    ) -> list[dict[str, Any]]:
        body = {
            "query": query,
            "top_k": top_k,
            "collection": collection,
            "mode": mode,
            "rerank": rerank,
        }
        return list(self._call("POST", "/v1/search", json=body)["results"])

    def ask(
        self,
        question: str,
        *,
        collection: str,
        data_schema: dict[str, Any] | None = None,
        rerank: bool | None = None,
        verify: bool = True,
        search_mode: str = "hybrid",
    ) -> dict[str, Any]:
        """POST /v1/ask; `rerank` None leaves it to the server's default."""
        body: dict[str, Any] = {
            "question": question,
            "collection": collection,
            "verify": verify,
            "search_mode": search_mode,
        }
        if rerank is not None:
            body["rerank"] = rerank
        if data_schema is not None:
            body["data_schema"] = data_schema
        result: dict[str, Any] = self._call("POST", "/v1/ask", json=body)
        return result

    def verify(self, claim: str, evidence: Sequence[str]) -> dict[str, Any]:
        """POST /v1/verify {claim, evidence} -> {support, score, verifier}."""
        result: dict[str, Any] = self._call(
            "POST", "/v1/verify", json={"claim": claim, "evidence": list(evidence)}
        )
        return result

    def calculate(self, expression: str) -> dict[str, Any]:
        """POST /v1/calculate {expression} -> {value, expression, steps}."""
        result: dict[str, Any] = self._call(
            "POST", "/v1/calculate", json={"expression": expression}
        )
        return result
