"""The import graph of the vptadvisor package (module-level and function-level imports alike), its
cycles, and imports of another package's private (_underscore) names.

    python tools/import_graph.py           # print the graph's size, cycles and private imports; exit 1 on any
    python tools/import_graph.py --edges   # also print every edge
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "vptadvisor"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def edges() -> tuple[dict[str, set[str]], list[str]]:
    """{module: modules it imports} and the private cross-package imports."""
    known = modules()
    graph: dict[str, set[str]] = {m: set() for m in known}
    private: list[str] = []
    for mod, path in known.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {  # imports under `if TYPE_CHECKING:` never run: they make no cycle
            id(n)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and _is_type_checking(block.test)
            for stmt in block.body
            for n in ast.walk(stmt)
        }
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            targets: list[tuple[str, list[str]]] = []
            if isinstance(node, ast.Import):
                targets = [(a.name, []) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(
                        package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                    )
                targets = [(base, [a.name for a in node.names])]
            for base, names in targets:
                if not base.startswith("vptadvisor"):
                    continue
                for name in names or [""]:
                    full = f"{base}.{name}" if name else base
                    target = _resolve(full, known)
                    if target and target != mod:
                        graph[mod].add(target)
                    if name.startswith("_") and not name.startswith("__"):
                        owner = ".".join((_resolve(base, known) or base).split(".")[:2])  # vptadvisor.<package>
                        if ".".join(mod.split(".")[:2]) != owner:
                            private.append(f"{mod} imports {base}.{name}")
    return graph, private


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
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
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


if __name__ == "__main__":
    graph, private = edges()
    found = cycles(graph)
    print(f"{len(graph)} modules, {sum(map(len, graph.values()))} import edges")
    if "--edges" in sys.argv:
        for mod in sorted(graph):
            print(f"{mod} -> {', '.join(sorted(graph[mod])) or '-'}")
    for comp in found:
        print("cycle:", " <-> ".join(comp))
    for line in private:
        print("private:", line)
    print(f"{len(found)} cycles, {len(private)} private cross-package imports")
    sys.exit(1 if found or private else 0)
