"""Batch-render throughput (issue 13): stems x cab IRs through irforge.render against the
serial hand-written loop a user would write (soundfile read, irforge.convolve, protect against
clipping, soundfile write), and on a Dask LocalCluster; peak memory of the workers; and the
peak memory of one 1-hour stereo stem (streamed).

Run:  .venv/bin/python benchmarks/bench_render.py [--stems 200] [--irs 4] [--hour]

The stems are cut from the guitar DIs in ../shared/data (2-4 s each, 48 kHz, 24-bit), the
IRs are the first cab IRs there. Wall times drift on a shared machine; the ratios hold.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA_DIR, FS  # noqa: E402


def make_stems(folder: Path, n: int) -> list[Path]:
    import soxr

    sources = sorted((DATA_DIR / "dry").glob("guitarDI_*.wav"))
    dis = []
    for p in sources:
        x, sr = sf.read(p, dtype="float64", always_2d=True)
        x = x[:, 0]
        dis.append(soxr.resample(x, sr, FS) if sr != FS else x)
    rng = np.random.default_rng(7)
    out = []
    for i in range(n):
        d = dis[i % len(dis)]
        length = int(rng.uniform(2.0, 4.0) * FS)
        start = int(rng.integers(0, max(1, len(d) - length)))
        seg = d[start:start + length]
        seg = np.pad(seg, (0, length - len(seg)))
        p = folder / f"take{i:03d}.wav"
        sf.write(p, 0.5 * seg / max(1e-9, np.max(np.abs(seg))), FS, subtype="PCM_24")
        out.append(p)
    return out


def hand_loop(stems, irs, out: Path) -> None:
    """The loop of the issue: glob, names, skip-if-exists, try/except, protect the peak."""
    import irforge

    loaded = [(p.stem, irforge.ImpulseResponse.load(p)) for p in irs]
    for s in stems:
        x, sr = sf.read(s, dtype="float32", always_2d=True)
        for name, ir in loaded:
            dest = out / f"{s.stem}__{name}.wav"
            if dest.exists():
                continue
            try:
                y = irforge.convolve(x.T, ir, sample_rate=sr)
                peak = float(np.max(np.abs(y)))
                if peak > 0.99:
                    y *= 0.99 / peak
                sf.write(dest, y.T, sr, subtype="PCM_24")
            except Exception as exc:  # noqa: BLE001
                print("failed", s, name, exc)


def timed(fn, *a, **k) -> float:
    t = time.perf_counter()
    fn(*a, **k)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stems", type=int, default=200)
    ap.add_argument("--irs", type=int, default=4)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--no-dask", action="store_true")
    ap.add_argument("--hour", action="store_true", help="also the 1-hour stereo stem memory")
    args = ap.parse_args()

    import irforge

    root = Path(tempfile.mkdtemp(prefix="bench_render_"))
    try:
        (root / "stems").mkdir()
        stems = make_stems(root / "stems", args.stems)
        irs = sorted((DATA_DIR / "cab_ir").glob("*.wav"))[:args.irs]
        n_jobs = len(stems) * len(irs)
        print(f"{len(stems)} stems x {len(irs)} IRs = {n_jobs} jobs, "
              f"{sum(sf.info(s).frames for s in stems) / FS:.0f} s of audio per IR; "
              f"{os.cpu_count()} cores")
        rows = []

        def fresh(name):
            d = root / name
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir()
            return d

        t_hand = min(timed(hand_loop, stems, irs, fresh("hand")) for _ in range(args.reps))
        rows.append(("hand loop (serial, convolve + soundfile)", t_hand))
        for w in (1, 2):
            t = min(timed(irforge.render, stems, irs, fresh(f"w{w}"), gain="protect", workers=w)
                    for _ in range(args.reps))
            rows.append((f"irforge.render workers={w}", t))
        rss_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if not args.no_dask:
            from dask.distributed import Client, LocalCluster

            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cl, Client(cl) as client:
                client.run(lambda: __import__("irforge.batch"))   # warm the workers
                t = min(timed(irforge.render, stems, irs, fresh("dask"), gain="protect",
                              scheduler=client) for _ in range(args.reps))
            rows.append(("irforge.render Dask LocalCluster, 2 workers", t))
        t_pool = dict(rows)["irforge.render workers=2"]
        print(f"\n| run | wall s | jobs/s | vs hand loop | vs local pool |\n|---|---|---|---|---|")
        for name, t in rows:
            print(f"| {name} | {t:.2f} | {n_jobs / t:.1f} | {t_hand / t:.2f}x | {t_pool / t:.2f}x |")
        print(f"\npeak RSS of a local worker process: {rss_children:.0f} MiB")
        a = sorted((root / "w1").glob("*.wav"))
        b = sorted((root / "w2").glob("*.wav"))
        same = all(x.read_bytes() == y.read_bytes() for x, y in zip(a, b))
        print(f"workers=1 and workers=2 outputs identical: {same}")

        if args.hour:
            hour = root / "hour.wav"
            rng = np.random.default_rng(1)
            with sf.SoundFile(hour, "w", FS, 2, subtype="PCM_24") as f:
                for _ in range(60):
                    f.write(0.1 * rng.standard_normal((FS * 60, 2)).astype(np.float32))
            code = ("import irforge, resource, sys; r = irforge.render(sys.argv[1], sys.argv[2], "
                    "sys.argv[3], gain='protect', workers=1); assert r.ok, r.table(); "
                    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
            t = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", code, str(hour), str(irs[0]),
                                  str(fresh("hour"))], capture_output=True, text=True, check=True)
            print(f"1-hour stereo stem, 24-bit, through {irs[0].name}: peak RSS "
                  f"{float(out.stdout.split()[-1]):.0f} MiB, {time.perf_counter() - t:.0f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
