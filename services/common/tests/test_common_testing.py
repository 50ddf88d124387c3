"""The test helpers' port picker: ports outside the range outgoing connections draw from."""

from __future__ import annotations

import socket

from veritas_common.testing import free_port


def test_free_ports_are_distinct_bindable_and_below_the_ephemeral_range():
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    assert all(20000 <= p <= 32000 for p in ports)
    with open("/proc/sys/net/ipv4/ip_local_port_range") as handle:
        ephemeral_low = int(handle.read().split()[0])
    assert max(ports) < ephemeral_low
    for port in ports[:5]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # raises if taken
