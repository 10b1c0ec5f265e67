"""Regenerate the small PNGs the README and this site show (docs/_static/*.png).

    .venv/bin/python docs/make_figures.py

Uses the real hall IR in ../shared/data (OpenAIR Spokane Woman's Club, CC BY 3.0).
"""

from pathlib import Path

import irforge
from irforge.plotting import save_figure

HERE = Path(__file__).resolve().parent
HALL = HERE.parents[1] / "shared" / "data" / "room_ir" / "openair_SpokaneWomansClub_stereo_44k.wav"

if __name__ == "__main__":
    ir = irforge.ImpulseResponse.load(HALL)
    save_figure(irforge.analyze(ir).plot(), HERE / "_static" / "analysis_hall.png", overwrite=True, dpi=60)
    save_figure(ir.plot(), HERE / "_static" / "ir_hall.png", overwrite=True, dpi=60)
    for p in sorted((HERE / "_static").glob("*.png")):
        print(p, p.stat().st_size // 1024, "KiB")
