"""Packaging: the build backend has nothing to warn about (so `make install` stays quiet), and the wheel holds
the package data the server serves."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def source_tree(tmp_path: Path) -> Path:
    """A copy of what a build reads, so the checkout gets no build/ or egg-info from the test."""
    tree = tmp_path / "src"
    tree.mkdir()
    shutil.copy(ROOT / "pyproject.toml", tree)
    shutil.copy(ROOT / "README.md", tree)
    shutil.copytree(ROOT / "mock_omni", tree / "mock_omni", ignore=shutil.ignore_patterns("__pycache__"))
    return tree


def build(tree: Path, hook: str) -> Path:
    """Run one PEP 517 hook of setuptools with every setuptools warning an error; the built wheel's path."""
    script = f"import setuptools.build_meta as backend; print(backend.{hook}('dist'))"
    result = subprocess.run([sys.executable, "-W", "error::UserWarning", "-c", script], cwd=tree,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return tree / "dist" / result.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_the_wheel_builds_without_a_warning_and_holds_the_package_data(source_tree: Path) -> None:
    with zipfile.ZipFile(build(source_tree, "build_wheel")) as wheel:
        names = set(wheel.namelist())
        metadata = next(wheel.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    expected = {"mock_omni/data/default-fixtures.json", "mock_omni/static/dashboard.html",
                "mock_omni/static/swagger-ui/swagger-ui-bundle.js", "mock_omni/static/swagger-ui/LICENSE"}
    assert expected <= names
    assert "License-Expression: MIT" in metadata.splitlines()


@pytest.mark.slow
def test_the_editable_install_builds_without_a_warning(source_tree: Path) -> None:
    with zipfile.ZipFile(build(source_tree, "build_editable")) as wheel:
        pth = [n for n in wheel.namelist() if n.endswith(".pth")]
        # One path line (the checkout), not a meta path finder that setuptools warns about.
        assert len(pth) == 1 and wheel.read(pth[0]).decode().strip() == str(source_tree)


def test_the_declared_pythons_are_one_range_from_requires_python_and_make_tests_each() -> None:
    """requires-python's floor is the oldest classifier, the classifiers have no gap, and `make test` runs
    the smoke on each (a version declared but never run is how 3.10 shipped broken)."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    prefix = "Programming Language :: Python :: 3."
    minors = sorted(int(c[len(prefix):]) for c in project["classifiers"] if c.startswith(prefix))
    assert minors == list(range(minors[0], minors[-1] + 1)), minors
    assert project["requires-python"] == f">=3.{minors[0]}"
    assert sys.version_info[:2] in [(3, minor) for minor in minors]
    makefile = (ROOT / "Makefile").read_text()
    assert "test: lint typecheck pytest pythons" in makefile
    dry = subprocess.run(["make", "-n", "-s", "-C", str(ROOT), "pythons"], capture_output=True, text=True, check=True)
    assert " ".join(f"3.{minor}" for minor in minors) in dry.stdout, dry.stdout
