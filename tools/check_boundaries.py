"""Boundary rules import-linter cannot express; `make lint` runs this.

1. No private names across modules: `from a.b import _name`, or `mod._name`
   where `mod` was imported from this project, is an error unless the name
   is defined in the importing module's own package-private module
   (same file). Dunder names (`__version__`) are public.
2. Frames are published only by `*/events.py` and the realtime kernel
   (core/realtime.py, core/fanout.py, core/rooms/): a call to one of
   PUBLISHERS anywhere else is an error.

Known exceptions are listed in ALLOWED with the reason; an exception that no
longer matches anything is itself an error, so the list cannot rot.

Usage: python tools/check_boundaries.py [ROOT]   (exit status 1 on errors)
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

APPS = (
    "config",
    "core",
    "analytics",
    "courses",
    "questions",
    "classroom",
    "livemedia",
    "playback",
    "notifications",
    "reinforcement",
    "lti",
    "insights",
)
# The kernel's publish functions (core/realtime.py, core/fanout.py).
PUBLISHERS = {
    "frame_publish_on_commit",
    "forward_on_commit",
    "forward_now",
    "publish",
    "publish_async",
}
KERNEL_MODULES = {"core.realtime", "core.fanout"}
KERNEL_PUBLISHERS = ("core.realtime", "core.fanout", "core.rooms")

# (rule, module, name): why it is allowed for now.
ALLOWED: dict[tuple[str, str, str], str] = {}


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_project(module: str) -> bool:
    return module.split(".")[0] in APPS


# Django's model API is public despite the underscore.
DJANGO_PUBLIC = {"_meta", "_default_manager", "_base_manager", "_state"}


def _private(name: str) -> bool:
    if name in DJANGO_PUBLIC:
        return False
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _is_publisher_module(root: Path, module: str) -> bool:
    return module.endswith(".events") or module == "events" or module.startswith(KERNEL_PUBLISHERS)


def check_file(root: Path, path: Path) -> list[tuple[str, str, str, int]]:
    """[(rule, module, what, line)]"""
    module = _module_name(root, path)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[str, str, str, int]] = []
    project_aliases: dict[str, str] = {}  # local name → project module it names
    kernel_names: dict[str, str] = {}  # local name → kernel module or publisher

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_project(alias.name):
                    local = alias.asname or alias.name.split(".")[0]
                    project_aliases[local] = alias.name if alias.asname else local
                    if alias.name in KERNEL_MODULES and alias.asname:
                        kernel_names[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, node, path.name == "__init__.py")
            if not _is_project(source):
                continue
            for alias in node.names:
                local = alias.asname or alias.name
                if _private(alias.name) and source != module:
                    found.append(("private", module, f"{source}.{alias.name}", node.lineno))
                project_aliases[local] = f"{source}.{alias.name}"
                if f"{source}.{alias.name}" in KERNEL_MODULES:
                    kernel_names[local] = f"{source}.{alias.name}"
                elif source in KERNEL_MODULES and alias.name in PUBLISHERS:
                    kernel_names[local] = alias.name

    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in project_aliases
            and _private(node.attr)
        ):
            target = project_aliases[node.value.id]
            if target != module:
                found.append(("private", module, f"{target}.{node.attr}", node.lineno))
        if isinstance(node, ast.Call) and not _is_publisher_module(root, module):
            func = node.func
            name = None
            if (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and kernel_names.get(func.value.id) in KERNEL_MODULES
                and func.attr in PUBLISHERS
            ):
                name = func.attr
            elif (
                isinstance(func, ast.Attribute)
                and func.attr == "publish"
                and isinstance(func.value, ast.Call)
                and isinstance(func.value.func, ast.Attribute)
                and kernel_names.get(getattr(func.value.func.value, "id", "")) == "core.fanout"
                and func.value.func.attr == "hub"
            ):
                name = "hub().publish"
            elif isinstance(func, ast.Name) and kernel_names.get(func.id) in PUBLISHERS:
                name = kernel_names[func.id]
            if name:
                found.append(("publish", module, name, node.lineno))
    return found


def check(root: Path) -> list[str]:
    errors: list[str] = []
    used: set[tuple[str, str, str]] = set()
    for app in APPS:
        for path in sorted((root / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for rule, module, what, line in check_file(root, path):
                key = (rule, module, what)
                if key in ALLOWED:
                    used.add(key)
                    continue
                where = f"{path.relative_to(root)}:{line}"
                if rule == "private":
                    errors.append(f"{where}: imports the private name {what} of another module")
                else:
                    errors.append(
                        f"{where}: publishes a frame ({what}) outside */events.py and the "
                        "realtime kernel"
                    )
    for key in sorted(set(ALLOWED) - used):
        errors.append(f"tools/check_boundaries.py: stale exception {key}: remove it from ALLOWED")
    return errors


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent
    errors = check(root)
    for error in errors:
        print(error)
    if errors:
        print(f"{len(errors)} boundary error(s) (tools/check_boundaries.py)")
        return 1
    print("Boundaries kept: no private names across modules, frames only from events.py.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
