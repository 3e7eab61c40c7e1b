"""Packaging: the wheel's metadata and contents, the thin-client install (no
numpy, no server modules), the console script's message without the server
extra, `datapack health`, and the Dockerfile's essentials."""
from __future__ import annotations

import email
import json
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import zipfile

import pytest

from datapack_server.cli import main as cli

from datapack_server.cli import health as health_cli
from datapack_server.api.app import ServerConfig, build_server

from .conftest import ROOT, STORE

THIN_CLIENT_REQUIRES = {"grpcio==1.85.1", "protobuf==7.36.2", "grpcio-status==1.85.1", "orjson==3.13.0"}
SERVER_ONLY = ("numpy", "grpc_health", "grpc_reflection", "datapack_server", "matplotlib", "pyarrow", "pandas",
               "prometheus_client")


def blocking(modules, body: str) -> str:
    """A script that runs `body` with `modules` made unimportable, as on an
    install without them."""
    return textwrap.dedent(f"""
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {tuple(modules)!r}:
                    raise ModuleNotFoundError(f"No module named {{name!r}} (blocked)", name=name)

        sys.meta_path.insert(0, Block())
    """) + textwrap.dedent(body)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    """`pip wheel` of a copy of the sources (an in-tree build would write
    build/ and egg-info into the shared checkout), offline: no build isolation."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    for name in ("client", "server"):
        shutil.copytree(ROOT / name, src / name, ignore=skip)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
                           "--no-index", "-q", "-w", str(tmp / "dist")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    (path,) = (tmp / "dist").glob("datapack-*.whl")
    with zipfile.ZipFile(path) as zf:
        yield zf


def test_wheel_metadata_thin_base_and_server_extra(wheel):
    (meta_name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    meta = email.message_from_bytes(wheel.read(meta_name))
    requires = meta.get_all("Requires-Dist")
    base = {r for r in requires if ";" not in r}
    assert base == THIN_CLIENT_REQUIRES
    by_extra: dict = {}
    for r in requires:
        if ";" in r:
            req, marker = (s.strip() for s in r.split(";", 1))
            by_extra.setdefault(marker.split("==")[1].strip(" \"'"), set()).add(req.replace(" ", ""))
    assert {"numpy==2.4.6", "grpcio-health-checking==1.85.1", "grpcio-reflection==1.85.1"} <= by_extra["server"]
    assert "matplotlib==3.11.2" in by_extra["report"] and "datapack[server]" in by_extra["report"]
    assert "prometheus-client==0.26.0" in by_extra["metrics"] and "datapack[server]" in by_extra["metrics"]
    (dev_self,) = [re.fullmatch(r"datapack\[([a-z,]+)\]", r) for r in by_extra["dev"] if r.startswith("datapack[")]
    assert {"server", "export", "metrics", "report"} <= set(dev_self.group(1).split(","))
    assert {"server", "export", "metrics", "report", "dev"} <= set(meta.get_all("Provides-Extra"))

    (entry_name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    entries = wheel.read(entry_name).decode()
    assert re.search(r"^\[console_scripts\]\s*\ndatapack = datapack_server\.launcher:main$", entries, re.M)


def test_wheel_holds_the_generated_protos_and_format_md(wheel):
    names = set(wheel.namelist())
    generated = sorted(p.relative_to(ROOT / "client").as_posix()
                       for p in (ROOT / "client" / "datapack_client" / "proto").rglob("*")
                       if p.suffix in (".py", ".pyi"))
    assert any(g.endswith("datapack_service_pb2_grpc.py") for g in generated)
    assert [g for g in generated if g not in names] == []
    assert {"datapack_server/storage/FORMAT.md", "datapack_client/py.typed", "datapack_server/cli/report.py",
            "datapack_server/launcher.py"} <= names
    assert not [n for n in names if "__pycache__" in n or n.startswith(("tests/", "bench/"))]


@pytest.fixture
def server(data_root):
    running = build_server(ServerConfig(data_dir=str(data_root), port=0, max_workers=8, workers=0))
    yield running
    running.stop(0)


def test_thin_client_appends_queries_and_analyses_without_numpy(server):
    body = f"""
        import json
        from datapack_client import DataPackMeta, SkillDataPackAdapter, connect

        with connect("127.0.0.1:{server.port}", store={STORE!r}, timeout=20) as repo:
            dp = DataPackMeta(pack_id="thin-1", task_name="drawer_vase", bucket="positive",
                              skill_trace=[{{"t": 0, "skill_id": 3, "params": {{}}, "duration": 20}}])
            dp.attribution.delta_J, dp.attribution.trust_score = 0.8, 0.95
            created = repo.append(dp).status
            with repo.stream_appender(batch_size=4) as s:
                s.append(DataPackMeta.from_dict(dict(dp.to_dict(), pack_id="thin-2")))
            got = [p.pack_id for p in repo.query("drawer_vase", sort_by="delta_j", limit=None)]
            matrix = SkillDataPackAdapter(repo).compute_skill_value_matrix("drawer_vase")
            print(json.dumps({{"created": created, "ids": sorted(got), "total": repo.get_statistics("drawer_vase")["total"],
                               "packs_per_skill": dict(zip(matrix.skill_ids, map(sum, matrix.counts))),
                               "loaded": sorted(m for m in {SERVER_ONLY!r} if m in sys.modules)}}))
    """
    proc = subprocess.run([sys.executable, "-c", blocking(SERVER_ONLY, body)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result == {"created": "created", "ids": ["thin-1", "thin-2"], "total": 2, "loaded": [],
                      "packs_per_skill": {"0": 0, "1": 0, "2": 0, "3": 2, "4": 0, "5": 0}}


def test_console_script_without_server_extra_names_it(tmp_path):
    body = f"""
        from datapack_server.launcher import main
        sys.exit(main(["verify", "--data-dir", {str(tmp_path)!r}]))
    """
    proc = subprocess.run([sys.executable, "-c", blocking(("numpy",), body)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("datapack: this command needs the server dependencies (numpy is missing); "
                                   "install them with: pip install 'datapack[server]'")


def test_health_reports_serving_unknown_and_unreachable(server, capsys):
    assert cli.main(["health", "--target", f"127.0.0.1:{server.port}"]) == 0
    assert capsys.readouterr().out.strip().endswith("(server): SERVING")
    assert cli.main(["health", "--target", f"127.0.0.1:{server.port}", "--service", "no.such.Service"]) == 1
    assert capsys.readouterr().out.strip().endswith("SERVICE_UNKNOWN")
    assert health_cli.check(f"127.0.0.1:{server.port}", "datapack.v1.DataPackService/write") == "SERVING"
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    assert cli.main(["health", "--target", f"127.0.0.1:{closed_port}", "--timeout", "1", "--quiet"]) == 1
    assert capsys.readouterr().out == ""


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text()
    logical, current = [], ""
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        logical.append(current.strip())
        current = ""
    return [(s.split(None, 1)[0].upper(), s.split(None, 1)[1] if " " in s else "") for s in logical]


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(a, str) for a in value)
    return value


def test_dockerfile_essentials():
    ins = dockerfile_instructions()
    kinds = [k for k, _ in ins]
    assert ins[0] == ("FROM", "python:3.11-slim")
    install = " ".join(a for k, a in ins if k == "RUN" and "pip install" in a)
    assert "[server" in install
    users = [a for k, a in ins if k == "USER"]
    assert users and users[-1] not in ("root", "0") and not users[-1].startswith(("root:", "0:"))
    # Everything from the last USER on runs unprivileged, including the server.
    assert kinds.index("USER") < kinds.index("CMD") and kinds.index("USER") < kinds.index("HEALTHCHECK")
    ports = {p for k, a in ins if k == "EXPOSE" for p in a.split()}
    assert exec_form(dict(ins)["VOLUME"]) == ["/data"]

    entrypoint = exec_form(dict(ins)["ENTRYPOINT"])
    assert entrypoint == ["datapack"]
    serve = cli.build_parser().parse_args(exec_form(dict(ins)["CMD"]))
    assert serve.func.__name__ == "_serve"
    assert (serve.host, serve.data_dir, str(serve.port)) == ("0.0.0.0", "/data", "50051")
    assert {"50051", str(getattr(serve, "metrics_port", None))} <= ports

    health = dict(ins)["HEALTHCHECK"]
    options, _, command = health.partition(" CMD ")
    assert "--start-period" in options and "--interval" in options
    probe = exec_form(command)
    assert probe[0] == "datapack"
    args = cli.build_parser().parse_args(probe[1:])
    assert args.func is health_cli.run and args.target == f"127.0.0.1:{serve.port}"

    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "data"} <= set(ignored)

