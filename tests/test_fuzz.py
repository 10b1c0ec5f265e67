"""Standing fuzz check of the C++ bindings (tests/fuzz_core.py): random dtypes, shapes,
strides, NaN/Inf and extreme sizes; a crash, a hang or an exception other than
ValueError/TypeError/OverflowError fails. A short run here; `make fuzz` runs a long one."""
import fuzz_core


def test_core_bindings_survive_random_calls():
    res = fuzz_core.run(calls=800, seed=20261202)
    assert res["calls"] == 800
    assert not res["findings"], res["findings"]
    # every binding was exercised, and some calls got through validation
    assert len(res["per_function"]) == len(fuzz_core._call_specs(__import__("irforge")._core))
    assert res["ok"] > 50
