"""irforge.plotting: every plot rendered headless to PNG on real IRs, checked not blank (pixel
variance inside each panel) and holding the expected lines; --plot on analyze, measure and
dereverb; a clear error without matplotlib."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.signal as ss
import soundfile as sf

pytest.importorskip("matplotlib", reason="matplotlib is in the test extra (irforge[plot])")

import irforge  # noqa: E402
from irforge import cli  # noqa: E402
from irforge.plotting import (  # noqa: E402
    plot_analysis,
    plot_dereverb,
    plot_ir,
    plot_measurement,
    save_figure,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference_ciba as rc  # noqa: E402
from conftest import data_file  # noqa: E402

HALL = "room_ir/openair_SpokaneWomansClub_stereo_44k.wav"
SEMINAR = "room_ir/spatialaudio_rir_clap_seminar_room.wav"
CAB = "cab_ir/adventurekid_Modern_UK_001.wav"
MUSEUM = "room_ir/freesound_peter1955_basement_museum_Unterlinden_clap_48k.wav"


def _pixels(fig) -> np.ndarray:
    """The figure rendered by Agg (what savefig writes), as an (h, w, 4) uint8 array."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())


def _assert_not_blank(fig, n_axes: int, text_only: tuple = ()) -> None:
    """The PNG decodes, and inside every panel (but those titled in ``text_only``, which hold a
    note) the pixels vary and a fair share is drawn on."""
    import matplotlib.image as mpimg

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=60)
    png = mpimg.imread(io.BytesIO(buf.getvalue()), format="png")
    assert png.ndim == 3 and png.shape[0] > 100 and png.shape[1] > 100
    assert float(png[..., :3].std()) > 0.05
    rgba = _pixels(fig)
    h = rgba.shape[0]
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == n_axes, [ax.get_title() for ax in panels]
    for ax in panels:
        if ax.get_title() in text_only:
            assert ax.texts, ax.get_title()
            continue
        bb = ax.get_window_extent()
        x0, x1 = int(bb.x0) + 2, int(bb.x1) - 2
        y0, y1 = h - int(bb.y1) + 2, h - int(bb.y0) - 2          # image rows run downwards
        region = rgba[y0:y1, x0:x1, :3].astype(float)
        assert region.size, ax.get_title()
        drawn = np.mean(np.any(region < 230, axis=-1))          # non-white share of the panel
        assert region.std() > 8.0 and drawn > 0.01, (ax.get_title(), region.std(), drawn)


def _labels(ax) -> list[str]:
    return [ln.get_label() for ln in ax.lines]


# --------------------------------------------------------------------------------------------
# ImpulseResponse.plot
# --------------------------------------------------------------------------------------------
def test_ir_plot_of_a_real_stereo_hall():
    ir = irforge.ImpulseResponse.load(data_file(HALL))
    fig = ir.plot()
    _assert_not_blank(fig, 3)
    wave, mag, spec = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert wave.get_title() == "Waveform" and _labels(wave) == ["ch 0", "ch 1"]
    assert mag.get_title().startswith("Magnitude response") and _labels(mag) == ["ch 0", "ch 1"]
    assert spec.get_title() == "Spectrogram (channel 0)" and len(spec.collections) == 1
    # the waveform is in dB re the peak: the top of each curve is 0 dB, nothing above
    tops = [float(np.max(ln.get_ydata())) for ln in wave.lines]
    assert max(tops) == pytest.approx(0.0, abs=1e-6) and min(tops) > -3
    # the magnitude response falls towards the low end of a hall IR's band (< 30 Hz)
    f, m = mag.lines[0].get_data()
    assert np.mean(m[f < 25]) < np.mean(m[(f > 200) & (f < 2000)]) - 20


def test_ir_plot_mono_cab_and_options():
    cab = irforge.ImpulseResponse.load(data_file(CAB)).to_mono()
    fig = plot_ir(cab, dynamic_range_db=60, smoothing_octaves=0)
    _assert_not_blank(fig, 3)
    wave, mag, _ = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert _labels(wave) == ["IR"] and mag.get_title() == "Magnitude response"
    assert wave.get_ylim()[0] == -60
    with pytest.raises(irforge.ParameterError, match="channel 1 does not exist"):
        cab.plot(channel=1)
    with pytest.raises(irforge.ParameterError, match="dynamic_range_db"):
        cab.plot(dynamic_range_db=-3)
    with pytest.raises(TypeError, match="ImpulseResponse"):
        plot_ir(cab.data)


def test_long_ir_is_drawn_from_an_envelope_that_keeps_the_peaks():
    ir = irforge.ImpulseResponse.load(data_file(HALL))
    wave = ir.plot().axes[0]
    y = wave.lines[0].get_ydata()
    assert y.size <= 4001                      # 6 s at 44.1 kHz reduced
    assert float(np.max(y)) == pytest.approx(20 * np.log10(np.max(np.abs(ir.data[0])) /
                                                           np.max(np.abs(ir.data))), abs=1e-6)


# --------------------------------------------------------------------------------------------
# analyze().plot
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rel", [HALL, SEMINAR])
def test_analysis_plot_of_real_rooms(rel):
    r = irforge.analyze(irforge.ImpulseResponse.load(data_file(rel)))
    fig = r.plot()
    _assert_not_blank(fig, 3)
    edc, times, clarity = fig.axes
    bands = [f"{fc:g} Hz" for fc in r.band_centers_hz]
    assert [lb for lb in _labels(edc) if lb.endswith(" Hz") or lb == "broadband"] == bands + ["broadband"]
    assert any(lb.startswith("EDT end") for lb in _labels(edc))
    assert any("T30 range" in p.get_label() for p in edc.patches)          # the shaded range
    # the T30 fit ends are marked: one pair of points per band that reaches -35 dB
    reach = sum(1 for fc in list(r.band_centers_hz) + [None] if np.nanmin(r.edc(0, fc)[1]) <= -35)
    assert len(edc.collections) == reach
    for c in edc.collections:
        np.testing.assert_allclose(c.get_offsets()[:, 1], [-5.0, -35.0])
    assert {"EDT", "T20", "T30"} <= set(_labels(times))
    t30 = times.lines[_labels(times).index("T30")].get_ydata()
    np.testing.assert_allclose(t30, r.t30_s[0])
    c80 = clarity.lines[_labels(clarity).index("C80")].get_ydata()
    np.testing.assert_allclose(c80, r.c80_db[0])


def test_analysis_plot_broadband_only_and_bad_channel():
    r = irforge.analyze(irforge.ImpulseResponse.load(data_file(SEMINAR)), bands=None)
    fig = plot_analysis(r)
    assert _labels(fig.axes[0]).count("broadband") == 1
    with pytest.raises(irforge.ParameterError, match="channel 3 does not exist"):
        plot_analysis(r, channel=3)
    with pytest.raises(TypeError, match="analyze"):
        plot_analysis({"t30_s": 1.0})


# --------------------------------------------------------------------------------------------
# measure_ir: harmonics and THD
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def measured_cab():
    """A real cab measured through a weakly nonlinear stage (2nd and 3rd order) with a 3 s
    exponential sweep; no reverberation beyond the cab, so the orders are separable."""
    cab = irforge.ImpulseResponse.load(data_file(CAB)).to_mono(channel=0).resample(48000)
    sw = irforge.sweeps.exponential(20, 20000, 3.0, sample_rate=48000)
    x = sw.signal
    h = cab.data[0].astype(np.float64)[:2400]          # the first 50 ms: separable orders
    y = np.concatenate([ss.fftconvolve(x + 0.02 * x ** 2 + 0.01 * x ** 3, h), np.zeros(24000)])
    return irforge.measure_ir(sw, y, ir_length_s=0.1, harmonics=3)


def test_measurement_plot_harmonics_and_thd(measured_cab):
    ir = measured_cab
    fig = plot_measurement(ir)
    _assert_not_blank(fig, 2)
    harm, dist = fig.axes
    assert _labels(harm) == ["linear"] + [f"order {k}" for k in sorted(ir.harmonics)]
    thd = ir.metadata["thd"]
    finite = [k for k, lv in sorted(thd["harmonic_levels_db"].items()) if np.isfinite(lv).any()]
    assert finite == [2, 3]
    assert _labels(dist) == ["THD"] + [f"order {k}" for k in finite]
    np.testing.assert_allclose(dist.lines[0].get_ydata(), 20 * np.log10(np.asarray(thd["thd"])[0]))
    # the second order lies above the third, as the distortion made it (0.02 x^2 vs 0.01 x^3)
    f = dist.lines[1].get_xdata()
    mid = (f > 200) & (f < 3000)
    assert np.nanmean(dist.lines[1].get_ydata()[mid]) > np.nanmean(dist.lines[2].get_ydata()[mid])


def test_measurement_plot_says_which_orders_are_not_separable():
    h = irforge.ImpulseResponse.load(data_file(HALL)).to_mono(channel=0).resample(48000).data[0][:48000 * 2]
    sw = irforge.sweeps.exponential(20, 20000, 2.0, sample_rate=48000)
    x = sw.signal
    y = np.concatenate([ss.fftconvolve(x + 0.01 * x ** 2, h), np.zeros(48000)])
    ir = irforge.measure_ir(sw, y, ir_length_s=2.0, harmonics=2)
    fig = plot_measurement(ir)
    _assert_not_blank(fig, 2, text_only=("Distortion versus frequency",))
    dist = fig.axes[1]
    assert _labels(dist) == []                              # nothing measurable drawn...
    assert any("not separable" in t.get_text() and "order 2" in t.get_text() for t in dist.texts)


def test_measurement_plot_needs_harmonics():
    cab = irforge.ImpulseResponse.load(data_file(CAB))
    with pytest.raises(irforge.ParameterError, match="method='inverse'"):
        plot_measurement(cab)


# --------------------------------------------------------------------------------------------
# dereverb().plot
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def workload():
    data_file(MUSEUM)
    return rc.make_paper_workload(periods=3, z_seconds=12.0, ir=MUSEUM)


@pytest.mark.parametrize("mode", ["reference", "improved"])
def test_dereverb_plot(workload, mode):
    x, y, z, h, dry = workload
    r = irforge.dereverb(z, excitation=x, recorded_excitation=y, sample_rate=48000, mode=mode)
    fig = r.plot()
    _assert_not_blank(fig, 3)
    dm, rho, irs = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert dm.get_title() == "Decay matrix" and len(dm.collections) == 1
    assert dm.collections[0].get_array().size == r.decay_matrix.size
    assert _labels(irs) == ["before", "after"]
    assert len(rho.lines) == 1
    # after the filter the room's late energy is lower than before
    before, after = (ln.get_ydata() for ln in irs.lines)
    late = slice(len(before) // 4, len(before) // 2)
    assert np.mean(after[late]) < np.mean(before[late]) - 6


# --------------------------------------------------------------------------------------------
# files, missing matplotlib
# --------------------------------------------------------------------------------------------
def test_save_figure_is_atomic_and_refuses_to_overwrite(tmp_path):
    fig = irforge.ImpulseResponse.load(data_file(CAB)).plot()
    out = save_figure(fig, tmp_path / "cab.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_figure(fig, out)
    save_figure(fig, out, overwrite=True)
    assert save_figure(fig, tmp_path / "cab.svg").read_text().lstrip().startswith("<?xml")
    with pytest.raises(irforge.ParameterError, match=r"\.png"):
        save_figure(fig, tmp_path / "cab.jpeg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cab.png", "cab.svg"]   # no temp litter


def test_missing_matplotlib_names_the_extra(monkeypatch, tmp_path):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)      # import matplotlib -> ImportError
    cab = irforge.ImpulseResponse.load(data_file(CAB))
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'irforge\[plot\]'"):
        cab.plot()
    # the CLI says so before any work, exit 2
    assert cli.main(["analyze", str(data_file(CAB)), "--plot", str(tmp_path / "a.png")]) == 2
    assert not (tmp_path / "a.png").exists()


# --------------------------------------------------------------------------------------------
# the command line
# --------------------------------------------------------------------------------------------
def _png_ok(path: Path) -> None:
    import matplotlib.image as mpimg

    img = mpimg.imread(path)
    assert img.shape[0] > 200 and float(img[..., :3].std()) > 0.05


def test_cli_analyze_plot(tmp_path, capsys):
    out = tmp_path / "hall.png"
    assert cli.main(["analyze", str(data_file(HALL)), "--plot", str(out)]) == 0
    _png_ok(out)
    assert f"wrote {out}" in capsys.readouterr().out
    # an existing plot: refused before any work with the CLI's words; --overwrite replaces
    assert cli.main(["analyze", str(data_file(HALL)), "--plot", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert cli.main(["analyze", str(data_file(HALL)), "--plot", str(out), "--overwrite"]) == 0
    assert cli.main(["analyze", str(data_file(HALL)), "--plot", str(tmp_path / "x.bmp")]) == 2
    assert "unsupported plot file extension" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hall.png"]


def test_cli_measure_plot(tmp_path, capsys):
    cab = irforge.ImpulseResponse.load(data_file(CAB)).to_mono(channel=0).resample(48000).data[0][:2400]
    sweep = tmp_path / "sweep.wav"
    assert cli.main(["sweep", str(sweep), "--duration", "2", "--gap", "0.5"]) == 0
    x, sr = sf.read(sweep)
    y = ss.fftconvolve(x + 0.02 * x ** 2, cab.astype(np.float64))
    sf.write(tmp_path / "rec.wav", y, sr, subtype="FLOAT")
    out = tmp_path / "m.png"
    assert cli.main(["measure", str(sweep), str(tmp_path / "rec.wav"), str(tmp_path / "ir.wav"),
                     "--length", "0.1", "--plot", str(out)]) == 0
    _png_ok(out)
    assert "harmonic IRs and THD" in capsys.readouterr().out
    # a plain excitation (no sweep description): division, no harmonics -> the IR's own plot
    sf.write(tmp_path / "plain.wav", x, sr, subtype="FLOAT")
    assert cli.main(["measure", str(tmp_path / "plain.wav"), str(tmp_path / "rec.wav"),
                     str(tmp_path / "ir2.wav"), "--length", "0.1", "--plot", str(tmp_path / "p.png")]) == 0
    _png_ok(tmp_path / "p.png")
    assert "gives no harmonics" in capsys.readouterr().out


def test_cli_dereverb_plot(tmp_path, workload, capsys):
    x, y, z, h, dry = workload
    for name, a in (("z", z), ("x", x), ("y", y)):
        sf.write(tmp_path / f"{name}.wav", a, 48000, subtype="FLOAT")
    out = tmp_path / "d.png"
    assert cli.main(["dereverb", str(tmp_path / "z.wav"), str(tmp_path / "x.wav"), str(tmp_path / "y.wav"),
                     str(tmp_path / "o.wav"), "--mode", "reference", "--plot", str(out)]) == 0
    _png_ok(out)
    assert "decay matrix" in capsys.readouterr().out
