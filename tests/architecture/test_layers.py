"""Dependencies point one way:
trainer_bridge -> curation -> labeling -> guidelines -> (registry, core, config).

Every import counts, the ones inside functions too: a lazy import is still a dependency.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RANK = {
    "config": 0,
    "core": 0,
    "accounts": 0,
    "registry": 0,
    "guidelines": 1,
    "labeling": 2,
    "curation": 3,
    "trainer_bridge": 4,
}
# Inside the bottom layer: the shared layer stands alone; the registry, accounts and the settings may use it.
BOTTOM = {"core": set(), "registry": {"core"}, "config": {"core"}, "accounts": {"core"}}
# Where the whole project is put together: these may import any app.
COMPOSITION_ROOTS = {"config.urls", "config.celery", "config.wsgi", "config.asgi"}


def modules() -> list[tuple[str, Path]]:
    found = []
    for package in RANK:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            found.append((name, path))
    return found


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return {n for n in names if n.split(".")[0] in RANK}


def against_the_layers(module: str, target: str) -> bool:
    mine, theirs = module.split(".")[0], target.split(".")[0]
    if module in COMPOSITION_ROOTS or mine == theirs:
        return False
    if RANK[mine] == RANK[theirs] == 0:
        return theirs not in BOTTOM[mine]
    return RANK[theirs] > RANK[mine]


def violations() -> list[str]:
    return sorted(
        f"{module} imports {target}"
        for module, path in modules()
        for target in imported(path)
        if against_the_layers(module, target)
    )


def test_no_module_imports_against_the_direction_of_the_layers():
    assert violations() == []


@pytest.mark.parametrize(
    ("module", "target", "wrong"),
    [
        ("guidelines.services", "labeling.models", True),
        ("labeling.services.queue", "guidelines.selectors", False),
        ("curation.snapshots", "trainer_bridge.models", True),
        ("core.pages", "registry.models", True),
        ("registry.services", "core.errors", False),
        ("config.urls", "trainer_bridge.urls", False),
        ("config.settings", "labeling.models", True),
    ],
)
def test_the_rule_itself(module, target, wrong):
    assert against_the_layers(module, target) is wrong


def test_every_app_is_in_a_layer():
    apps = {p.parent.name for p in ROOT.glob("*/apps.py")}
    assert apps <= set(RANK), f"apps without a layer: {sorted(apps - set(RANK))}"
