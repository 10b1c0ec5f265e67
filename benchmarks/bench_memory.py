"""Peak memory of `irforge.convolve` on a 1-hour stereo float32 array (input + output is the
floor). Run: .venv/bin/python benchmarks/bench_memory.py"""
import resource
from pathlib import Path

import numpy as np
import soundfile as sf

import irforge

CAB = Path(__file__).resolve().parents[2] / "shared" / "data" / "cab_ir" / "adventurekid_Modern_UK_001.wav"

sr = 48000
x = np.zeros((2, sr * 3600), np.float32)
x[:, ::1000] = 0.1
h, _ = sf.read(CAB, dtype="float32")
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
y = irforge.convolve(x, h.T if h.ndim > 1 else h, sample_rate=sr)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"input {x.nbytes / 2**20:.0f} MiB, output {y.nbytes / 2**20:.0f} MiB, "
      f"peak RSS {peak / 1024:.0f} MiB (before the call {base / 1024:.0f})")
