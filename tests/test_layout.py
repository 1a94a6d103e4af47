"""The package's shape, checked on its source: who may import whom (the core knows no service,
the agent no server module), no import cycle, every device name from names.py and every
status, agent type, VIF type and device owner from constants.py, a docstring per module, and no
pointer to files outside the repository."""
import ast
import os

import pytest

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
SERVER = ("trunkline.api", "trunkline.plugins", "trunkline.channel", "trunkline.services",
          "trunkline.db", "trunkline.definitions", "trunkline.server")
# who must not import whom (prefixes of module names)
FORBIDDEN = [
    ("trunkline.plugins", ("trunkline.channel", "trunkline.services", "trunkline.api")),
    ("trunkline.definitions", ("trunkline.plugins", "trunkline.channel", "trunkline.services",
                               "trunkline.api", "trunkline.db")),
    ("trunkline.db", ("trunkline.plugins", "trunkline.channel", "trunkline.services",
                      "trunkline.api")),
    ("trunkline.services", ("trunkline.channel", "trunkline.api")),
    ("trunkline.agent", SERVER + ("trunkline.lab", "trunkline.cli", "trunkline.stack")),
    ("trunkline.lab", SERVER),
    ("trunkline.constants", ("trunkline.",)),
    ("trunkline.names", ("trunkline.",)),
]
VOCABULARY = {"ACTIVE", "DOWN", "BUILD", "ERROR", "DEGRADED", "Open vSwitch agent",
              "Linux bridge agent", "DHCP agent", "unbound", "binding_failed", "network:dhcp",
              "trunk:subport", "compute:nova"}
SERVER_VOCABULARY = {"ovs", "bridge"}       # VIF types; "ovs" is also an agent driver's name
NAME_PREFIXES = ("tap", "tbr-", "brq", "qdhcp-", "tpi-", "tpt-", "spi-", "spt-", "ns-",
                 "vxlan-")
OUTSIDE = ("../shared", "DESIGN.md", "seeds/", "/work/shared")


def _modules():
    out = {}
    for dirpath, _, files in os.walk(os.path.join(SRC, "trunkline")):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                module = os.path.relpath(path, SRC)[:-3].replace(os.sep, ".")
                out[module[:-9] if module.endswith(".__init__") else module] = path
    return out


MODULES = _modules()
TREES = {m: ast.parse(open(p).read(), p) for m, p in MODULES.items()}


def _imports(module, tree):
    package = module if MODULES[module].endswith("__init__.py") else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            for alias in node.names:
                full = base + "." + alias.name
                found.add(full if full in MODULES else base)
    return {i for i in found if i.startswith("trunkline") and i != module}


GRAPH = {m: _imports(m, t) for m, t in TREES.items()}


def _strings(tree):
    """Every string constant but docstrings and keys (``d["tap"]``, ``{"tap": ...}``)."""
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docs.add(id(body[0].value))
        elif isinstance(node, ast.Subscript):
            docs.add(id(node.slice))
        elif isinstance(node, ast.Dict):
            docs.update(id(k) for k in node.keys if k is not None)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                id(node) not in docs:
            yield node


@pytest.mark.parametrize("importer,banned", FORBIDDEN)
def test_layers(importer, banned):
    bad = sorted("%s -> %s" % (m, d) for m, deps in GRAPH.items()
                 if m == importer or m.startswith(importer + ".")
                 for d in deps if d.startswith(banned))
    assert bad == []


def test_no_import_cycle():
    index, low, stack, on, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in GRAPH[v] & set(GRAPH):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    assert cycles == []


def test_vocabulary_comes_from_constants():
    bad = []
    for module, tree in TREES.items():
        if module == "trunkline.constants":
            continue
        words = VOCABULARY | (SERVER_VOCABULARY if module.startswith(SERVER) else set())
        bad += ["%s:%d %r" % (module, n.lineno, n.value) for n in _strings(tree)
                if n.value in words]
    assert bad == []


def test_device_names_come_from_names():
    bad = []
    for module, tree in TREES.items():
        if module == "trunkline.names":
            continue
        for node in _strings(tree):
            value = node.value
            if value.startswith(NAME_PREFIXES) and (len(value) <= 8 or "%" in value or
                                                    "{" in value):
                bad.append("%s:%d %r" % (module, node.lineno, value))
    assert bad == []


def test_every_module_says_its_job():
    assert [m for m, t in TREES.items() if not ast.get_docstring(t)] == []


def test_nothing_points_outside_the_repository():
    bad = []
    for module, path in MODULES.items():
        for number, line in enumerate(open(path), 1):
            if any(o in line for o in OUTSIDE):
                bad.append("%s:%d" % (module, number))
    assert bad == []
