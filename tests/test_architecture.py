"""docs/ARCHITECTURE.md lists the very layers import-linter checks, and the checker passes."""
from __future__ import annotations

import configparser
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _normalised(lines) -> list[str]:
    return [re.sub(r"\s+", " ", line.strip()) for line in lines if line.strip()]


def _checker_layers() -> list[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    return _normalised(config["importlinter:contract:layers"]["layers"].splitlines())


def _documented_layers() -> list[str]:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    block = re.search(r"```layers\n(.*?)```", text, re.S)
    assert block, "docs/ARCHITECTURE.md has no ```layers block"
    return _normalised(block[1].splitlines())


def test_architecture_lists_the_checkers_layers():
    assert _documented_layers() == _checker_layers()


def test_every_gridsvc_package_is_in_a_layer_and_nothing_is_ignored():
    named = {name for line in _checker_layers() for name in re.split(r"[|:]", line.replace(" ", ""))}
    present = {path.stem if path.suffix == ".py" else path.name
               for path in (ROOT / "gridsvc").iterdir()
               if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").exists()}
    assert named == present
    assert "ignore_imports" not in (ROOT / ".importlinter").read_text()


def test_the_import_contracts_hold():
    result = subprocess.run([str(Path(sys.executable).with_name("lint-imports")), "--no-cache"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout
