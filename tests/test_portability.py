"""One binary for every x86-64 CPU: no AVX instruction outside the dispatched kernels, no
-march=native in the build, and IRFORGE_ISA=generic forces the generic kernels."""
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# functions allowed to hold VEX/EVEX (AVX, AVX2, FMA, AVX-512) instructions: the kernels that
# are only called after the run-time check in irforge::cpu::avx2_fma()
ALLOWED_OBJECT = "fft_kernels_avx2.cpp.o"
ALLOWED_NAME = re.compile(r"avx2|load4")

x86_only = pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 check")


def _core_library(tmp_path_factory) -> Path:
    lib = ROOT / "build" / "cpp-tests" / "libirforge_core.a"  # made by `make test-cpp`
    if lib.exists():
        return lib
    cmake = shutil.which("cmake", path=str(Path(sys.executable).parent)) or shutil.which("cmake")
    out = tmp_path_factory.mktemp("core-build")
    subprocess.run([cmake, "-S", str(ROOT), "-B", str(out), "-DCMAKE_BUILD_TYPE=Release"], check=True,
                   capture_output=True)
    subprocess.run([cmake, "--build", str(out), "--target", "irforge_core", "-j2"], check=True, capture_output=True)
    return out / "libirforge_core.a"


@x86_only
def test_no_avx_outside_the_dispatched_kernels(tmp_path_factory):
    if not shutil.which("objdump"):
        pytest.fail("objdump (binutils) is needed for this check: apt-get install binutils")
    lib = _core_library(tmp_path_factory)
    dis = subprocess.run(["objdump", "-d", "-C", "--no-show-raw-insn", str(lib)], check=True,
                         capture_output=True, text=True).stdout
    obj = fn = ""
    offenders: dict[str, int] = {}
    kernels = 0
    for line in dis.splitlines():
        if line.endswith("file format elf64-x86-64"):
            obj = line.split(":")[0]
        elif line.endswith(">:"):
            fn = line
        elif "\t" in line:
            mnemonic = line.split("\t")[1].split(" ")[0] if len(line.split("\t")) > 1 else ""
            if mnemonic.startswith("v") and mnemonic not in ("verr", "verw"):
                if obj == ALLOWED_OBJECT or ALLOWED_NAME.search(fn):
                    kernels += 1
                else:
                    offenders[f"{obj}: {fn}"] = offenders.get(f"{obj}: {fn}", 0) + 1
    assert kernels > 100, "the AVX2 kernels were not found: is the check reading the right library?"
    assert not offenders, f"AVX instructions outside the dispatched kernels: {offenders}"


def test_no_native_tuning_in_what_ships():
    cmake = (ROOT / "CMakeLists.txt").read_text()
    assert re.search(r'option\(IRFORGE_NATIVE "[^"]*" OFF\)', cmake)
    for f in [ROOT / "pyproject.toml", ROOT / "Makefile", *ROOT.glob("cpp/**/*.*")]:
        assert "-march=native" not in f.read_text() or f.name == "CMakeLists.txt", f


def test_generic_kernels_can_be_forced():
    code = "from irforge import _core; print(_core._internal.fft_isa())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, IRFORGE_ISA="generic")).stdout.strip()
    assert out == "generic"
