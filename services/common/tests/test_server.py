"""The shared bootstrap against a real grpc.aio server: error mapping, metrics, request ids,
client retries and health."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2
from prometheus_client import REGISTRY

from veritas.v1 import embedding_pb2, embedding_pb2_grpc
from veritas_common.client import Peer, check_health
from veritas_common.errors import InvalidArgument, NotFound, PeerUnavailable
from veritas_common.logs import REQUEST_ID_KEY, request_id_var
from veritas_common.server import start_server
from veritas_common.settings import VeritasSettings
from veritas_common.testing import free_port


class ScriptedEmbedding(embedding_pb2_grpc.EmbeddingServiceServicer):
    """Fake servicer whose behaviour is chosen by the first text of the request."""

    seen_request_ids: list[str] = []

    async def Embed(self, request, context):
        self.seen_request_ids.append(request_id_var.get())
        match request.texts[0]:
            case "bad":
                raise InvalidArgument("texts must not be 'bad'")
            case "missing":
                raise NotFound("no such thing")
            case "boom":
                raise RuntimeError("secret internals")
        return embedding_pb2.EmbedResponse(model="scripted", dim=1)


@pytest.fixture
async def server():
    settings = VeritasSettings(port=free_port(), metrics_port=-1)

    def register(srv):
        embedding_pb2_grpc.add_EmbeddingServiceServicer_to_server(ScriptedEmbedding(), srv)
        return ["veritas.v1.EmbeddingService"]

    srv, health, _names, port = await start_server("embedding", settings, register)
    yield f"127.0.0.1:{port}", health
    await srv.stop(0)


def count(method: str, code: str) -> float:
    value = REGISTRY.get_sample_value(
        "veritas_rpc_requests_total", {"service": "embedding", "method": method, "code": code}
    )
    return value or 0.0


async def test_domain_errors_map_to_status_codes_and_back(server):
    addr, _ = server
    peer = Peer("embedding", addr, embedding_pb2_grpc.EmbeddingServiceStub)
    ok = await peer.call("Embed", embedding_pb2.EmbedRequest(texts=["hello"]))
    assert ok.model == "scripted"
    with pytest.raises(InvalidArgument, match="must not be 'bad'"):
        await peer.call("Embed", embedding_pb2.EmbedRequest(texts=["bad"]))
    with pytest.raises(NotFound):
        await peer.call("Embed", embedding_pb2.EmbedRequest(texts=["missing"]))
    await peer.close()


async def test_unexpected_errors_become_internal_without_leaking_details(server):
    addr, _ = server
    async with grpc.aio.insecure_channel(addr) as channel:
        stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.Embed(embedding_pb2.EmbedRequest(texts=["boom"]))
    assert err.value.code() == grpc.StatusCode.INTERNAL
    assert "secret" not in (err.value.details() or "")


async def test_metrics_count_every_call_by_code(server):
    addr, _ = server
    before_ok, before_bad = count("Embed", "OK"), count("Embed", "INVALID_ARGUMENT")
    peer = Peer("embedding", addr, embedding_pb2_grpc.EmbeddingServiceStub)
    await peer.call("Embed", embedding_pb2.EmbedRequest(texts=["x"]))
    with pytest.raises(InvalidArgument):
        await peer.call("Embed", embedding_pb2.EmbedRequest(texts=["bad"]))
    await peer.close()
    assert count("Embed", "OK") == before_ok + 1
    assert count("Embed", "INVALID_ARGUMENT") == before_bad + 1


async def test_request_id_travels_in_metadata(server):
    addr, _ = server
    request_id_var.set("req-123")
    peer = Peer("embedding", addr, embedding_pb2_grpc.EmbeddingServiceStub)
    await peer.call("Embed", embedding_pb2.EmbedRequest(texts=["x"]))
    await peer.close()
    assert ScriptedEmbedding.seen_request_ids[-1] == "req-123"
    assert REQUEST_ID_KEY == "x-request-id"


async def test_health_starts_not_serving_and_flips(server):
    addr, health = server
    assert await check_health(addr) == "NOT_SERVING"
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    assert await check_health(addr) == "SERVING"


async def test_unreachable_peer_raises_peer_unavailable_naming_it():
    peer = Peer(
        "retrieval",
        f"127.0.0.1:{free_port()}",
        embedding_pb2_grpc.EmbeddingServiceStub,
        timeout_s=2,
        retries=1,
    )
    with pytest.raises(PeerUnavailable, match="retrieval service unavailable"):
        await peer.call("Embed", embedding_pb2.EmbedRequest(texts=["x"]))
    await peer.close()
