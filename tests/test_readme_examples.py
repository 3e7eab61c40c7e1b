"""The README's examples run as written on the sample data.

Python: every ```python block, in order and in one namespace (a later block uses the `repo` of an
earlier one), against a real server started on a copy of the sample data; only the address differs
(`localhost:50051` becomes the server's port-0 address). A block that cannot run here (it needs
certificates, a remote host, ...) says so in its fence: ```python not-run.

Shell: every command line of the ```bash blocks (continuations joined, comments dropped, optional
`[...]` groups left out) runs in a folder whose `data/` is a copy of the sample data, with the same
address substitution. Every command is either run or listed below with the reason it is not, so a new
example cannot be skipped silently.
"""
from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass

import pytest

from datapack_server.api.app import ServerConfig, build_server
from datapack_server.service.file_validation import validate_file

from .sample_data import ROOT, TASK, copy_sample_data

README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.M | re.S)
ADDRESSES = ("localhost:50051", "127.0.0.1:50051")
COMMAND_TIMEOUT_S = 600
NOT_RUN = "not-run"
OPTIONAL = r"\[[^\[\]]*\]"  # an optional group of a synopsis line

# Shell lines not run here, by program or by `datapack` verb, and why.
NOT_RUN_PROGRAMS = {
    "make": "the developer verbs themselves (`make test` runs this test)",
    "curl": "needs `serve --metrics-port`: tests/test_metrics.py",
    "sudo": "a deployment with certificates and a system user: tests/test_security.py",
}
NOT_RUN_VERBS = {
    "serve": "the test's own server is one, started on the same copy",
    "sim": "minutes of physics: tests/test_sim.py runs the simulator",
}
MUST_RUN_VERBS = {"build", "export-portable", "verify", "query", "stats", "validate", "import", "export", "report",
                  "health"}


@dataclass
class Block:
    language: str
    info: list[str]
    code: str
    line: int  # of the block's first code line in README.md


def readme_blocks() -> list[Block]:
    text = README.read_text(encoding="utf-8")
    return [Block(m.group(1), m.group(2).split(), m.group(3), text.count("\n", 0, m.start(3)) + 1)
            for m in FENCE.finditer(text)]


def with_target(code: str, target: str) -> str:
    for address in ADDRESSES:
        code = code.replace(address, target)
    return code


@dataclass
class Command:
    text: str
    line: int

    @property
    def program(self) -> str:
        return self.text.split()[0]

    @property
    def verb(self) -> str | None:
        words = self.text.split()
        return words[1] if self.program == "datapack" and len(words) > 1 else None


def shell_commands(block: Block) -> list[Command]:
    """The block's command lines: continuations joined, `# ...` comments and `[...]` optional groups dropped."""
    commands, pending, start = [], "", 0
    for offset, raw in enumerate(block.code.splitlines()):
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not pending:
            start = block.line + offset
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text = pending + line
        while re.search(OPTIONAL, text):  # innermost first: `[--data-dir DIR [--create]]`
            text = re.sub(r"\s*" + OPTIONAL, "", text)
        text, pending = text.strip(), ""
        if text:
            commands.append(Command(" ".join(text.split()), start))
    return commands


@pytest.fixture
def sample_server(tmp_path_factory, tmp_path):
    """(work folder whose data/ is a copy of the sample data, server target on that copy)."""
    copy_sample_data(tmp_path_factory, tmp_path / "data")
    (tmp_path / "tests").symlink_to(ROOT / "tests")  # the README imports tests/fixtures/reference/ files
    running = build_server(ServerConfig(data_dir=str(tmp_path / "data" / "datapacks"), port=0, max_workers=16))
    yield tmp_path, f"127.0.0.1:{running.port}"
    running.stop(0)


def test_readme_marks_only_examples_that_cannot_run_here():
    python = [b for b in readme_blocks() if b.language == "python"]
    assert len(python) >= 4
    assert [b.line for b in python if NOT_RUN in b.info] == [b.line for b in python if "datapack.lab.example" in b.code]


def test_readme_python_blocks_run_on_the_sample_data(sample_server, capsys):
    work, target = sample_server
    namespace: dict = {"__name__": "readme"}
    ran = []
    try:
        for block in readme_blocks():
            if block.language != "python" or NOT_RUN in block.info:
                continue
            code = compile(with_target(block.code, target), f"README.md:{block.line}", "exec")
            exec(code, namespace)  # the README's own examples
            ran.append(block.line)
    finally:
        for name in ("repo", "portable"):
            if hasattr(namespace.get(name), "close"):
                namespace[name].close()
    out = capsys.readouterr().out
    assert len(ran) >= 4, ran
    assert len(namespace["best"]) == 10  # the high-trust positive GRASP_HANDLE packs of phase_c
    assert len(namespace["packs"]) == 5 and re.search(r"^5 0\.\d+$", out, re.M), out  # the portable slice
    assert re.search(r"^AppendResult\(index=0, pack_id='[^']+', .*status='created'", out, re.M), out
    assert "(10, True, 'created', True)" in out, out  # the asyncio example
    for store in ("phase_c", "portable"):
        assert validate_file(str(work / "data" / "datapacks" / store / f"{TASK}_datapacks.jsonl")).findings == []


def run_command(command: Command, work: pathlib.Path, target: str) -> subprocess.CompletedProcess:
    text = with_target(command.text, target)
    if "| jq" in text and shutil.which("jq") is None:  # jq is not a dependency: keep what feeds it
        text = text.split("| jq")[0]
    env = dict(os.environ, PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               PYTHONPATH=str(ROOT), COLUMNS="200")
    return subprocess.run(["bash", "-o", "pipefail", "-c", text], cwd=work, env=env,
                          capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)


def test_readme_shell_commands_run_on_the_sample_data(sample_server):
    work, target = sample_server
    ran: list[str] = []
    for block in readme_blocks():
        if block.language != "bash":
            continue
        for command in shell_commands(block):
            if command.program in NOT_RUN_PROGRAMS or command.verb in NOT_RUN_VERBS:
                continue
            assert command.program in ("datapack", "python"), f"README.md:{command.line}: classify {command.text!r}"
            assert "..." not in command.text, f"README.md:{command.line}: not runnable as written"
            done = run_command(command, work, target)
            said = f"README.md:{command.line}: {command.text}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            if command.verb == "import":
                # The earlier library's file: 392 of 600 records stored, 208 rejected (README: Sample data).
                assert done.returncode == 1 and "rejected 208" in done.stdout, said
                assert "created 392" in done.stdout or "already_present 392" in done.stdout, said
            else:
                assert done.returncode == 0, said
            if command.verb == "validate":
                assert "0 finding(s)" in done.stdout, said
            ran.append(command.verb or command.program)
    assert MUST_RUN_VERBS <= set(ran), ran
    assert (work / "dv.parquet").is_file() and (work / "report" / "index.html").is_file()
    validate = run_command(Command("datapack validate --data-dir data/datapacks", 0), work, target)
    assert validate.returncode == 0 and "0 finding(s)" in validate.stdout, validate.stdout + validate.stderr
    readme = README.read_text(encoding="utf-8")
    assert "stores 392 and rejects 208" in readme and "170 negative packs" in readme and "82 with an empty" in readme
