"""What import-linter's layers contract cannot see: an import hidden inside a function, or behind
TYPE_CHECKING, between two apps (docs/ARCHITECTURE.md). Management commands and bench/ may
import lazily; nothing else does, so no cycle can hide."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = ("keybuzz", "tenants", "usage", "alerts", "ai", "reports", "console")


def _app_of(module: str | None) -> str | None:
    top = (module or "").split(".")[0]
    return top if top in APPS else None


def _code_files():
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "/management/commands/" not in path.as_posix():
                yield app, path


def _imported_modules(node: ast.AST) -> list[str]:
    if isinstance(node, ast.ImportFrom) and node.level == 0:
        return [node.module or ""]
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    return []


def test_no_function_imports_from_another_app():
    found = []
    for app, path in _code_files():
        for function in ast.walk(ast.parse(path.read_text())):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                for module in _imported_modules(node):
                    if _app_of(module) not in (None, app):
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno} {module}")
    assert found == []


def test_no_type_checking_imports_from_another_app():
    found = []
    for app, path in _code_files():
        for block in ast.walk(ast.parse(path.read_text())):
            if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test):
                for node in ast.walk(block):
                    for module in _imported_modules(node):
                        if _app_of(module) not in (None, app):
                            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {module}")
    assert found == []
