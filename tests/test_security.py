"""Security: bearer tokens with roles (read-write / read-only), TLS and mutual
TLS (certificates generated here with `cryptography`, none committed), and
hostile names against every RPC that takes a store, task, pack id or baseline
name: refused, nothing written outside the data root, no forged log line."""
from __future__ import annotations

import datetime
import ipaddress
import json
import logging
import os
import subprocess
import sys
import threading

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from datapack_client import (DataPackError, PermissionDeniedError, SkillDataPackAdapter, UnauthenticatedError,
                             UnavailableError, connect)
from datapack_client.client import channel_options
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
from datapack_client.records.validation_rules import pack_id_ok, store_ok, task_name_ok
from datapack_server.api import security
from datapack_server.api.app import ServerConfig, build_server
from datapack_server.observability import safe_text

from .conftest import ServerProcess, make_pack, scaled
from .hostile_names import (ACCEPTED_STORES, ACCEPTED_TASK_NAMES, ALL_METHODS, HOSTILE, PACK_IDS_ACCEPTED_ON_APPEND,
                            SERVICES, SLOTS, TASK, bad_log_lines, call_rpc, request_for, sweep, tree_outside)
from .test_ingest_flows import drawer_episode, econ

RW_TOKEN = "rw-4f1c0e0b0c9a4d1d8c1f4b7e2a9d3c5e"
RO_TOKEN = "ro-Zq3J9v_4XkP2m8RtW1yN6bLc0sD5hGfE"


def write_private(path, text: str | bytes, mode: int = 0o600):
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    path.chmod(mode)
    return path


@pytest.fixture
def token_file(tmp_path):
    return write_private(tmp_path / "tokens", f"""# role      token                label
read-write  {RW_TOKEN}   simulators

read-only   {RO_TOKEN}   dashboards
""")


# ---------------------------------------------------------------------- certificates


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, key, issuer: str, issuer_key, *, ca: bool = False, san=None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if san is not None:
        b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


class PKI:
    """A CA, a server certificate for 127.0.0.1 / localhost, a client
    certificate it signed, and a second ("rogue") CA with its own client."""

    def __init__(self, folder):
        self.folder = folder
        ca_key, rogue_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        self.ca = self._write_cert("ca", _cert("test CA", ca_key, "test CA", ca_key, ca=True))
        self.rogue_ca = self._write_cert("rogue_ca", _cert("rogue CA", rogue_key, "rogue CA", rogue_key, ca=True))
        server_key = ec.generate_private_key(ec.SECP256R1())
        san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        self.server_cert = self._write_cert("server", _cert("datapack server", server_key, "test CA", ca_key, san=san))
        self.server_key = self._write_key("server", server_key)
        client_key = ec.generate_private_key(ec.SECP256R1())
        self.client_cert = self._write_cert("client", _cert("simulator-1", client_key, "test CA", ca_key))
        self.client_key = self._write_key("client", client_key)
        rogue_client_key = ec.generate_private_key(ec.SECP256R1())
        self.rogue_cert = self._write_cert("rogue_client", _cert("intruder", rogue_client_key, "rogue CA", rogue_key))
        self.rogue_key = self._write_key("rogue_client", rogue_client_key)

    def _write_cert(self, name, cert) -> str:
        path = self.folder / f"{name}.crt"
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return str(path)

    def _write_key(self, name, key) -> str:
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        return str(write_private(self.folder / f"{name}.key", pem))


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return PKI(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def start(data_root):
    """start(**ServerConfig fields) -> a running in-process server on port 0."""
    running = []

    def _start(**kw):
        r = build_server(ServerConfig(data_dir=str(data_root), port=0, max_workers=16, exclusive=False, **kw))
        running.append(r)
        return r

    yield _start
    for r in running:
        r.stop(0)


# ---------------------------------------------------------------------- 19. tokens


def test_token_file_format_and_permissions(tmp_path):
    tokens = security.parse_tokens(f"# comment\n\n read-write {RW_TOKEN} sim rig 1 \nread-only {RO_TOKEN}\n")
    assert [(t.role, t.label) for t in tokens] == [("read-write", "sim rig 1"), ("read-only", "line 4")]
    for bad, why in [("", "holds no token"), ("# only a comment\n", "holds no token"),
                     (f"admin {RW_TOKEN}\n", "expected"), ("read-write\n", "expected"),
                     ("read-write short\n", "16-512"), ("read-write " + "é" * 20 + "\n", "visible ASCII"),
                     (f"read-write {RW_TOKEN}\nread-only {RW_TOKEN}\n", "listed twice")]:
        with pytest.raises(security.SecurityConfigError, match=why):
            security.parse_tokens(bad)
    path = write_private(tmp_path / "t", f"read-only {RO_TOKEN}\n", 0o640)
    assert [t.role for t in security.load_tokens(str(path))] == ["read-only"]
    for mode in (0o644, 0o604, 0o660):  # readable by others, or writable by the group
        path.chmod(mode)
        with pytest.raises(security.SecurityConfigError, match="accessible to other users"):
            security.load_tokens(str(path))
    with pytest.raises(security.SecurityConfigError, match="cannot read"):
        security.load_tokens(str(tmp_path / "missing"))


def test_every_rpc_is_classified_and_the_writes_are_exactly_the_writing_rpcs():
    full = {f"/{svc.full_name}/{m.name}" for svc, m in ALL_METHODS}
    assert security.READ_METHODS | security.WRITE_METHODS == full
    assert not security.READ_METHODS & security.WRITE_METHODS
    assert {m.rsplit("/", 1)[1] for m in security.WRITE_METHODS} == {
        "AppendDataPacks", "AppendDataPacksBatch", "IngestEpisodes", "PutBaseline", "UpdateTrainingUsage",
        "ExportPortable"}


def test_no_or_wrong_token_is_unauthenticated_on_every_rpc_and_stores_nothing(start, token_file, data_root):
    running = start(token_file=str(token_file))
    with grpc.insecure_channel(f"127.0.0.1:{running.port}", options=channel_options()) as ch:
        cases = [(None, "TOKEN_MISSING"), ([("authorization", "Bearer " + RW_TOKEN[:-1] + "x")], "TOKEN_INVALID"),
                 ([("authorization", "Basic " + RW_TOKEN)], "TOKEN_INVALID"),
                 ([("authorization", "Bearer")], "TOKEN_INVALID"),
                 ([("authorization", "Bearer " + RO_TOKEN), ("authorization", "Bearer " + RW_TOKEN)], "TOKEN_INVALID"),
                 ([("x-token", RW_TOKEN)], "TOKEN_MISSING")]
        for metadata, reason in cases:
            for svc, m in ALL_METHODS:
                assert call_rpc(ch, svc, m, request_for(m.name), metadata)[:2] == ("UNAUTHENTICATED", reason), m.name
    assert [p.name for p in data_root.rglob("*_datapacks.jsonl")] == []
    assert not (data_root / "s" / ".datapack" / "baselines.json").exists()


def test_read_only_token_reads_everything_and_writes_nothing(start, token_file, data_root):
    running = start(token_file=str(token_file))
    target = f"127.0.0.1:{running.port}"
    rw = connect(target, "phase_c", token=RW_TOKEN, timeout=10)
    rw.append_batch([make_pack(f"p-{i}", delta_j=1.0 if i % 3 else -1.0) for i in range(6)])
    rw.update_training_usage(TASK, ["p-1"], wm_role="wm_train")
    ro_file = write_private(token_file.parent / "ro", f"# the dashboards' token\n{RO_TOKEN}\n")
    ro = connect(target, "phase_c", token_file=str(ro_file), timeout=10)
    try:
        assert len(ro.query(TASK, bucket="positive")) == 4
        assert ro.get(TASK, "p-1").attribution.wm_role == "wm_train"
        assert [h["revision"] for h in ro.get_history(TASK, "p-1")] == [1, 2]
        assert ro.get_statistics(TASK)["total"] == 6
        assert ro.list_tasks() == [TASK] and all(b["builtin"] for b in ro.list_baselines().values())
        assert SkillDataPackAdapter(ro).get_skill_statistics(TASK, 3)["total_usage"] == 6
        files = {p: p.stat().st_size for p in data_root.rglob("*") if p.is_file() and "locks" not in p.parts}
        writes = [lambda: ro.append(make_pack("new")), lambda: ro.append_batch([make_pack("new")]),
                  lambda: ro.ingest_episodes([drawer_episode(0)], econ(), {"mpl": 10.0, "error": 0.05, "ep": 2.0}),
                  lambda: ro.put_baseline("b1", {"mpl": 10.0, "error": 0.05, "ep": 2.0}),
                  lambda: ro.update_training_usage(TASK, ["p-2"], wm_role="wm_train"),
                  lambda: ro.export_portable(TASK), lambda: ro.export_portable(TASK, output_store="copy")]
        for write in writes:
            with pytest.raises(PermissionDeniedError) as exc:
                write()
            assert exc.value.reason == "PERMISSION_READ_ONLY"
        with pytest.raises(PermissionDeniedError):
            with ro.stream_appender(batch_size=2) as s:
                for i in range(4):
                    s.append(make_pack(f"s-{i}"))
        assert rw.get_statistics(TASK)["total"] == 6
        after = {p: p.stat().st_size for p in data_root.rglob("*") if p.is_file() and "locks" not in p.parts}
        assert after == files  # not a byte written, no store or baseline file created
    finally:
        ro.close()
        rw.close()


def test_read_write_token_streams_ingests_and_analyses(start, token_file):
    running = start(token_file=str(token_file))
    with connect(f"127.0.0.1:{running.port}", "phase_c", token=RW_TOKEN, timeout=10).wait_ready() as c:
        with c.stream_appender(batch_size=8) as s:
            for i in range(20):
                s.append(make_pack(f"s-{i}"))
        assert len(s.results) == 20
        baseline = {"mpl": 10.0, "error": 0.05, "ep": 2.0}
        built = c.ingest_episodes([drawer_episode(i) for i in range(3)], econ(), baseline)
        assert [r.status for r in built] == ["created"] * 3
        assert len(SkillDataPackAdapter(c).get_skill_training_data(TASK, 3)) == 23
    with pytest.raises(UnauthenticatedError) as exc:
        connect(f"127.0.0.1:{running.port}", "phase_c", timeout=10).list_tasks()
    assert exc.value.reason == "TOKEN_MISSING" and exc.value.code == "UNAUTHENTICATED"


def test_health_and_reflection_need_no_token(start, token_file):
    running = start(token_file=str(token_file))
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as ch:
        status = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        assert status.status == health_pb2.HealthCheckResponse.SERVING
        (listing,) = reflection_pb2_grpc.ServerReflectionStub(ch).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5)
        assert "datapack.v1.DataPackService" in {s.name for s in listing.list_services_response.service}


def test_denied_calls_are_logged_without_the_token_and_rate_limited(start, token_file, caplog):
    running = start(token_file=str(token_file))
    wrong = "Bearer " + RW_TOKEN[::-1]
    with caplog.at_level(logging.WARNING, logger="datapack.security"):
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as ch:
            svc = SERVICES[0]
            for _ in range(30):
                assert call_rpc(ch, svc, svc.methods_by_name["ListTasks"], spb.ListTasksRequest(),
                             [("authorization", wrong)])[0] == "UNAUTHENTICATED"
    lines = [r.getMessage() for r in caplog.records if r.name == "datapack.security"]
    assert len(lines) == 20 and all("ListTasks (TOKEN_INVALID, no valid token) from ipv4:127.0.0.1:" in x
                                    for x in lines)
    assert not any(RW_TOKEN in x or RW_TOKEN[::-1] in x for x in lines)


# ---------------------------------------------------------------------- 20. TLS and mutual TLS


def test_tls_serves_tls_clients_only(start, pki):
    running = start(tls_cert=pki.server_cert, tls_key=pki.server_key)
    for target in (f"127.0.0.1:{running.port}", f"localhost:{running.port}"):  # both names are in the SAN
        with connect(target, "phase_c", root_certificates=pki.ca, timeout=10) as c:
            c.append(make_pack("tls-1"))
            assert c.get(TASK, "tls-1").pack_id == "tls-1"
    with open(pki.ca, "rb") as f:  # PEM bytes work as well as a path; so do ready credentials
        creds = grpc.ssl_channel_credentials(f.read())
    with connect(f"127.0.0.1:{running.port}", "phase_c", credentials=creds, timeout=10) as c:
        assert c.list_tasks() == [TASK]
    # A refused handshake is UNAVAILABLE; the deadline (DEADLINE_EXCEEDED) must not come first on a loaded machine.
    for client in (connect(f"127.0.0.1:{running.port}", "phase_c", timeout=scaled(5)),  # plaintext
                   connect(f"127.0.0.1:{running.port}", "phase_c", root_certificates=pki.rogue_ca,
                           timeout=scaled(5))):
        with client, pytest.raises(UnavailableError):
            client.list_tasks()


def test_mutual_tls_requires_a_client_certificate_from_the_ca(start, pki):
    running = start(tls_cert=pki.server_cert, tls_key=pki.server_key, tls_client_ca=pki.ca)
    target = f"127.0.0.1:{running.port}"
    with connect(target, "phase_c", root_certificates=pki.ca, client_cert=pki.client_cert,
                 client_key=pki.client_key, timeout=10) as c:
        c.append(make_pack("mtls-1"))
        assert c.get_statistics(TASK)["total"] == 1
    for kw in ({}, {"client_cert": pki.rogue_cert, "client_key": pki.rogue_key}):
        with connect(target, "phase_c", root_certificates=pki.ca, timeout=scaled(5), **kw) as c, \
                pytest.raises(UnavailableError):
            c.list_tasks()


def test_connect_security_options_are_checked(tmp_path, pki):
    empty = write_private(tmp_path / "empty", "# no token here\n\n")
    for kw, why in [({"token": RW_TOKEN, "token_file": str(empty)}, "not both"),
                    ({"token_file": str(empty)}, "holds no token"), ({"token": "two words"}, "visible ASCII"),
                    ({"token": "é" * 20}, "visible ASCII"), ({"client_cert": pki.client_cert}, "go together"),
                    ({"tls": True, "credentials": grpc.ssl_channel_credentials()}, "not both")]:
        with pytest.raises(ValueError, match=why):
            connect("127.0.0.1:1", **kw)


def test_server_refuses_unusable_security_files(data_root, tmp_path, pki, token_file):
    bad_key = write_private(tmp_path / "open.key", open(pki.server_key, "rb").read(), 0o644)
    not_pem = write_private(tmp_path / "x.crt", "hello")
    for kw, why in [({"tls_cert": pki.server_cert}, "go together"), ({"tls_client_ca": pki.ca}, "needs the server"),
                    ({"tls_cert": pki.server_cert, "tls_key": str(bad_key)}, "accessible to other users"),
                    ({"tls_cert": str(not_pem), "tls_key": pki.server_key}, "no PEM certificate"),
                    ({"tls_cert": pki.server_cert, "tls_key": pki.server_key, "tls_client_ca": str(not_pem)},
                     "no PEM certificate"),
                    ({"token_file": str(tmp_path / "missing")}, "cannot read")]:
        with pytest.raises(security.SecurityConfigError, match=why):
            build_server(ServerConfig(data_dir=str(data_root), port=0, exclusive=False, **kw))
    token_file.chmod(0o644)
    r = subprocess.run([sys.executable, "-m", "datapack_server", "serve", "--data-dir", str(data_root), "--port", "0",
                        "--token-file", str(token_file)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "chmod 600" in r.stderr


def test_serve_cli_with_mutual_tls_and_tokens_together(tmp_path, pki, token_file):
    proc = ServerProcess(tmp_path / "data", "--create", "--workers", "0", "--tls-cert", pki.server_cert, "--tls-key",
                         pki.server_key, "--tls-client-ca", pki.ca, "--token-file", str(token_file)).start()
    try:
        mtls = {"root_certificates": pki.ca, "client_cert": pki.client_cert, "client_key": pki.client_key}
        with connect(proc.target, "phase_c", token=RW_TOKEN, timeout=10, **mtls) as c:
            c.append_batch([make_pack("a"), make_pack("b")])
        with connect(proc.target, "phase_c", token=RO_TOKEN, timeout=10, **mtls) as c:
            assert c.get_statistics(TASK)["total"] == 2
            with pytest.raises(PermissionDeniedError):
                c.append(make_pack("c"))
        with connect(proc.target, "phase_c", timeout=10, **mtls) as c, pytest.raises(UnauthenticatedError):
            c.list_tasks()  # the certificate alone is not enough when tokens are configured
        with connect(proc.target, "phase_c", token=RW_TOKEN, root_certificates=pki.ca, timeout=scaled(5)) as c, \
                pytest.raises(UnavailableError):
            c.list_tasks()  # nor the token alone
    finally:
        assert proc.terminate() == 0


# ---------------------------------------------------------------------- 21. hostile names


def test_naming_rules_on_the_hostile_corpus():
    for name, what in HOSTILE:
        assert task_name_ok(name) == (name in ACCEPTED_TASK_NAMES), what
        assert store_ok(name) == (name in ACCEPTED_STORES), what
        assert pack_id_ok(name) == (name in PACK_IDS_ACCEPTED_ON_APPEND), what


def test_hostile_names_on_every_rpc_over_the_wire(tmp_path, token_file):
    """Every name of the corpus in every name-carrying argument of every RPC,
    against `datapack serve` at debug log level: a refused name gives
    INVALID_ARGUMENT (a pack id or baseline that is merely unknown may give
    NOT_FOUND or BASELINE_UNKNOWN), an accepted one OK or NOT_FOUND; nothing
    appears outside the data root and every log line (denied calls are logged
    too) is one well-formed record without control characters."""
    data = tmp_path / "data"
    data.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (data / "linked").symlink_to(outside, target_is_directory=True)
    before = tree_outside(tmp_path, data)
    absolute = [n for n, _ in HOSTILE if n.startswith("/") and "\x00" not in n and len(n) < 200]
    existed = {n: os.path.lexists(n) for n in absolute}
    proc = ServerProcess(data, "--workers", "0", "--no-fsync", "--log-level", "debug", "--log-format", "text",
                         "--token-file", str(token_file)).start()
    auth = [("authorization", "Bearer " + RW_TOKEN)]
    stderr: list[str] = []
    reader = threading.Thread(target=lambda: stderr.extend(proc.proc.stderr), daemon=True)
    reader.start()
    try:
        with grpc.insecure_channel(proc.target, options=channel_options()) as ch:
            calls, unexpected = sweep(ch, [n for n, _ in HOSTILE], auth)
            # A store folder that is a symbolic link out of the data root is not served.
            for svc, m in ALL_METHODS:
                if "store" in SLOTS[m.name]:
                    for store in ("linked", "linked/sub"):
                        code, reason, _ = call_rpc(ch, svc, m, request_for(m.name, store=store), auth)
                        if (code, reason) != ("FAILED_PRECONDITION", "STORE_OUTSIDE_DATA_DIR"):
                            unexpected.append((m.name, store, "symlinked store", code, reason))
            for _ in range(3):
                call_rpc(ch, *ALL_METHODS[0], request_for(ALL_METHODS[0][1].name), [("authorization", "Bearer x" * 3)])
    finally:
        assert proc.terminate() == 0
        reader.join(10)
    assert calls == len(HOSTILE) * sum(len(SLOTS[m.name]) for _, m in ALL_METHODS)
    assert unexpected == [], "\n".join(map(repr, unexpected))
    assert tree_outside(tmp_path, data) == before  # nothing created or grown outside the data root
    assert list(outside.iterdir()) == []
    assert {n: os.path.lexists(n) for n in absolute} == existed
    log = "".join(stderr)
    assert log.count("WARNING datapack.security: denied /datapack.v1.DataPackService/") == 3
    assert bad_log_lines(log) == []


def test_log_lines_cannot_be_forged():
    logger = logging.getLogger("datapack.test_security")
    records = []
    handler = logging.Handler()
    formatter = security.SafeFormatter("%(levelname)s %(name)s: %(message)s")
    handler.emit = lambda record: records.append(formatter.format(record))
    logger.addHandler(handler)
    try:
        hostile = "x\r\nERROR datapack.server: forged \x1b[2J\u202eevil"
        logger.warning("task %s refused", hostile)
        try:
            raise KeyError(hostile)
        except KeyError:
            logger.exception("unexpected error on %r", "a\nb")
    finally:
        logger.removeHandler(handler)
    first, second = records
    assert first == ("WARNING datapack.test_security: task x\\r\\nERROR datapack.server: forged \\x1b[2J\\u202eevil "
                     "refused")
    lines = second.split("\n")
    assert lines[0] == "ERROR datapack.test_security: unexpected error on 'a\\nb'"
    assert len(lines) > 2 and all(x.startswith("  | ") for x in lines[1:])
    assert lines[-1].startswith("  | KeyError: ") and "\\r\\nERROR" in lines[-1]
    assert not any(safe_text.UNSAFE_CHARACTERS.search(x) for x in lines)


def test_error_messages_echo_hostile_names_shortened(start):
    """A 70,000-character name is refused with its own status even by a client
    with gRPC's default limit on status trailers (8-16 KiB): errors echo names
    shortened, and an id no record can have is not copied into violations."""
    running = start()
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as ch:  # default metadata limits
        svc = SERVICES[0]
        long_name = "z" * 70_000
        for method, kw, expected in [
                ("QueryDataPacks", {"task": long_name}, ("INVALID_ARGUMENT", "TASK_NAME_INVALID")),
                ("ListTasks", {"store": long_name}, ("INVALID_ARGUMENT", "STORE_INVALID")),
                ("PutBaseline", {"baseline": long_name}, ("INVALID_ARGUMENT", "ARGUMENT_INVALID")),
                ("AppendDataPacksBatch", {"pack_id": long_name}, ("INVALID_ARGUMENT", "PACK_ID_INVALID")),
                ("GetDataPack", {"pack_id": long_name}, ("NOT_FOUND", "PACK_NOT_FOUND")),
                ("GetDataPackHistory", {"pack_id": long_name}, ("NOT_FOUND", "PACK_NOT_FOUND")),
                ("UpdateTrainingUsage", {"pack_id": long_name}, ("NOT_FOUND", "PACK_NOT_FOUND")),
                ("IngestEpisodes", {"baseline": long_name}, ("INVALID_ARGUMENT", "BASELINE_UNKNOWN"))]:
            if method in ("GetDataPack", "GetDataPackHistory", "UpdateTrainingUsage"):
                assert call_rpc(ch, svc, svc.methods_by_name["AppendDataPacksBatch"],
                                request_for("AppendDataPacksBatch", pack_id="known"))[0] in ("OK", "ALREADY_EXISTS")
            code, reason, _ = call_rpc(ch, svc, svc.methods_by_name[method], request_for(method, **kw))
            assert (code, reason) == expected, method


def test_store_symlink_inside_the_data_root_is_served(start, data_root):
    (data_root / "real").mkdir()
    (data_root / "alias").symlink_to(data_root / "real", target_is_directory=True)
    running = start()
    with connect(f"127.0.0.1:{running.port}", "alias", timeout=10) as c:
        c.append(make_pack("via-alias"))
    assert (data_root / "real" / f"{TASK}_datapacks.jsonl").exists()


def test_pack_id_rule_on_append_is_the_same_embedded_and_remote(repo):
    for bad in ("x\ny", "\u202eevil", "a\u200bb", "z" * 257):
        with pytest.raises(DataPackError) as exc:
            repo.append(make_pack(bad))
        assert exc.value.reason == "PACK_ID_INVALID"
    assert repo.append(make_pack("../../etc/passwd")).status == "created"  # a key, never a path
    assert repo.get_statistics(TASK)["total"] == 1



def test_portable_export_reads_raw_data_only_under_the_raw_roots(start, tmp_path):
    """Records name their raw data; with raw_roots (`--raw-root`) a server
    reads none outside them: not a path, not a file a metadata.json names,
    not through a symbolic link. Without, the same records export."""
    from datapack_server.portable.synthetic_raw import write_raw_episode
    raw, secret = tmp_path / "raw", tmp_path / "secret"
    outside_dir = write_raw_episode(secret, "dir", seed=2)
    outside_npz = write_raw_episode(secret, "npz", seed=3, layout="npz")
    sneaky = raw / "sneaky"
    sneaky.mkdir(parents=True)
    (sneaky / "metadata.json").write_text(json.dumps({"rgb_video_path": f"{outside_dir}/rgb.npz",
                                                      "scene_tracks_path": f"{outside_dir}/tracks.npz", "fps": 10}))
    (raw / "link.npz").symlink_to(outside_npz)
    paths = {"ok": write_raw_episode(raw, "ok", seed=1), "dir": outside_dir, "npz": outside_npz,
             "sneaky": str(sneaky), "link": str(raw / "link.npz"), "relative": os.path.relpath(outside_npz)}
    confined, open_ = start(raw_roots=(str(raw),)), start()
    for running, store, exported in ((confined, "confined", 1), (open_, "open", 6)):
        with connect(f"127.0.0.1:{running.port}", store, token=None, timeout=20) as c:
            c.append_batch([make_pack(pid, raw_data_path=path) for pid, path in paths.items()])
            s = c.export_portable(TASK)
            assert (s["exported"], s["skipped_missing_inputs"]) == (exported, 6 - exported), store
            assert c.get(TASK, "ok").schema_version == "2.1-portable"
            assert (c.get(TASK, "sneaky").schema_version == "2.1-portable") == (store == "open")


def test_start_up_warns_about_network_exposure():
    def warnings(**kw):
        return " | ".join(security.exposure_warnings(ServerConfig(**kw)))
    assert warnings() == warnings(host="::1") == ""  # loopback
    exposed = warnings(host="0.0.0.0")
    assert "without authentication" in exposed and "without TLS" in exposed and "--raw-root" in exposed
    assert warnings(host="10.0.0.5", token_file="t", tls_cert="c", tls_key="k", raw_roots=("/raw",)) == ""
    assert "tokens cross the network" not in warnings(host="10.0.0.5", tls_client_ca="ca", tls_cert="c", tls_key="k")
    assert "and tokens cross the network in clear text" in warnings(host="10.0.0.5", token_file="t")
