"""`veritas-agent`: serves AgentService on its port (50057 by default)."""

from __future__ import annotations

import asyncio

import grpc

from veritas.v1 import agent_pb2, agent_pb2_grpc
from veritas_agent.agent import Agent
from veritas_agent.config import AgentSettings
from veritas_agent.peers import Peers
from veritas_agent.servicer import AgentServicer
from veritas_common.server import run_service

SERVICE_NAME = agent_pb2.DESCRIPTOR.services_by_name["AgentService"].full_name


class AgentApp:
    """Builds the agent inside the server's event loop: grpc.aio channels bind to the loop
    they are created in, so peers cannot be made before `run_service` starts it."""

    def __init__(self, settings: AgentSettings) -> None:
        self.settings = settings
        self.peers: Peers | None = None
        self.agent: Agent | None = None

    def register(self, server: grpc.aio.Server) -> list[str]:
        # Channels connect lazily: the agent serves (and reports SERVING) whether or not its
        # peers are up yet; a request that needs a missing peer gets UNAVAILABLE naming it.
        self.peers = Peers.from_settings(self.settings)
        self.agent = Agent.from_settings(self.settings, self.peers)
        agent_pb2_grpc.add_AgentServiceServicer_to_server(AgentServicer(self.agent), server)
        return [SERVICE_NAME]

    async def warm_up(self) -> None:
        assert self.agent is not None
        await asyncio.to_thread(self.agent.warm_up)

    async def close(self) -> None:
        if self.peers is not None:
            await self.peers.close()


def main() -> None:
    app = AgentApp(AgentSettings())
    run_service("agent", app.settings, app.register, app.warm_up, on_stop=app.close)


if __name__ == "__main__":
    main()
