"""Auth on every /v1 route, health and readiness, metrics, OpenAPI, start-up refusal, the body
limit on a streamed body, and peer failures that are not the caller's fault."""

from __future__ import annotations

import json

import pytest
from gateway_fakes import FakeAgent, gateway_client, gateway_settings, start_fake
from prometheus_client import REGISTRY
from starlette.exceptions import HTTPException

from veritas.v1 import agent_pb2_grpc
from veritas_common import schemas
from veritas_gateway.app import create_app
from veritas_gateway.config import ConfigError, GatewaySettings
from veritas_gateway.middleware import BodyLimitMiddleware

V1_ROUTES = [
    ("POST", "/v1/ask", {"json": {"question": "q"}}),
    ("POST", "/v1/search", {"json": {"query": "q"}}),
    ("POST", "/v1/verify", {"json": {"claim": "c", "evidence": ["e"]}}),
    ("POST", "/v1/calculate", {"json": {"expression": "1 + 2"}}),
    ("POST", "/v1/documents", {"files": [("file", ("a.txt", b"x"))]}),
    ("GET", "/v1/documents", {}),
    ("GET", "/v1/documents/abc", {}),
    ("DELETE", "/v1/documents/abc", {}),
]


@pytest.mark.parametrize("auth", [None, "Bearer wrong-key", "Basic dGVzdDp0ZXN0", "Bearer"])
@pytest.mark.parametrize(("method", "path", "kwargs"), V1_ROUTES)
async def test_every_v1_route_needs_a_valid_key(gateway, agent, method, path, kwargs, auth):
    headers = {"Authorization": auth} if auth else {}
    if auth is None:
        gateway.headers.pop("Authorization")
    reply = await gateway.request(method, path, headers=headers, **kwargs)
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"] == "Bearer"
    assert reply.json() == {"detail": "missing or invalid API key"}
    assert agent.servicer.asks == [] and agent.servicer.searches == []
    assert agent.servicer.verifies == [] and agent.servicer.calculations == []


async def test_health_and_readiness_need_no_key(gateway, agent, ingestion):
    gateway.headers.pop("Authorization")
    assert (await gateway.get("/healthz")).json() == {"status": "ok"}
    ready = await gateway.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "peers": {"agent": "SERVING", "ingestion": "SERVING"},
    }


async def test_readiness_is_503_listing_peers_not_serving(gateway, agent, ingestion):
    await agent.set_serving(False)
    reply = await gateway.get("/readyz")
    assert reply.status_code == 503
    assert reply.json()["unavailable"] == ["agent"]
    assert "agent NOT_SERVING" in reply.json()["detail"]
    await ingestion.stop()
    reply = await gateway.get("/readyz")
    assert reply.json()["unavailable"] == ["agent", "ingestion"]
    assert "ingestion UNREACHABLE" in reply.json()["detail"]


def _requests(method: str, route: str, status: str) -> float:
    labels = {"method": method, "route": route, "status": status}
    return REGISTRY.get_sample_value("veritas_http_requests_total", labels) or 0.0


async def test_metrics_count_requests_by_route_template(gateway):
    before_404 = _requests("GET", "/v1/documents/{doc_id}", "404")
    before_ask = _requests("POST", "/v1/ask", "200")
    await gateway.get("/v1/documents/unknown-1")
    await gateway.get("/v1/documents/unknown-2")
    await gateway.post("/v1/ask", json={"question": "q"})
    await gateway.get("/no/such/route")
    assert _requests("GET", "/v1/documents/{doc_id}", "404") == before_404 + 2
    assert _requests("POST", "/v1/ask", "200") == before_ask + 1
    text = (await gateway.get("/metrics", headers={"Authorization": ""})).text
    assert 'route="/v1/documents/{doc_id}"' in text
    assert "unknown-1" not in text and "/no/such/route" not in text
    assert 'route="<unmatched>"' in text
    assert "veritas_http_request_duration_seconds_bucket" in text


async def test_openapi_declares_routes_and_bearer_scheme(gateway):
    gateway.headers.pop("Authorization")
    spec = (await gateway.get("/openapi.json")).json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key from VERITAS_API_KEYS.",
    }
    paths = spec["paths"]
    assert {
        "/v1/ask",
        "/v1/search",
        "/v1/verify",
        "/v1/calculate",
        "/v1/documents",
        "/v1/documents/{doc_id}",
    } <= set(paths)
    for route in ("/v1/ask", "/v1/verify", "/v1/calculate"):
        assert paths[route]["post"]["security"] == [{"HTTPBearer": []}]
    assert "security" not in paths["/healthz"]["get"]
    upload = paths["/v1/documents"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert upload["schema"]["required"] == ["file"]
    answer = spec["components"]["schemas"]["Answer"]["properties"]
    assert list(answer) == list(schemas.Answer.model_fields)  # the shared answer schema
    docs = await gateway.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


@pytest.mark.parametrize("keys", ["", " , ", ":key-without-tenant", "tenant:"])
def test_gateway_refuses_to_start_without_usable_keys(keys):
    with pytest.raises(ConfigError, match="VERITAS_API_KEYS"):
        create_app(GatewaySettings(api_keys=keys))


def test_keys_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("VERITAS_API_KEYS", "k1, acme:k2")
    monkeypatch.setenv("VERITAS_MAX_UPLOAD_BYTES", "1000")
    settings = GatewaySettings()
    assert settings.tenant_by_key() == {"k1": "default", "k2": "acme"}
    assert settings.max_upload_bytes == 1000
    assert settings.bind_http_port() == 8080


async def test_peer_internal_error_is_502_without_internals(ingestion):
    class CrashingAgent(FakeAgent):
        async def Ask(self, request, context):
            raise RuntimeError("secret stack detail")

    fake = await start_fake(
        "agent", CrashingAgent(), agent_pb2_grpc.add_AgentServiceServicer_to_server
    )
    try:
        async with gateway_client(gateway_settings(fake.addr, ingestion.addr)) as client:
            reply = await client.post("/v1/ask", json={"question": "q"})
    finally:
        await fake.stop()
    assert reply.status_code == 502
    assert "agent" in reply.json()["detail"]
    assert "secret" not in reply.text


@pytest.mark.parametrize(("n_chunks", "n_pulled"), [(5, 5), (50, 6)])
async def test_streamed_body_over_the_limit_is_cut_off_at_the_limit(n_chunks, n_pulled):
    """No Content-Length: the middleware counts bytes as they arrive and stops the app; the
    rest is drained (so the client can read the 413), but never more than twice the limit."""
    seen: list[int] = []

    async def app(scope, receive, send):
        total = 0
        while True:
            message = await receive()
            total += len(message.get("body", b""))
            seen.append(total)
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    chunks = [b"x" * 400] * n_chunks
    pulled: list[int] = []

    async def receive():
        pulled.append(1)
        body = chunks[len(pulled) - 1]
        return {"type": "http.request", "body": body, "more_body": len(pulled) < len(chunks)}

    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    with pytest.raises(HTTPException) as err:
        await BodyLimitMiddleware(app, max_bytes=1000)(scope, receive, send)
    assert err.value.status_code == 413
    assert max(seen) <= 1000  # the app never saw a byte past the limit
    assert len(pulled) == n_pulled
    assert sent == []


async def test_declared_oversize_body_is_rejected_before_the_app_runs():
    called = False

    async def app(scope, receive, send):
        nonlocal called
        called = True

    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    headers = [(b"content-length", b"5000"), (b"expect", b"100-continue")]
    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    await BodyLimitMiddleware(app, max_bytes=1000)(scope, receive, send)
    assert not called
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"]) == {
        "detail": "request body exceeds the upload limit of 1000 bytes"
    }


async def test_unauthenticated_requests_learn_nothing_about_the_body(gateway):
    gateway.headers.pop("Authorization")
    reply = await gateway.post("/v1/ask", json={"question": "   ", "mode": "nonsense"})
    assert reply.status_code == 401
