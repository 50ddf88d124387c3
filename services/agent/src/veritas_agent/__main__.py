"""`veritas-agent`: serves AgentService on its port (50057 by default)."""

from __future__ import annotations

import asyncio

import grpc

from veritas.v1 import agent_pb2, agent_pb2_grpc
from veritas_agent.agent import Agent
from veritas_agent.config import AgentSettings
from veritas_agent.peers import Peers
from veritas_agent.servicer import AgentServicer
from veritas_common.server import ServiceApp

SERVICE_NAME = agent_pb2.DESCRIPTOR.services_by_name["AgentService"].full_name


def build_app(settings: AgentSettings) -> ServiceApp:
    """The agent and its peers. Channels connect lazily: the agent serves (and reports SERVING)
    whether or not its peers are up yet; a request that needs a missing peer gets UNAVAILABLE
    naming it."""
    peers = Peers.from_settings(settings)
    agent = Agent.from_settings(settings, peers)

    def register(server: grpc.aio.Server) -> list[str]:
        agent_pb2_grpc.add_AgentServiceServicer_to_server(AgentServicer(agent), server)
        return [SERVICE_NAME]

    async def warm_up() -> None:
        await asyncio.to_thread(agent.warm_up)

    return ServiceApp("agent", settings, register, warm_up, on_stop=peers.close)


def main() -> None:
    build_app(AgentSettings()).run()


if __name__ == "__main__":
    main()
