"""The layout's import rules, checked on the source text (an AST walk, nothing is imported).

`ROOMS` below is the single source of truth for what each folder may import; docs/architecture.md
describes the same table in words. Three checks, each listing every offence as `file:line`:

* no import cycle between project modules, counting imports at module level and inside functions;
* each module imports only the project folders its room allows, and none of the third-party
  modules its room forbids;
* no name starting with `_` (dunders excepted) crosses modules, neither as `from x import _y` nor
  as `m._y` on a name bound to a project module.

How an import becomes an edge: `import a.b.c` is an edge to `a.b.c`; `from a.b import c` is an
edge to `a.b.c` when that is a module and to `a.b` (its `__init__` when a package) otherwise;
relative imports are resolved against the importing module's package. The implicit import of
parent packages is not an edge (every submodule has it; counting it would make every package
`__init__` that re-exports a submodule a cycle).
"""
from __future__ import annotations

import ast
import pathlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

ROOT = pathlib.Path(__file__).resolve().parent.parent

# (folder on disk, its package name): the trees that are walked.
SOURCE_TREES = ((ROOT / "server" / "datapack_server", "datapack_server"),
                (ROOT / "client" / "datapack_client", "datapack_client"))
# Generated code: never walked (it is a valid import target where a room allows it).
GENERATED = ("datapack_client.proto",)
PROJECT_PACKAGES = ("datapack_server", "datapack_client")

GRPC = ("grpc", "grpc_*")
PROTOBUF = ("google.protobuf", "google.rpc")
CLIENT_ANYTHING = "datapack_client"
RECORDS, ERRORS = "datapack_client.records", "datapack_client.errors"
BUILDING, WIRE, PROTO = "datapack_client.building", "datapack_client.wire", "datapack_client.proto"


@dataclass(frozen=True)
class Room:
    """A folder (or a top-level module) and its import rule.

    `may_import`: project module prefixes this room may import (its own modules always).
    `never_import`: third-party module prefixes it must not import; `x_*` matches any top-level
    module whose name starts with `x_`.
    """
    role: str
    may_import: tuple[str, ...] = ()
    never_import: tuple[str, ...] = ()


S = "datapack_server."
# Keyed by module prefix; a module belongs to the room with the longest matching key.
ROOMS: dict[str, Room] = {
    # ---- server --------------------------------------------------------------------------
    S + "storage": Room("files on disk: task file, lines, checksums, verification as a function",
                        (RECORDS, ERRORS), GRPC + PROTOBUF),
    S + "engine": Room("one store in memory: task state, the group committer, index, pack ids, parsing pool",
                       (S + "storage", RECORDS, ERRORS), GRPC + PROTOBUF),
    S + "query": Room("filters, ordering, statistics, lookups over a task index",
                      (S + "engine", S + "storage", RECORDS, ERRORS), GRPC + PROTOBUF),
    S + "analytics": Room("the skill analyses",
                          (S + "query", S + "engine", S + "storage", RECORDS, ERRORS), GRPC + PROTOBUF),
    S + "portable": Room("portable artifacts and their export",
                         (S + "query", S + "engine", S + "storage", RECORDS, BUILDING, ERRORS), GRPC + PROTOBUF),
    S + "service": Room("the one domain facade: ingest, baselines, preparation, file validation, Arrow export",
                        (S + "engine", S + "query", S + "analytics", S + "portable", S + "storage",
                         RECORDS, BUILDING, WIRE, ERRORS, PROTO), GRPC),
    S + "api": Room("gRPC: assembly, servicers, interceptors, envelope, security",
                    (S + "service", S + "observability", CLIENT_ANYTHING)),
    S + "observability": Room("logs, metrics, tracing, the HTTP side port",
                              (S + "engine", RECORDS, ERRORS)),
    S + "cli": Room("every `datapack` verb and their shared helpers",
                    ("datapack_server", CLIENT_ANYTHING)),
    S + "synthetic": Room("synthetic episodes for `datapack build`",
                          (BUILDING, RECORDS, ERRORS), GRPC + PROTOBUF),
    S + "sim": Room("the PyBullet simulator (its verb, `datapack sim`, is cli/sim.py)",
                    (S + "repo", S + "synthetic", S + "portable", CLIENT_ANYTHING)),
    S + "repo": Room("DataPackRepo, the embedded repository face",
                     (S + "service", CLIENT_ANYTHING)),
    "datapack_server": Room("package face (__init__), console entry (launcher, __main__)",
                            (S + "repo", S + "cli")),
    # ---- client --------------------------------------------------------------------------
    RECORDS: Room("records as Python values: model, schema, validation, skills, query/export args",
                  (ERRORS,), GRPC + PROTOBUF),
    # building: wire/episodes.py converts the builder's inputs (EpisodeInfoSummary, EconParams...).
    WIRE: Room("records and episode inputs <-> protobuf messages", (RECORDS, BUILDING, ERRORS, PROTO)),
    BUILDING: Room("episode results -> datapacks (the builder)", (RECORDS, ERRORS), GRPC + PROTOBUF),
    PROTO: Room("generated protobuf and gRPC code (not walked)"),
    ERRORS: Room("the error types, a leaf"),
    "datapack_client": Room("public face: connect, client, adapter, api, frames, re-export shims",
                            (CLIENT_ANYTHING,)),
}


@dataclass(frozen=True)
class Edge:
    source: str        # importing module
    target: str        # imported module (project) or dotted name (third party)
    line: int
    project: bool


@dataclass
class Module:
    name: str
    path: pathlib.Path
    is_package: bool
    tree: ast.Module

    def where(self, node: ast.AST | int) -> str:
        line = node if isinstance(node, int) else getattr(node, "lineno", 0)
        try:
            shown = self.path.relative_to(ROOT)
        except ValueError:
            shown = self.path
        return f"{shown}:{line}"


# ---- the checker --------------------------------------------------------------------------------

def load_modules(trees: Iterable[tuple[pathlib.Path, str]], generated: Iterable[str] = GENERATED
                 ) -> dict[str, Module]:
    """Every .py file of the source trees, by dotted module name, generated packages left out."""
    skip = tuple(generated)
    modules: dict[str, Module] = {}
    for folder, package in trees:
        for path in sorted(folder.rglob("*.py")):
            parts = (package, *path.relative_to(folder).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            name = ".".join(parts[:-1] if is_package else parts)
            if any(name == g or name.startswith(g + ".") for g in skip):
                continue
            modules[name] = Module(name, path, is_package, ast.parse(path.read_text(), str(path)))
    return modules


def is_project(name: str, packages: Iterable[str] = PROJECT_PACKAGES) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def _is_submodule(name: str, modules: dict[str, Module], generated: Iterable[str]) -> bool:
    # Generated modules are not loaded; a name under a generated package counts as a module.
    return name in modules or any(name.startswith(g + ".") for g in generated)


def _resolve_from(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
    base = package[:len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_edges(module: Module, modules: dict[str, Module], generated: Iterable[str] = GENERATED
                 ) -> Iterator[Edge]:
    """Every import of `module`, anywhere in the file (module level, functions, branches)."""
    generated = tuple(generated)
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Edge(module.name, alias.name, node.lineno, is_project(alias.name))
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_from(module, node)
            if not is_project(base) and not node.level:
                yield Edge(module.name, base, node.lineno, False)
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}"
                target = full if _is_submodule(full, modules, generated) else base
                yield Edge(module.name, target, node.lineno, True)


def find_cycles(modules: dict[str, Module], generated: Iterable[str] = GENERATED) -> list[str]:
    """One line per strongly connected component of the import graph: a shortest cycle through
    it, each step with the file:line of the import."""
    graph: dict[str, dict[str, str]] = {name: {} for name in modules}
    for module in modules.values():
        for edge in import_edges(module, modules, generated):
            if edge.project and edge.target in modules and edge.target != module.name:
                graph[module.name].setdefault(edge.target, module.where(edge.line))
    reports = []
    for component in _strongly_connected(graph):
        if len(component) > 1:
            reports.append(_describe_cycle(_shortest_cycle(graph, component), graph))
    return sorted(reports)


def _strongly_connected(graph: dict[str, dict[str, str]]) -> list[set[str]]:
    # Tarjan's algorithm, iterative (the graph has a few hundred nodes, recursion would do too).
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for nxt in successors:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


def _shortest_cycle(graph: dict[str, dict[str, str]], component: set[str]) -> list[str]:
    best: list[str] = []
    for start in sorted(component):
        parents: dict[str, str] = {}
        frontier = [start]
        found = None
        while frontier and found is None:
            following = []
            for node in frontier:
                for nxt in sorted(graph[node]):
                    if nxt not in component:
                        continue
                    if nxt == start:
                        found = node
                        break
                    if nxt not in parents:
                        parents[nxt] = node
                        following.append(nxt)
                if found is not None:
                    break
            frontier = following
        if found is None:
            continue
        path = [found]
        while path[-1] != start:
            path.append(parents[path[-1]])
        path = path[::-1] + [start]
        if not best or len(path) < len(best):
            best = path
    return best


def _describe_cycle(path: list[str], graph: dict[str, dict[str, str]]) -> str:
    steps = [f"{a} -> {b} ({graph[a][b]})" for a, b in zip(path, path[1:])]
    return "cycle: " + " ; ".join(steps)


def room_of(name: str, rooms: dict[str, Room] = ROOMS) -> str | None:
    keys = [key for key in rooms if name == key or name.startswith(key + ".")]
    return max(keys, key=len) if keys else None


def _matches(name: str, prefix: str) -> bool:
    if prefix.endswith("_*"):
        return name.split(".")[0].startswith(prefix[:-1])
    return name == prefix or name.startswith(prefix + ".")


def forbidden_imports(modules: dict[str, Module], rooms: dict[str, Room] = ROOMS,
                      generated: Iterable[str] = GENERATED) -> list[str]:
    """Imports that break the importing room's rule, as `file:line: module imports target (rule)`."""
    offences = []
    for module in modules.values():
        home = room_of(module.name, rooms)
        if home is None:
            continue  # reported by test_every_module_has_a_room
        rule = rooms[home]
        for edge in import_edges(module, modules, generated):
            if edge.project:
                target_room = room_of(edge.target, rooms)
                if target_room == home or any(_matches(edge.target, p) for p in rule.may_import):
                    continue
                why = f"{home} may import only: {', '.join(rule.may_import) or 'nothing in the project'}"
            elif any(_matches(edge.target, p) for p in rule.never_import):
                why = f"{home} must never import: {', '.join(rule.never_import)}"
            else:
                continue
            offences.append(f"{module.where(edge.line)}: {module.name} imports {edge.target} ({why})")
    return sorted(set(offences))


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _project_bindings(module: Module) -> dict[str, str]:
    """Local names bound by an import to a project module or to a name defined in one:
    `import a.b` binds `a` to `a`, `import a.b as m` binds `m` to `a.b`, `from a import b` binds
    `b` to `a.b` (a submodule, a class, a function...)."""
    bound: dict[str, str] = {}
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if is_project(alias.name):
                    top = alias.name.split(".")[0]
                    bound[alias.asname or top] = alias.name if alias.asname else top
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_from(module, node)
            if is_project(base):
                for alias in node.names:
                    bound[alias.asname or alias.name] = f"{base}.{alias.name}"
    return bound


def _defining_module(dotted: str, modules: dict[str, Module], generated: tuple[str, ...]) -> str:
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if _is_submodule(prefix, modules, generated):
            return prefix
    return parts[0]


def _dotted(node: ast.expr) -> list[str] | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def private_crossings(modules: dict[str, Module], generated: Iterable[str] = GENERATED) -> list[str]:
    """`from x import _y` (x another module), and `m._y` where `m` is bound by an import to a
    project module or to a name defined in one (`DataPackMeta._wrap`, `codec._plan`)."""
    generated = tuple(generated)
    offences = []
    for module in modules.values():
        bound = _project_bindings(module)
        for node in ast.walk(module.tree):
            if isinstance(node, ast.ImportFrom):
                base = _resolve_from(module, node)
                for alias in node.names:
                    if _private(alias.name) and base != module.name:
                        offences.append(f"{module.where(node)}: from {base} import {alias.name}")
            elif isinstance(node, ast.Attribute) and isinstance(node.value, (ast.Name, ast.Attribute)):
                chain = _dotted(node)
                if not chain or chain[0] not in bound:
                    continue
                owner = ".".join([bound[chain[0]], *chain[1:-1]])
                if _private(chain[-1]) and _defining_module(owner, modules, generated) != module.name:
                    offences.append(f"{module.where(node)}: {'.'.join(chain)} (private name of {owner})")
    return sorted(set(offences))


def _by_place(offence: str) -> tuple[str, int, str]:
    # "path:line: ..." sorted by path, then line as a number.
    path, line, rest = (offence.split(":", 2) + ["", ""])[:3]
    return (path, int(line) if line.isdigit() else 0, rest)


def _report(title: str, offences: list[str]) -> str:
    return f"{len(offences)} {title}:\n  " + "\n  ".join(sorted(offences, key=_by_place))


# ---- the checks on this repository ----------------------------------------------------------------

MODULES = load_modules(SOURCE_TREES)


def test_every_module_has_a_room():
    homeless = [m.where(1) for m in MODULES.values() if room_of(m.name) is None]
    assert not homeless, _report("modules outside every room of ROOMS (add the folder to the table)", homeless)


def test_no_import_cycles():
    cycles = find_cycles(MODULES)
    assert not cycles, _report("import cycles (module level and function level imports)", cycles)


def test_folder_import_rules():
    offences = forbidden_imports(MODULES)
    assert not offences, _report("imports that break the folder rules (ROOMS)", offences)


def test_no_private_names_across_modules():
    offences = private_crossings(MODULES)
    assert not offences, _report("private names used across modules", offences)


def test_architecture_doc_names_every_room():
    text = (ROOT / "docs" / "architecture.md").read_text()
    missing = [key for key in ROOMS
               if f"`{key.split('.')[-1] if '.' in key else key}" not in text]
    assert not missing, f"docs/architecture.md does not describe these rooms of ROOMS: {missing}"


# ---- the checker can fail -------------------------------------------------------------------------

def _write(root: pathlib.Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_checker_reports_cycles_forbidden_imports_and_private_names(tmp_path):
    _write(tmp_path, {
        "datapack_server/__init__.py": "",
        "datapack_server/storage/__init__.py": "",
        # storage -> engine: forbidden, and (with the function-level import below) a cycle.
        "datapack_server/storage/taskfile.py": "from ..engine import store\nimport grpc\n",
        "datapack_server/engine/__init__.py": "",
        "datapack_server/engine/store.py": (
            "def reload():\n"
            "    from datapack_server.storage.taskfile import _hidden\n"
            "    import datapack_server.storage.taskfile as tf\n"
            "    from datapack_server.storage.taskfile import TaskFile\n"
            "    return tf._other, TaskFile._opened, TaskFile.__name__\n"),
        "datapack_server/service/__init__.py": "",
        "datapack_server/service/facade.py": "from datapack_server.engine import store\n",
    })
    modules = load_modules([(tmp_path / "datapack_server", "datapack_server")])

    cycles = find_cycles(modules)
    assert len(cycles) == 1
    assert "datapack_server.engine.store -> datapack_server.storage.taskfile" in cycles[0]
    assert "datapack_server.storage.taskfile -> datapack_server.engine.store" in cycles[0]
    assert "taskfile.py:1" in cycles[0] and "store.py:2" in cycles[0]

    offences = forbidden_imports(modules)
    assert any("taskfile.py:1: datapack_server.storage.taskfile imports datapack_server.engine.store" in o
               for o in offences), offences
    assert any("taskfile.py:2: datapack_server.storage.taskfile imports grpc" in o for o in offences), offences
    assert len(offences) == 2, offences  # engine -> storage and service -> engine are allowed

    private = private_crossings(modules)
    assert any("store.py:2: from datapack_server.storage.taskfile import _hidden" in p for p in private), private
    assert any("store.py:5: tf._other" in p for p in private), private
    assert any("store.py:5: TaskFile._opened" in p for p in private), private
    assert len(private) == 3, private  # dunders (TaskFile.__name__) are allowed
