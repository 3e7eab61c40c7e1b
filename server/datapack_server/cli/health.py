"""`datapack health`: ask a server's standard gRPC health service (container
HEALTHCHECKs, scripts waiting for a server to finish loading).

    datapack health [--target HOST:PORT] [--service NAME] [--timeout S] [--quiet]

Prints the status (SERVING, NOT_SERVING, SERVICE_UNKNOWN) or why the server
could not be asked. The health service needs no token (README: Secure
deployment), so none is sent; the channel is plaintext.

Exit status (common.py): 0 SERVING; 1 anything else (not serving yet or any
more, unknown service name, no answer within the timeout); 2 usage.
"""
from __future__ import annotations

import argparse
import sys
from typing import TextIO

from datapack_server.cli.common import EXIT_FAILURE, EXIT_OK, add_verb_parser

EXIT_SERVING, EXIT_NOT_SERVING = EXIT_OK, EXIT_FAILURE


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--target", default="127.0.0.1:50051", metavar="HOST:PORT",
                   help="server to ask (default 127.0.0.1:50051)")
    p.add_argument("--service", default="", metavar="NAME",
                   help="health service name (default \"\": the whole server; e.g. "
                        "datapack.v1.DataPackService/write for the disk-full state)")
    p.add_argument("--timeout", type=float, default=3.0, metavar="S", help="seconds to wait for the answer")
    p.add_argument("--quiet", action="store_true", help="print nothing; the exit status tells")
    return p


def check(target: str, service: str = "", timeout: float = 3.0) -> str:
    """The status name the server reports for `service`, or a reason it did not answer."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from datapack_client.channel import dial_target

    with grpc.insecure_channel(dial_target(target)) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:  # the health protocol's unknown service
                return "SERVICE_UNKNOWN"
            return f"no answer ({exc.code().name}: {exc.details()})"
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    status = check(args.target, args.service, args.timeout)
    if not args.quiet:
        print(f"{args.target} {args.service or '(server)'}: {status}", file=out or sys.stdout)
    return EXIT_SERVING if status == "SERVING" else EXIT_NOT_SERVING


def register(sub) -> argparse.ArgumentParser:
    p = add_verb_parser(sub, "health", "ask a server's gRPC health service (exit 0 when SERVING)",
                        "Ask a server's standard gRPC health service (container HEALTHCHECKs, scripts waiting "
                        "for a server to finish loading); no token is sent.",
                        exits="0 SERVING; 1 NOT_SERVING, SERVICE_UNKNOWN or no answer within --timeout")
    add_arguments(p)
    p.set_defaults(func=run)
    return p
