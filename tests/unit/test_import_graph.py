"""No import cycles inside `veinline`: every module can be read (and imported) after the
modules it imports, never in a circle. Lazy imports inside functions and imports under
TYPE_CHECKING count too: a circle through them is still a circle (docs/architecture.md).
"""

from __future__ import annotations

import grimp

PACKAGE = "veinline"


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Each cycle once, as the chain of modules from a module back to itself."""
    cycles: list[list[str]] = []
    seen: set[frozenset[str]] = set()
    for module in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if not imported.startswith(PACKAGE):
                continue
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back is None:
                continue
            chain = [module, *back]
            key = frozenset(chain)
            if key not in seen:
                seen.add(key)
                cycles.append(chain)
    return cycles


def test_the_package_has_no_import_cycles() -> None:
    graph = grimp.build_graph(PACKAGE, cache_dir=None)
    cycles = import_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_a_cycle_is_reported_with_its_chain() -> None:
    graph = grimp.ImportGraph()
    for name in ("veinline.a", "veinline.b", "veinline.c"):
        graph.add_module(name)
    graph.add_import(importer="veinline.a", imported="veinline.b")
    graph.add_import(importer="veinline.b", imported="veinline.c")
    graph.add_import(importer="veinline.c", imported="veinline.a")
    assert import_cycles(graph) == [["veinline.a", "veinline.b", "veinline.c", "veinline.a"]]
