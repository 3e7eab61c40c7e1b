"""Faults and limits: a full disk, a read-only or immutable data directory,
oversized messages, deadlines and cancelled calls, a stalled writer.

Real-filesystem variants (a 1 MiB tmpfs, a read-only bind mount, `chattr +i`)
need root and mount rights and are skipped with the reason otherwise; each has
an injected twin (os.write / os.open / os.mkdir replaced in-process) that
always runs."""
from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import threading
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from datapack_client import connect
from datapack_client.errors import ResourceExhaustedError
from datapack_client.client import record_to_message
from datapack_client.proto.datapack.v1 import datapack_service_pb2 as spb
from datapack_client.proto.datapack.v1 import datapack_service_pb2_grpc as spb_grpc
from datapack_server import DataPackRepo
from datapack_server.cli import main as cli
from datapack_server.api.app import WRITE_HEALTH_NAME, ServerConfig, build_server
from datapack_server.portable import exporter
from datapack_server.service.facade import DataPackService
from datapack_server.engine.store import Store
from datapack_server.service.space import WriteWatch

from .conftest import STORE, make_pack, scaled
from .test_ingest_flows import drawer_episode, econ

TASK = "drawer_vase"
TASK_FILE = f"{TASK}_datapacks.jsonl"
SERVICE = "datapack.v1.DataPackService"
SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING


def health(port: int, name: str) -> int:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        return health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=name),
                                                    timeout=scaled(10)).status


def wait_health(port: int, name: str, want: int, timeout: float = 10.0) -> float:
    """Seconds until `name` reports `want` (fails after timeout, scaled for the load)."""
    t0 = time.monotonic()
    timeout = scaled(timeout)
    while time.monotonic() - t0 < timeout:
        if health(port, name) == want:
            return time.monotonic() - t0
        time.sleep(0.05)
    raise AssertionError(f"health {name!r} not {want} within {timeout}s")


def wait_until(cond, timeout: float = 10.0, what: str = "condition") -> None:
    """Poll `cond` until true (fails after timeout, scaled for the load)."""
    t0 = time.monotonic()
    timeout = scaled(timeout)
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(0.02)


def whole_lines(path) -> list[str]:
    """The pack ids of a task file, asserting it holds only whole JSON lines."""
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), "a partial line was left at the end"
    return [json.loads(line)["pack_id"] for line in data.split(b"\n")[:-1]]


# ---------------------------------------------------------------- 7. disk full

class DiskBudget:
    """os.write for files under `root` as on a disk with `left` free bytes
    (None: unlimited): a write beyond it is cut short and the next one fails
    with ENOSPC, like a real filesystem filling up mid-write."""

    def __init__(self, root):
        self.root = str(root)
        self.left: int | None = None
        self._write = os.write

    def __call__(self, fd, data):
        if self.left is not None:
            try:
                path = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                path = ""
            if path.startswith(self.root):
                if self.left <= 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                n = self._write(fd, memoryview(data)[: self.left])
                self.left -= n
                return n
        return self._write(fd, data)


def test_disk_full_injected_enospc(data_root, server, client, monkeypatch):
    """ENOSPC injected into os.write (cut-short writes included): the first
    pack that cannot be made durable is RESOURCE_EXHAUSTED (STORE_FULL), never
    OK, on the unary and the stream path; the write health turns NOT_SERVING
    while reads stay served; once space is back (a probe write succeeds) it is
    SERVING again and appends resume. Nothing acknowledged is lost and no
    partial line is left."""
    disk = DiskBudget(data_root)
    monkeypatch.setattr(os, "write", disk)
    probed = threading.Event()  # set after each space probe
    real_probe = WriteWatch._probe
    monkeypatch.setattr(WriteWatch, "_probe", lambda self, pending: (real_probe(self, pending), probed.set())[0])
    acked = [r.pack_id for r in client.append_batch([make_pack(f"a{i}") for i in range(20)])]
    assert health(server.port, WRITE_HEALTH_NAME) == SERVING
    disk.left = 3 * 2300 + 700  # room for about three more lines, then a cut-short write
    refused = None
    for i in range(50):
        try:
            acked.append(client.append(make_pack(f"b{i}")).pack_id)
        except ResourceExhaustedError as err:
            assert err.reason == "STORE_FULL"
            refused = f"b{i}"
            break
    assert refused is not None and 1 <= len(acked) - 20 <= 4
    wait_health(server.port, WRITE_HEALTH_NAME, NOT_SERVING, timeout=5)
    assert health(server.port, "") == SERVING and health(server.port, SERVICE) == SERVING  # reads available
    assert sorted(p.pack_id for p in client.load_all(TASK)) == sorted(acked)
    with pytest.raises(ResourceExhaustedError) as exc:
        with client.stream_appender(batch_size=5, max_in_flight=2) as s:
            for i in range(40):
                s.append(make_pack(f"s{i}"))
    assert exc.value.reason == "STORE_FULL"
    assert s.results == []  # no batch of the stream was acknowledged
    assert whole_lines(data_root / STORE / TASK_FILE) == acked
    probed.clear()
    wait_until(probed.is_set, 10, "a space probe")  # one ran while the disk was still full
    assert health(server.port, WRITE_HEALTH_NAME) == NOT_SERVING
    disk.left = None  # space freed
    wait_health(server.port, WRITE_HEALTH_NAME, SERVING, timeout=10)
    assert client.append(make_pack(refused)).status == "created"
    acked.append(refused)
    assert whole_lines(data_root / STORE / TASK_FILE) == acked
    assert sorted(p.pack_id for p in client.load_all(TASK)) == sorted(acked)


@pytest.fixture
def tmpfs_1m(tmp_path):
    """A real 1 MiB tmpfs (root and mount rights needed)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _fill(path, leave: int) -> None:
    """Fill the filesystem of `path` with one file, then give back `leave` bytes."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        block = b"\0" * (64 << 10)
        while True:
            try:
                if os.write(fd, block) == 0:
                    break
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
        os.ftruncate(fd, max(0, os.fstat(fd).st_size - leave))
    finally:
        os.close(fd)


def test_disk_full_real_tmpfs(tmpfs_1m):
    """The same on a real 1 MiB tmpfs: batches are appended until the disk is
    full; the refused batch is RESOURCE_EXHAUSTED and wholly absent; after the
    filler file is deleted the write health returns and the batch goes in."""
    data = tmpfs_1m / "data"
    data.mkdir()
    running = build_server(ServerConfig(data_dir=str(data), port=0, max_workers=8))
    c = connect(f"127.0.0.1:{running.port}", store=STORE, timeout=20)
    try:
        c.append(make_pack("first"))  # creates the store's files before the disk fills
        filler = tmpfs_1m / "filler"
        _fill(filler, leave=40 << 10)
        acked, refused = ["first"], None
        for b in range(100):
            batch = [make_pack(f"t{b}-{i}") for i in range(4)]
            try:
                acked += [r.pack_id for r in c.append_batch(batch)]
            except ResourceExhaustedError as err:
                assert err.reason == "STORE_FULL"
                refused = batch
                break
        assert refused is not None and len(acked) > 1
        wait_health(running.port, WRITE_HEALTH_NAME, NOT_SERVING, timeout=5)
        assert health(running.port, SERVICE) == SERVING
        assert whole_lines(data / STORE / TASK_FILE) == acked
        filler.unlink()
        wait_health(running.port, WRITE_HEALTH_NAME, SERVING, timeout=10)
        acked += [r.pack_id for r in c.append_batch(refused)]
        assert whole_lines(data / STORE / TASK_FILE) == acked
        assert c.get_statistics(TASK)["total"] == len(acked)
    finally:
        c.close()
        running.stop(0)


# ------------------------------------------------ 9. read-only / immutable data directory

def _small_store(data):
    DataPackRepo(str(data / STORE), create=True).append_batch([make_pack(f"r{i}") for i in range(5)])
    return (data / STORE / TASK_FILE).read_bytes()


def _serve_once(data) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "datapack_server", "serve", "--data-dir", str(data), "--port", "0",
                           "--workers", "0"], capture_output=True, text=True, timeout=60)


def test_read_only_bind_mount_refused_at_start(tmp_path):
    """A real read-only bind mount over the data directory: `datapack serve`
    exits 1 at once with a message naming the directory; nothing changed."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a read-only bind mount needs root and mount(8)")
    data = tmp_path / "data"
    data.mkdir()
    before = _small_store(data)
    r = subprocess.run(["mount", "--bind", str(data), str(data)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"bind mounts are not permitted here: {r.stderr.strip()}")
    try:
        r = subprocess.run(["mount", "-o", "remount,ro,bind", str(data)], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"read-only remounts are not permitted here: {r.stderr.strip()}")
        t0 = time.monotonic()
        proc = _serve_once(data)
        assert proc.returncode == 1, proc.stderr
        assert time.monotonic() - t0 < 30
        assert str(data) in proc.stderr and "not writable" in proc.stderr
        assert "Read-only file system" in proc.stderr
        assert "serving on" not in proc.stdout
    finally:
        subprocess.run(["umount", "-l", str(data)], capture_output=True)
    assert (data / STORE / TASK_FILE).read_bytes() == before


def test_immutable_task_file_refused_at_start(tmp_path):
    """`chattr +i` on a task file (root ignores permissions, not the immutable
    flag): start-up fails naming the file, instead of failing appends later."""
    if os.geteuid() != 0 or shutil.which("chattr") is None:
        pytest.skip("chattr +i needs root and chattr(1)")
    data = tmp_path / "data"
    data.mkdir()
    before = _small_store(data)
    path = data / STORE / TASK_FILE
    r = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"this filesystem has no immutable flag: {r.stderr.strip()}")
    try:
        proc = _serve_once(data)
    finally:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    assert proc.returncode == 1, proc.stderr
    assert str(path) in proc.stderr and "not writable" in proc.stderr
    assert path.read_bytes() == before


def test_read_only_data_dir_injected_erofs(tmp_path, monkeypatch, capsys):
    """Injected twin of the read-only mount (runs everywhere): every open for
    writing and every mkdir under the data directory fails with EROFS, as on a
    read-only mount, and access(W_OK) says no. `datapack serve` (in-process)
    returns 1 with a message naming the directory; nothing was written."""
    data = tmp_path / "data"
    data.mkdir()
    before = _small_store(data)
    root = str(data)
    real_open, real_mkdir, real_access = os.open, os.mkdir, os.access
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def ro_open(path, flags, *a, **k):
        if str(path).startswith(root) and flags & writing:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *a, **k)

    def ro_mkdir(path, *a, **k):
        if str(path).startswith(root):
            if os.path.isdir(path):
                raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path))
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_mkdir(path, *a, **k)

    def ro_access(path, mode, *a, **k):
        if str(path).startswith(root) and mode & os.W_OK:
            return False
        return real_access(path, mode, *a, **k)

    monkeypatch.setattr(os, "open", ro_open)
    monkeypatch.setattr(os, "mkdir", ro_mkdir)
    monkeypatch.setattr(os, "access", ro_access)
    assert cli.main(["serve", "--data-dir", root, "--port", "0", "--workers", "0"]) == 1
    err = capsys.readouterr().err
    assert root in err and "not writable" in err and "Read-only file system" in err
    monkeypatch.undo()
    assert (data / STORE / TASK_FILE).read_bytes() == before
    assert not (data / ".datapack").exists()


# ---------------------------------------------------------------- 12. oversized messages

def test_oversized_messages_resource_exhausted_and_channel_survives(data_root):
    """With a 128 KiB limit: a request beyond it is RESOURCE_EXHAUSTED (unary
    and stream), nothing of it is written, and the next call on the same
    channel succeeds; streamed results are split to fit the limit."""
    limit = 128 << 10
    running = build_server(ServerConfig(data_dir=str(data_root), port=0, max_message_bytes=limit))
    c = connect(f"127.0.0.1:{running.port}", store=STORE, timeout=20)
    try:
        big = [make_pack(f"big{i}") for i in range(600)]  # ~300 KB on the wire
        assert sum(record_to_message(p).ByteSize() for p in big) > limit
        with pytest.raises(ResourceExhaustedError):
            c.append_batch(big)
        assert c.append(make_pack("small")).status == "created"  # same channel
        with pytest.raises(ResourceExhaustedError):
            # One batch of 600 however slowly they are appended: no partial batch leaves on the linger timer.
            with c.stream_appender(batch_size=600, linger=3600) as s:
                for p in big:
                    s.append(p)
        assert c.get("drawer_vase", "small").pack_id == "small"
        for i in range(0, 600, 150):  # the same packs in batches under the limit
            c.append_batch(big[i:i + 150])
        stub = spb_grpc.DataPackServiceStub(c._channel)
        sizes = [m.ByteSize() for m in stub.QueryDataPacks(
            spb.QueryDataPacksRequest(store=STORE, task_name=TASK, unlimited=True), timeout=20)]
        assert len(sizes) > 1 and max(sizes) <= limit
        assert len(c.load_all(TASK)) == 601
    finally:
        c.close()
        running.stop(0)


# ---------------------------------------------------------------- 13. deadlines, cancellation

class _Recorder(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    def __init__(self):
        self.timeouts: dict[str, set] = {}

    def _note(self, details):
        self.timeouts.setdefault(details.method.rsplit("/", 1)[-1], set()).add(details.timeout)

    def intercept_unary_unary(self, continuation, details, request):
        self._note(details)
        return continuation(details, request)

    def intercept_unary_stream(self, continuation, details, request):
        self._note(details)
        return continuation(details, request)

    def intercept_stream_unary(self, continuation, details, request_iterator):
        self._note(details)
        return continuation(details, request_iterator)

    def intercept_stream_stream(self, continuation, details, request_iterator):
        self._note(details)
        return continuation(details, request_iterator)


def test_client_sets_a_deadline_on_every_call(server):
    """Every call of the client library carries a deadline except the two
    documented long-lived streams: the append stream (lives as long as the
    simulator; keepalive detects a dead server) and the portable export
    (minutes of streamed progress)."""
    from datapack_client import DataPackClient, SkillDataPackAdapter
    rec = _Recorder()
    channel = grpc.intercept_channel(grpc.insecure_channel(f"127.0.0.1:{server.port}"), rec)
    c = DataPackClient(f"127.0.0.1:{server.port}", STORE, timeout=20, channel=channel)
    c.append(make_pack("d0"))
    c.append_batch([make_pack("d1", delta_j=-1.0)])
    with c.stream_appender(batch_size=2) as s:
        s.append(make_pack("d2"))
    c.query(TASK, limit=5)
    c.load_all(TASK)
    c.get(TASK, "d0")
    c.get_history(TASK, "d0")
    c.get_statistics(TASK)
    c.list_tasks()
    c.put_baseline("b1", {"mpl": 10.0, "error": 0.05, "ep": 2.0})
    c.list_baselines()
    c.update_training_usage(TASK, ["d0"], wm_role="wm_train")
    c.export_portable(TASK)
    c.ingest_episodes([drawer_episode(0)], econ(), {"mpl": 10.0, "error": 0.05, "ep": 2.0})
    adapter = SkillDataPackAdapter(c)
    adapter.get_skill_statistics(TASK, 1)
    adapter.query_by_attribution_ranges(TASK)
    adapter.generate_skill_curriculum(TASK, 1)
    c.close()
    without = {m for m, ts in rec.timeouts.items() if None in ts}
    assert without == {"AppendDataPacks", "ExportPortable"}, rec.timeouts
    assert len(rec.timeouts) >= 15
    assert all(t <= 400 for ts in rec.timeouts.values() for t in ts if t is not None)


@pytest.mark.parametrize("how", ["cancel", "deadline"])
def test_query_stops_when_the_client_is_gone(server, client, monkeypatch, how):
    """A client that cancels (or whose deadline passes) after the first message
    of a 4000-pack query: the server stops encoding records soon after, far
    from the whole result, and its call ends. Clock-free: past its first two
    messages the server's encoding waits until the client is gone, so neither
    a slow server nor a slow client changes what is checked."""
    total = 4000
    for i in range(0, total, 1000):
        client.append_batch([make_pack(f"q{j}") for j in range(i, i + 1000)])
    encoded = []
    client_gone = threading.Event()
    real = DataPackService._encoded

    def held_encoded(self, st, ref, basic=False):
        encoded.append(1)
        if len(encoded) > 2 * 256:  # two messages of QUERY_CHUNK_RECORDS
            client_gone.wait(scaled(60))
        return real(self, st, ref, basic)

    monkeypatch.setattr(DataPackService, "_encoded", held_encoded)
    stub = spb_grpc.DataPackServiceStub(client._channel)
    # The deadline only has to outlast the first message (a few ms idle); then it passes while the server waits.
    call = stub.QueryDataPacks(spb.QueryDataPacksRequest(store=STORE, task_name=TASK, unlimited=True),
                               timeout=30 if how == "cancel" else scaled(2))
    try:
        next(call)
        if how == "cancel":
            call.cancel()
        else:
            with pytest.raises(grpc.RpcError) as exc:
                for _ in call:
                    pass
            assert exc.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    finally:
        client_gone.set()
    wait_until(lambda: server.gate.active == 0, 10, "the server call ending")
    done = len(encoded)
    time.sleep(0.3)  # nothing more is encoded (a slow machine can only hide a failure here, not make one)
    assert len(encoded) == done < total // 2, (done, total)


def test_export_stops_between_batches_when_the_client_cancels(server, client, monkeypatch):
    """ExportPortable cancelled after its first progress message: the export
    stops between batches (of 64), far from the 2000 packs of the task.
    Clock-free: the batches after the first two wait until the call is
    cancelled, so a slow client cannot let the export run on."""
    total = 2000
    client.append_batch([make_pack(f"e{i}") for i in range(total)])
    processed = []
    cancelled = threading.Event()
    real = exporter._compute

    def held_compute(records, *a, **k):
        processed.append(len(records))
        if len(processed) > 2:
            cancelled.wait(scaled(60))
        return real(records, *a, **k)

    monkeypatch.setattr(exporter, "_compute", held_compute)
    stub = spb_grpc.DataPackServiceStub(client._channel)
    call = stub.ExportPortable(spb.ExportPortableRequest(store=STORE, task_name=TASK), timeout=scaled(60))
    try:
        first = next(call)
        assert 0 < first.processed < total and not first.done
        call.cancel()
    finally:
        cancelled.set()
    wait_until(lambda: server.gate.active == 0, 10, "the export call ending")
    done = sum(processed)
    time.sleep(0.3)
    assert sum(processed) == done <= 64 * 8, (done, total)


# ---------------------------------------------------------------- 14. backpressure

def _settles(counts: list[int], quiet: float, timeout: float) -> bool:
    """Whether `counts` (updated by other threads), once all are above 0,
    stops changing for `quiet` seconds within `timeout` (both scaled for the
    load): a sender that keeps going never settles, a slow machine only takes
    longer to."""
    quiet, end = scaled(quiet), time.monotonic() + scaled(timeout)
    last, since = list(counts), time.monotonic()
    while time.monotonic() < end:
        time.sleep(0.05)
        if counts != last:
            last, since = list(counts), time.monotonic()
        elif min(counts) > 0 and time.monotonic() - since >= quiet:
            return True
    return False


def test_stalled_writer_blocks_streaming_clients(server, monkeypatch):
    """8 clients stream as fast as they can into a writer that does not commit
    (the group commit blocked) until the senders settle (no stream sends for
    1.5 s, scaled for the load): the server takes one batch per stream
    and no more, the clients' senders block (gRPC flow control, about 1 MB per
    stream in flight) instead of the server buffering; after the writer
    resumes the server is healthy and appends work. (RSS is measured by
    `python -m reliability.backpressure`: here clients share the process.)"""
    release = threading.Event()
    real_commit = Store._commit
    monkeypatch.setattr(Store, "_commit",
                        lambda self, items: (release.wait(scaled(120)), real_commit(self, items))[1])
    taken = []
    real_append = DataPackService.append
    monkeypatch.setattr(DataPackService, "append",
                        lambda self, *a, **k: taken.append(1) or real_append(self, *a, **k))
    template = [record_to_message(make_pack(f"x{i}")) for i in range(32)]
    batch_bytes = len(spb.AppendDataPacksRequest(store=STORE, data_packs=template).SerializeToString())
    pulled = [0] * 8
    stop = threading.Event()
    calls = []

    def requests(k):
        n = 0
        while not stop.is_set() and n < 100_000:
            n += 1
            for i, m in enumerate(template):
                m.pack_id = f"w{k}-{n}-{i}"
            pulled[k] += 1
            yield spb.AppendDataPacksRequest(store=STORE, data_packs=template, writer_id=f"w{k}", batch_sequence=n)

    channels = [grpc.insecure_channel(f"127.0.0.1:{server.port}") for _ in range(8)]

    def stream(k):
        call = spb_grpc.DataPackServiceStub(channels[k]).AppendDataPacks(requests(k), timeout=60)
        calls.append(call)
        try:
            for _ in call:
                pass
        except grpc.RpcError:
            pass

    threads = [threading.Thread(target=stream, args=(k,), daemon=True) for k in range(8)]
    try:
        for t in threads:
            t.start()
        assert _settles(pulled, quiet=1.5, timeout=30), f"a client kept sending into a stalled writer: {pulled}"
        assert len(taken) <= 8
        # ~1 MB a stream gets past the client (the server's fixed 1 MiB receive
        # window plus socket buffers); ~4 MB with a window grown by BDP probing.
        assert max(pulled) * batch_bytes < 3 << 20, (pulled, batch_bytes)
    finally:
        stop.set()
        for call in calls:
            call.cancel()
        release.set()
        for t in threads:
            t.join(10)
        for ch in channels:
            ch.close()
    wait_until(lambda: server.gate.active == 0, 10, "the stream calls ending")
    c = connect(f"127.0.0.1:{server.port}", store=STORE, timeout=20)
    try:
        assert c.append(make_pack("after-stall")).status == "created"
    finally:
        c.close()
