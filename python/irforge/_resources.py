"""Where irforge's data files are: the presets (TOML) at the repository's top level,
``presets/export`` and ``presets/chains``.

A wheel installs them inside the package (``irforge/presets/...``, by the CMake install rule in
CMakeLists.txt); a source checkout (an editable install, the test suite) reads them from the
top-level ``presets/`` folder beside ``python/``. Nothing else in irforge builds these paths.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["presets_dir"]

_HERE = Path(__file__).resolve().parent


def presets_dir(kind: str) -> Path:
    """The folder of one kind of preset (``"export"`` or ``"chains"``).

    Raises
    ------
    FileNotFoundError
        Neither the installed nor the source-tree folder exists (a broken installation).
    """
    for root in (_HERE / "presets", _HERE.parents[1] / "presets"):
        if (root / kind).is_dir():
            return root / kind
    raise FileNotFoundError(f"irforge's {kind} presets are missing (looked in {_HERE / 'presets'} "
                            f"and {_HERE.parents[1] / 'presets'}); reinstall irforge")
