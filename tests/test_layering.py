"""The layers of ../shared/DESIGN.md section 3: nothing imports a part above it.

    cli, api  >  beam  >  tasks  >  training, serving  >  checkpoints  >  modeling  >  layers  >  text
         >  configs, errors, io, file_checks, console

(training and serving know nothing of each other.) Checked on the source, so a
violation fails here before it becomes an import cycle.
"""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "bert_tf"

# Part -> its rank; a module may import parts of lower rank, and its own part.
RANKS = {"configs": 0, "errors": 0, "io": 0, "file_checks": 0, "console": 0, "text": 1, "layers": 2,
         "modeling": 3, "checkpoints": 4, "training": 5, "serving": 5, "tasks": 6,
         "beam": 7, "cli": 8, "api": 8}


def _part(module: str) -> str | None:
    """`bert_tf.text.windows` -> "text"; None outside bert_tf or for the package."""
    parts = module.split(".")
    return parts[1] if parts[0] == "bert_tf" and len(parts) > 1 else None


def _imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_no_module_imports_a_part_above_its_own():
    violations = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        own = _part(".".join(relative.parts))
        if own is None or own == "__init__":
            continue
        for module in _imports(path):
            other = _part(module)
            if other is None or other not in RANKS or other == own:
                continue
            if RANKS[other] > RANKS[own] or {own, other} == {"training", "serving"}:
                violations.append(f"{relative} ({own}) imports {module} ({other})")
    assert violations == []


def test_every_part_is_ranked():
    parts = {path.stem if path.is_file() else path.name
             for path in PACKAGE.iterdir()
             if (path.suffix == ".py" and path.stem != "__init__")
             or (path.is_dir() and (path / "__init__.py").exists())}
    assert parts == set(RANKS)
