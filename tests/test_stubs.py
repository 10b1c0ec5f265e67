"""The type stubs of the C++ extension are generated (pybind11-stubgen) and checked (stubtest).

A binding that changes without `make stubs` fails here, naming the command that fixes it.
"""
import filecmp
import subprocess
import sys
from pathlib import Path

import pytest

STUBS = Path(__file__).resolve().parents[1] / "python" / "irforge" / "_core"
if not STUBS.is_dir():   # run against an installed wheel (make test-wheel): the stubs it ships
    import irforge

    STUBS = Path(irforge.__file__).resolve().parent / "_core"
ALLOWLIST = Path(__file__).resolve().parent / "stubtest_allowlist.txt"
# [tool.mypy]; make test-wheel copies pyproject.toml (not python/) beside the tests
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"

pytest.importorskip("pybind11_stubgen", reason="pybind11-stubgen is in the test extra")
pytest.importorskip("mypy", reason="mypy is in the test extra")


def test_committed_stubs_match_the_extension(tmp_path):
    subprocess.run([sys.executable, "-m", "pybind11_stubgen", "irforge._core", "-o", str(tmp_path)],
                   check=True, capture_output=True, text=True)
    fresh = tmp_path / "irforge" / "_core"
    names = sorted(p.name for p in fresh.glob("*.pyi"))
    assert names == sorted(p.name for p in STUBS.glob("*.pyi")), "run `make stubs`"
    _, mismatch, errors = filecmp.cmpfiles(fresh, STUBS, names, shallow=False)
    assert not mismatch and not errors, f"stale stubs {mismatch + errors}: run `make stubs`"


def test_stubtest_is_clean():
    r = subprocess.run([sys.executable, "-m", "mypy.stubtest", "irforge._core", "--allowlist", str(ALLOWLIST)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-1000:]


def test_mypy_is_clean_on_the_package(tmp_path):
    """mypy with the project's [tool.mypy] on the package: the checkout's, or the installed one."""
    package = STUBS.parent
    if PYPROJECT.is_file() and "[tool.mypy]" in PYPROJECT.read_text(encoding="utf-8"):
        options = ["--config-file", str(PYPROJECT)]
    else:  # no pyproject.toml beside the tests: its [tool.mypy] essentials on the command line
        options = ["--python-version", "3.10", "--ignore-missing-imports"]
    # an installed package is named, not given as a path: a path inside site-packages makes
    # site-packages a source root, and mypy then rejects every module there as shadowing
    installed = "site-packages" in package.parts or "dist-packages" in package.parts
    target = ["-p", "irforge"] if installed else [str(package)]
    r = subprocess.run([sys.executable, "-m", "mypy", *options, "--cache-dir", str(tmp_path / "cache"),
                        *target], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-20000:] + r.stderr[-2000:]
