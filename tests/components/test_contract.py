"""Tests room (components): components/README.md's contract table says what the code does.

Every component class in components/ has a row; every Args field a row names in backticks
(wiring) exists on that component's Args dataclass, and every Args field is named -- as wiring,
as `settings` (whose model is the row's settings model), or as one of the environment fields the
README lists once for all; every output attribute a row names exists on the component (declared
at class level or set by one of its methods), every declared one is named, and every method a
row names (`watches()`) is defined. Read from the source (ast) and the dataclasses, no program run.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = ROOT / "components"
README = COMPONENTS / "README.md"
# The fields an Args may carry for how the environment treats it (the README's "One shape").
ENVIRONMENT_FIELDS = ("tags", "region", "protect", "require_digest", "force_destroy")
BASES = {"Component", "ComponentResource"}
IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
METHOD = re.compile(r"([a-z_][a-z0-9_]*)\(\)")


@dataclass(frozen=True)
class Row:
    component: str
    module: str
    wiring: str
    settings: str
    outputs: str


@dataclass(frozen=True)
class ComponentClass:
    name: str
    module: str
    args: str  # the Args class its __init__ takes
    declared: frozenset[str]  # class-level annotations: its outputs
    assigned: frozenset[str]  # every `self.x = ...` in its methods
    methods: frozenset[str]


def rows() -> dict[str, Row]:
    """The contract table, by component class name."""
    lines = README.read_text().splitlines()
    start = lines.index("| component | wiring inputs | settings model | output attributes |")
    out: dict[str, Row] = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        assert len(cells) == 4, f"a contract row has 4 cells (no '|' inside one): {line[:80]}"
        head = re.fullmatch(r"`(\w+)` \((\w+)\.py[^)]*\)", cells[0])
        assert head, f"the first cell names `Class` (module.py): {cells[0]!r}"
        out[head[1]] = Row(head[1], head[2], cells[1], cells[2], cells[3])
    return out


def component_classes() -> dict[str, ComponentClass]:
    """Every ComponentResource class in components/ (the base itself excepted)."""
    found: dict[str, ComponentClass] = {}
    for path in sorted(COMPONENTS.glob("*.py")):
        tree = ast.parse(path.read_text())
        for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
            bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in cls.bases}
            if not bases & BASES or path.stem == "base":
                continue
            init = next(f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "__init__")
            (args,) = [a for a in init.args.args if a.arg == "args"]
            assert args.annotation is not None
            declared = {n.target.id for n in cls.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}
            assigned = {t.attr for n in ast.walk(cls) if isinstance(n, ast.Assign | ast.AnnAssign)
                        for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
                        for t in (t.elts if isinstance(t, ast.Tuple) else [t])
                        if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"}
            methods = {f.name for f in cls.body if isinstance(f, ast.FunctionDef)}
            found[cls.name] = ComponentClass(cls.name, path.stem, ast.unparse(args.annotation), frozenset(declared),
                                             frozenset(assigned), frozenset(methods))
    return found


def named(cell: str) -> set[str]:
    """The bare identifiers a cell names in backticks (`vpc_id`; not `Network.vpc_cidr` or `[x]`)."""
    return {t for t in re.findall(r"`([^`]+)`", cell) if IDENTIFIER.fullmatch(t)}


def methods_named(cell: str) -> set[str]:
    return {m[1] for t in re.findall(r"`([^`]+)`", cell) if (m := METHOD.fullmatch(t))}


def args_fields(c: ComponentClass) -> dict[str, dataclasses.Field]:
    module = importlib.import_module(f"components.{c.module}")
    return {f.name: f for f in dataclasses.fields(getattr(module, c.args))}


CLASSES = component_classes()
ROWS = rows()


def test_the_scan_finds_the_platforms_components() -> None:
    assert {"Network", "Cluster", "Database", "Cache", "App", "Cdn", "Alarms", "Backups"} <= set(CLASSES)


def test_every_component_class_has_a_row_and_every_row_a_class() -> None:
    assert set(ROWS) == set(CLASSES)
    for name, row in ROWS.items():
        assert row.module == CLASSES[name].module, f"{name} lives in {CLASSES[name].module}.py"


def test_the_readme_lists_the_environment_fields_it_allows() -> None:
    text = README.read_text()
    shape = text[text.index("**One shape.**"):text.index("## Contracts")]
    assert set(ENVIRONMENT_FIELDS) <= named(shape)


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_the_rows_wiring_is_exactly_the_args_fields(name: str) -> None:
    c, row = CLASSES[name], ROWS[name]
    fields = args_fields(c)
    wiring = named(row.wiring)
    assert wiring <= set(fields), f"{name}'s row names wiring {c.args} lacks: {sorted(wiring - set(fields))}"
    unnamed = set(fields) - wiring - {"settings", *ENVIRONMENT_FIELDS}
    assert not unnamed, f"{c.args} fields the row does not name: {sorted(unnamed)}"
    assert not wiring & {"settings", *ENVIRONMENT_FIELDS}, "wiring is what other components hand over"


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_the_rows_settings_model_is_the_args_settings_type(name: str) -> None:
    c, row = CLASSES[name], ROWS[name]
    model = re.match(r"`(\w+)`", row.settings)
    assert model, f"{name}'s settings cell starts with the model: {row.settings[:40]!r}"
    assert str(args_fields(c)["settings"].type) == model[1]


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_the_rows_outputs_exist_and_every_declared_output_is_in_the_row(name: str) -> None:
    c, row = CLASSES[name], ROWS[name]
    outputs = named(row.outputs)
    missing = outputs - c.declared - c.assigned
    assert not missing, f"{name}'s row names outputs the class never sets: {sorted(missing)}"
    assert not c.declared - outputs, f"{name} declares outputs its row omits: {sorted(c.declared - outputs)}"
    assert methods_named(row.outputs) <= c.methods, f"{name}'s row names methods it lacks"


@pytest.mark.parametrize("path", sorted(p.name for p in COMPONENTS.glob("*.py") if p.name != "__init__.py"))
def test_every_module_says_its_room_reads_no_config_and_imports_no_private_name(path: str) -> None:
    tree = ast.parse((COMPONENTS / path).read_text())
    assert (ast.get_docstring(tree) or "").startswith("Components room: ")
    private = [f"{n.module}.{a.name}" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
               for a in n.names if a.name.startswith("_")]
    assert not private, f"{path} imports private names: {private}"
    config = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "Config"
              and isinstance(n.value, ast.Name) and n.value.id == "pulumi"]
    assert not config, f"{path} reads pulumi.Config (line {config}): components take Args"
