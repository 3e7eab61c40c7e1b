"""Security at length: generated hostile names through every RPC, token
guessing, and what tokens and TLS cost.

    python -m reliability.security [--quick] [--names N] [--guesses N] [--seed S]

1. names: N generated names (pieces such as "..", "/", "%2e", NUL, newline,
   ANSI escapes, bidi overrides, lookalikes, device names, long runs, glued to
   plain ones) in every name-carrying argument of every RPC
   (tests/hostile_names.sweep), against `datapack serve` with tokens at debug
   log level. Every outcome must follow the naming rules (validation_rules:
   refused -> INVALID_ARGUMENT, accepted -> OK / NOT_FOUND), nothing may appear
   outside the data root, and every log line must be one well-formed record.
2. guessing: N wrong tokens, half of them the real token with its last
   character changed: every call UNAUTHENTICATED, the log bounded by the rate
   limit; the median denial latency of near misses and of random guesses are
   printed side by side (a prefix-dependent comparison would show here).
3. overhead: p50/p99 of GetStatistics, the first call on a new channel
   (handshake) and streamed appends per second, in plaintext, with a token,
   TLS, and mutual TLS plus a token (fsync off: the transport is measured).

Pass: 0 unexpected outcomes, 0 paths outside the data root, 0 malformed log
lines, every guess denied. The last line printed is one JSON object of figures.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import pathlib
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time

import grpc

from bench.server import ServerProc
from datapack_client import connect
from datapack_client.client import channel_options
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
from tests.conftest import make_pack
from tests.hostile_names import (ALL_METHODS, SERVICES, SLOTS, accepted, bad_log_lines, call_rpc, request_for, sweep,
                                 tree_outside)
from tests.test_security import PKI, write_private

RW_TOKEN = secrets.token_urlsafe(32)
RO_TOKEN = secrets.token_urlsafe(32)
PIECES = ["..", ".", "/", "\\", "%2e", "%2f", "%00", "\x00", "\n", "\r\n", "\t", " ", "\x1b[31m", "\x1b]0;",
          "\x07", "\x7f", "\x85", "\u202e", "\u2066", "\u200b", "\u2028", "\uff0e", "\uff0f", "\u2215", "а", "é",
          "~", "$", "*", "?", ":", "|", "<", ">", "\"", "'", ";", "&", "`", "CON", "nul", "LPT1", "com9.txt",
          ".datapack", ".git", "-", "_", "a", "phase_c", "drawer_vase", "x" * 64, "y" * 129, "../" * 20, "\ud7ff",
          "\U0001f916"]


def generated_names(n: int, rng: random.Random) -> list[str]:
    """n distinct names: 1-6 pieces, a quarter of them only from plain pieces
    (so both the accepting and the refusing paths are exercised)."""
    plain = ["a", "phase_c", "drawer_vase", "-", "_", ".", "x" * 64, "CON", "com9.txt", ".git", "/"]
    out: dict[str, None] = {}
    while len(out) < n:
        pool = plain if rng.random() < 0.25 else PIECES
        out["".join(rng.choice(pool) for _ in range(rng.randint(1, 6)))] = None
    return list(out)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def check_names(work: str, names: list[str], token_file: str) -> dict:
    data = os.path.join(work, "names", "data")
    os.makedirs(data)
    outside = os.path.join(work, "names", "outside")
    os.makedirs(outside)
    os.symlink(outside, os.path.join(data, "linked"))
    before = tree_outside(os.path.join(work, "names"), data)
    log_path = os.path.join(work, "names", "server.log")
    server = ServerProc(data, log_path, "--workers", "0", "--no-fsync", "--log-level", "debug", "--log-format", "text",
                        "--token-file", token_file).start()
    auth = [("authorization", "Bearer " + RW_TOKEN)]
    t0 = time.perf_counter()
    try:
        with grpc.insecure_channel(server.target, options=channel_options()) as ch:
            calls, unexpected = sweep(ch, names, auth, itertools.count())
            for svc, m in ALL_METHODS:  # the symbolic link out of the data root, in every store slot
                if "store" in SLOTS[m.name]:
                    code, reason, _ = call_rpc(ch, svc, m, request_for(m.name, store="linked/x"), auth)
                    calls += 1
                    if reason != "STORE_OUTSIDE_DATA_DIR":
                        unexpected.append((m.name, "store", "linked/x", code, reason))
    finally:
        server.stop()
    elapsed = time.perf_counter() - t0
    after = tree_outside(os.path.join(work, "names"), data)
    outside_changes = sorted(set(after.items()) ^ set(before.items()))
    outside_changes = [p for p in outside_changes if p[0] != log_path] + os.listdir(outside)
    with open(log_path, encoding="utf-8", errors="replace") as f:
        log = f.read()
    refused = accepted_n = 0
    for _svc, m in ALL_METHODS:
        for slot in SLOTS[m.name]:
            for name in names:
                if accepted(m.name, slot, name):
                    accepted_n += 1
                else:
                    refused += 1
    return {"names": len(names), "calls": calls, "refused_by_rule": refused, "accepted_by_rule": accepted_n,
            "unexpected": len(unexpected), "unexpected_examples": [list(map(str, u)) for u in unexpected[:5]],
            "paths_outside": len(outside_changes), "log_lines": len(log.splitlines()),
            "bad_log_lines": len(bad_log_lines(log)), "calls_per_s": round(calls / elapsed, 1)}


def check_guessing(work: str, guesses: int, token_file: str) -> dict:
    data = os.path.join(work, "guess", "data")
    os.makedirs(data)
    log_path = os.path.join(work, "guess", "server.log")
    server = ServerProc(data, log_path, "--workers", "0", "--token-file", token_file).start()
    method = SERVICES[0].methods_by_name["ListTasks"]
    near, far, codes = [], [], {}
    rng = random.Random(1)
    t0 = time.perf_counter()
    try:
        with grpc.insecure_channel(server.target, options=channel_options()) as ch:
            for i in range(guesses):
                if i % 2:
                    guess = RW_TOKEN[:-1] + ("A" if RW_TOKEN[-1] != "A" else "B")
                else:
                    guess = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789-_") for _ in RW_TOKEN)
                s = time.perf_counter()
                code, reason, _ = call_rpc(ch, SERVICES[0], method, spb.ListTasksRequest(),
                                           [("authorization", "Bearer " + guess)])
                (near if i % 2 else far).append(time.perf_counter() - s)
                codes[f"{code}/{reason}"] = codes.get(f"{code}/{reason}", 0) + 1
    finally:
        server.stop()
    minutes = (time.perf_counter() - t0) / 60
    with open(log_path, encoding="utf-8", errors="replace") as f:
        denial_lines = sum("datapack.security" in line for line in f)
    return {"guesses": guesses, "denied": codes.get("UNAUTHENTICATED/TOKEN_INVALID", 0), "outcomes": codes,
            "near_miss_p50_us": round(statistics.median(near) * 1e6, 1),
            "random_p50_us": round(statistics.median(far) * 1e6, 1),
            "denial_log_lines": denial_lines, "log_line_bound": 21 * (int(minutes) + 2)}


def check_overhead(work: str, pki: PKI, token_file: str, calls: int, packs: int, handshakes: int) -> dict:
    tls = ["--tls-cert", pki.server_cert, "--tls-key", pki.server_key]
    modes = {
        "plaintext": ([], {}),
        "token": (["--token-file", token_file], {"token": RW_TOKEN}),
        "tls": (tls, {"root_certificates": pki.ca}),
        "mtls+token": (tls + ["--tls-client-ca", pki.ca, "--token-file", token_file],
                       {"root_certificates": pki.ca, "client_cert": pki.client_cert, "client_key": pki.client_key,
                        "token": RW_TOKEN}),
    }
    out = {}
    for mode, (flags, kw) in modes.items():
        data = os.path.join(work, "overhead", mode)
        os.makedirs(data)
        server = ServerProc(data, os.path.join(work, "overhead", mode + ".log"), "--workers", "0", "--no-fsync",
                            *flags).start()
        try:
            with connect(server.target, "bench", timeout=60, **kw) as c:
                c.append_batch([make_pack(f"seed-{i}") for i in range(100)])
                lat = []
                for _ in range(calls):
                    s = time.perf_counter()
                    c.get_statistics("drawer_vase")
                    lat.append(time.perf_counter() - s)
                s = time.perf_counter()
                with c.stream_appender(batch_size=256) as appender:
                    for i in range(packs):
                        appender.append(make_pack(f"a-{i}"))
                rate = packs / (time.perf_counter() - s)
            first = []
            for _ in range(handshakes):
                s = time.perf_counter()
                with connect(server.target, "bench", timeout=60, **kw) as c:
                    c.list_tasks()
                first.append(time.perf_counter() - s)
        finally:
            server.stop()
        out[mode] = {"stats_p50_ms": round(pct(lat, 0.5) * 1e3, 3), "stats_p99_ms": round(pct(lat, 0.99) * 1e3, 3),
                     "first_call_p50_ms": round(pct(first, 0.5) * 1e3, 2), "append_packs_per_s": round(rate)}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m reliability.security", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="about a minute instead of about four")
    p.add_argument("--names", type=int, default=None, help="generated names (default 60 quick, 1000 full)")
    p.add_argument("--guesses", type=int, default=None, help="wrong tokens (default 2000 quick, 20000 full)")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)
    n_names = args.names or (60 if args.quick else 1000)
    n_guesses = args.guesses or (2000 if args.quick else 20000)
    calls, packs, handshakes = (300, 3000, 10) if args.quick else (2000, 20000, 40)
    work = tempfile.mkdtemp(prefix="datapack-security-")
    try:
        pki_dir = os.path.join(work, "pki")
        os.makedirs(pki_dir)
        pki = PKI(pathlib.Path(pki_dir))
        token_file = str(write_private(pathlib.Path(work) / "tokens",
                                       f"read-write {RW_TOKEN} reliability\nread-only {RO_TOKEN} readers\n"))
        names = generated_names(n_names, random.Random(args.seed))
        t = time.perf_counter()
        n = check_names(work, names, token_file)
        n["seconds"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        g = check_guessing(work, n_guesses, token_file)
        g["seconds"] = round(time.perf_counter() - t, 1)
        o = check_overhead(work, pki, token_file, calls, packs, handshakes)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print("hostile names (every name-carrying argument of every RPC, datapack serve with tokens, debug log)")
    print(f"  {'names':<28}{n['names']:>10}")
    for k in ("calls", "refused_by_rule", "accepted_by_rule", "unexpected", "paths_outside", "log_lines",
              "bad_log_lines", "calls_per_s", "seconds"):
        print(f"  {k:<28}{n[k]:>10}")
    for u in n["unexpected_examples"]:
        print("  unexpected:", u)
    print("token guessing")
    for k in ("guesses", "denied", "near_miss_p50_us", "random_p50_us", "denial_log_lines", "log_line_bound",
              "seconds"):
        print(f"  {k:<28}{g[k]:>10}")
    print("overhead (fsync off; one client)")
    print(f"  {'mode':<14}{'stats p50 ms':>14}{'stats p99 ms':>14}{'first call ms':>15}{'append packs/s':>16}")
    for mode, f in o.items():
        print(f"  {mode:<14}{f['stats_p50_ms']:>14}{f['stats_p99_ms']:>14}{f['first_call_p50_ms']:>15}"
              f"{f['append_packs_per_s']:>16}")
    ok = (n["unexpected"] == 0 and n["paths_outside"] == 0 and n["bad_log_lines"] == 0
          and g["denied"] == g["guesses"] and g["denial_log_lines"] <= g["log_line_bound"])
    print("PASS" if ok else "FAIL")
    print(json.dumps({"pass": ok, "names": n, "guessing": g, "overhead": o}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
