"""What a release ships: one version, the declared licence, honest classifiers."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import openproject_async

ROOT = Path(__file__).parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_one_version_in_pyproject_and_the_package() -> None:
    assert openproject_async.__version__ == PROJECT["version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", PROJECT["version"])  # a release, not a .dev


def test_the_declared_license_ships() -> None:
    assert PROJECT["license"] == "MIT"
    assert PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.splitlines()[:3] == [
        "MIT License",
        "",
        "Copyright (c) 2026 openproject-async developers",
    ]
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in text


def test_python_classifiers_match_requires_python() -> None:
    versions = [
        c.removeprefix("Programming Language :: Python :: ")
        for c in PROJECT["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    ]
    assert versions == ["3.11", "3.12", "3.13"]
    assert PROJECT["requires-python"] == f">={versions[0]}"


def test_ci_installs_what_the_release_checks_run() -> None:
    extras = PROJECT["optional-dependencies"]
    assert extras["dev"][0] == "openproject-async[test,cli,docs,release]"
    names = {re.split(r"[\[<>=]", d)[0] for d in extras["docs"] + extras["release"]}
    assert names == {"mkdocs", "mkdocs-material", "mkdocstrings", "build", "twine"}
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for step in ("mkdocs build --strict", "python -m build", "twine check", "demo --local"):
        assert step in ci


def test_the_changelog_has_a_dated_section_for_this_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    version = re.escape(openproject_async.__version__)
    assert re.search(rf"^## \[{version}\] - \d{{4}}-\d{{2}}-\d{{2}}$", text, re.M)
    assert text.index("## [Unreleased]") < text.index(f"## [{openproject_async.__version__}]")
