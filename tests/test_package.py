"""The package surface: every public name resolves, lazily exported names included."""

import subprocess
import sys

import irforge


def test_all_public_names_resolve():
    eager = {"Convolver", "ImpulseResponse", "ParameterError", "convolve", "__version__"}
    assert set(irforge.__all__) == eager | set(irforge._LAZY)
    for name in irforge.__all__:
        assert getattr(irforge, name) is not None, name
    assert callable(irforge.measure_ir) and callable(irforge.capture)
    assert "cab-loader" in irforge.presets()


def test_unknown_attribute_is_attribute_error():
    try:
        irforge.does_not_exist  # noqa: B018
    except AttributeError as exc:
        assert "does_not_exist" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_import_is_light():
    # feature modules (and scipy.signal) load on first use, not at import
    code = "import sys, irforge; print(sorted(m for m in ('irforge.measure', 'scipy.signal') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_lazy_names_survive_submodule_imports():
    """Importing a feature module must not shadow a public function of the same name
    (a submodule import sets the package attribute): module names differ from API names."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(irforge.__path__):
        importlib.import_module(f"irforge.{info.name}")
    for name, (module, attr) in irforge._LAZY.items():
        value = getattr(irforge, name)
        expected = importlib.import_module(module) if attr is None else getattr(importlib.import_module(module), attr)
        assert value is expected, name


def test_one_version_and_the_licence_in_the_metadata():
    # pyproject.toml takes the version from __init__.py (one source); the MIT licence file
    # travels in the distribution's metadata
    from importlib import metadata

    assert metadata.version("irforge") == irforge.__version__
    meta = metadata.metadata("irforge")
    assert meta["License-Expression"] == "MIT"
    files = [str(f) for f in (metadata.files("irforge") or [])]
    assert any(f.endswith("LICENSE") for f in files), files


def test_presets_come_from_the_top_level_folder_or_the_wheel():
    """The presets live in presets/ at the repository's top level; a wheel carries them inside
    the package (CMake install rule). Either way every file there is a preset irforge lists."""
    from pathlib import Path

    from irforge._resources import presets_dir
    from irforge.batch import list_chain_presets

    export, chains = presets_dir("export"), presets_dir("chains")
    installed = Path(irforge.__file__).resolve().parent / "presets"
    source = Path(__file__).resolve().parents[1] / "presets"
    assert export.parent in (installed, source)
    if (source / "export").is_dir() and not installed.is_dir():     # a source checkout
        assert export.parent == source
    assert sorted(p.stem for p in export.glob("*.toml")) == irforge.presets()
    assert sorted(p.stem for p in chains.glob("*.toml")) == list_chain_presets()
    assert len(irforge.presets()) >= 5 and len(list_chain_presets()) >= 2
