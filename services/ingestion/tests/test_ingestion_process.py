"""`python -m veritas_ingestion` starts, turns SERVING and answers (peers not needed)."""

from __future__ import annotations

import grpc
import pytest

from veritas.v1 import ingestion_pb2, ingestion_pb2_grpc
from veritas_common.testing import ServiceProcess, free_port


@pytest.mark.integration
async def test_process_serves_and_reports_a_missing_peer(tmp_path):
    env = {
        "VERITAS_DATA_DIR": str(tmp_path),
        "VERITAS_RETRIEVAL_ADDR": f"127.0.0.1:{free_port()}",
        "VERITAS_PEER_RETRIES": "0",
    }
    process = ServiceProcess("ingestion", env, tmp_path)
    try:
        import asyncio

        await asyncio.to_thread(process.wait_serving, 60)
        async with grpc.aio.insecure_channel(process.addr) as channel:
            stub = ingestion_pb2_grpc.IngestionServiceStub(channel)
            listed = await stub.ListDocuments(ingestion_pb2.ListDocumentsRequest())
            assert list(listed.documents) == []
            with pytest.raises(grpc.aio.AioRpcError) as err:
                async for _ in stub.Ingest(
                    iter([ingestion_pb2.IngestRequest(source="a.txt", content=b"Hello there.")])
                ):
                    pass
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "a.txt: retrieval service unavailable" in (err.value.details() or "")
        assert (tmp_path / "ingestion" / "documents.sqlite3").exists()
    finally:
        process.stop()
