"""Targets of `connect` (channel.dial_target): a host without a port dials the
service's default port 50051, not gRPC's 443; `host:port`, `[v6]:port` and
gRPC's resolver forms are dialled as given."""
from __future__ import annotations

import asyncio

import pytest

from datapack_client import InvalidArgumentError, connect
from datapack_client import channel as channel_module
from datapack_client.aio import connect_async
from datapack_client.channel import DEFAULT_PORT, dial_target
from datapack_server.cli.health import check

from .conftest import STORE, make_pack


@pytest.mark.parametrize("given, dialled", [
    ("localhost", "localhost:50051"),
    ("127.0.0.1", "127.0.0.1:50051"),
    ("datapack.lab.example", "datapack.lab.example:50051"),
    ("localhost:", "localhost:50051"),
    ("[::1]", "[::1]:50051"),
    ("::1", "[::1]:50051"),
    ("2001:db8::7", "[2001:db8::7]:50051"),
])
def test_a_host_without_a_port_gets_the_default_port(given, dialled):
    assert DEFAULT_PORT == 50051
    assert dial_target(given) == dialled
    assert dial_target(dialled) == dialled  # applying it twice changes nothing


@pytest.mark.parametrize("target", [
    "localhost:443", "127.0.0.1:1", "[::1]:8080", "unix:/run/datapack.sock", "unix:///run/datapack.sock",
    "unix-abstract:datapack", "dns:///datapack.lab.example:50051", "dns:localhost", "dns://8.8.8.8/host:5",
    "ipv4:127.0.0.1:5000,127.0.0.2:5000", "ipv6:[::1]:5000", "xds:///datapack", "vsock:3:5000",
])
def test_ports_and_grpc_target_forms_are_kept(target):
    assert dial_target(target) == target


@pytest.mark.parametrize("target", ["", "   ", None, 50051])
def test_an_empty_or_non_text_target_is_invalid(target):
    with pytest.raises(InvalidArgumentError) as exc:
        connect(target, store=STORE)
    assert [v.field for v in exc.value.violations] == ["target"]


def test_connect_to_a_host_alone_dials_the_default_port(server, monkeypatch):
    """Over the wire: with the default port pointed at a test server (port 0),
    `connect("127.0.0.1")` reaches it, and so do the other spellings."""
    monkeypatch.setattr(channel_module, "DEFAULT_PORT", server.port)
    with connect("127.0.0.1", store=STORE, timeout=20) as c:
        assert c.target == f"127.0.0.1:{server.port}"
        assert c.append(make_pack("host-alone")).status == "created"
    for target in ("127.0.0.1:", f"dns:///127.0.0.1:{server.port}", f"ipv4:127.0.0.1:{server.port}"):
        with connect(target, store=STORE, timeout=20) as c:
            assert [p.pack_id for p in c.load_all("drawer_vase")] == ["host-alone"], target
    assert check("127.0.0.1", timeout=20) == "SERVING"  # `datapack health --target 127.0.0.1`


def test_the_real_default_is_50051_not_443():
    """Without a server: the client names the port it dials (nothing is sent)."""
    with connect("localhost", store=STORE) as c:
        assert c.target == "localhost:50051"


def test_connect_async_dials_the_default_port_too(server, monkeypatch):
    monkeypatch.setattr(channel_module, "DEFAULT_PORT", server.port)

    async def main():
        async with connect_async("127.0.0.1", store=STORE, timeout=20) as c:
            assert c.target == f"127.0.0.1:{server.port}"
            return (await c.append(make_pack("async-host-alone"))).status

    assert asyncio.run(main()) == "created"
