"""Threads (GIL released, same results as serial) and a leak test for the bindings."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np

import irforge
from irforge import _core
from conftest import decaying_noise_ir

SR = 48000


def test_many_convolvers_in_threads_equal_serial():
    h = decaying_noise_ir(9600)
    stems = [np.random.default_rng(k).uniform(-1, 1, 2 * SR).astype(np.float32) for k in range(8)]
    serial = [irforge.Convolver(h, sample_rate=SR).process(s, SR, buffer_size=256) for s in stems]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(
            lambda s: irforge.Convolver(h, sample_rate=SR).process(s, SR, buffer_size=256), stems))
    for a, b in zip(serial, threaded):
        np.testing.assert_array_equal(a, b)


def test_one_convolver_shared_by_threads_is_safe():
    # calls take turns on one stream: no crash, each call's output is a valid result
    h = decaying_noise_ir(500)
    fx = irforge.Convolver(h, sample_rate=SR)
    x = np.random.default_rng(0).uniform(-1, 1, 20000).astype(np.float32)
    ref = irforge.Convolver(h, sample_rate=SR).process(x, SR)
    with ThreadPoolExecutor(max_workers=4) as pool:
        outs = list(pool.map(lambda _: fx.process(x, SR), range(16)))
    for y in outs:
        np.testing.assert_array_equal(y, ref)


def test_offline_convolve_in_threads():
    h = decaying_noise_ir(4096, channels=2)
    xs = [np.random.default_rng(k).uniform(-1, 1, (2, SR)).astype(np.float32) for k in range(6)]
    serial = [irforge.convolve(x, h) for x in xs]
    with ThreadPoolExecutor(max_workers=3) as pool:
        threaded = list(pool.map(lambda x: irforge.convolve(x, h), xs))
    for a, b in zip(serial, threaded):
        np.testing.assert_array_equal(a, b)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_no_leak_in_engine_and_convolve():
    h = decaying_noise_ir(48000)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 8192)).astype(np.float32)

    def work():
        e = _core.Engine(h[None, :], [(0, 0, 0), (1, 1, 0)], 2, 2, 256)
        e.process(x)
        irforge.convolve(x, h)
        irforge.Convolver(h, sample_rate=SR).process(x, SR, buffer_size=64)

    for _ in range(5):
        work()
    before = _rss_bytes()
    for _ in range(60):
        work()
    grown = _rss_bytes() - before
    # each round allocates ~10 MB; a leak of even one engine per round would show as >= 60 MB
    assert grown < 30e6, f"RSS grew by {grown / 1e6:.1f} MB over 60 rounds"


def test_shared_convolver_is_fair_between_threads():
    # four threads calling one Convolver take turns in arrival order (a plain lock let one
    # thread run most of its calls in a row: 3-11 switches in 600 calls)
    import threading

    fx = irforge.Convolver(decaying_noise_ir(2000), sample_rate=SR)
    x = np.random.default_rng(0).uniform(-1, 1, 256).astype(np.float32)
    order: list[int] = []
    start = threading.Barrier(4)

    def worker(k):
        start.wait()
        for _ in range(150):
            fx.process(x, SR, reset=False)
            order.append(k)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    switches = sum(a != b for a, b in zip(order, order[1:]))
    assert len(order) == 600 and switches > 300, switches


def test_fair_lock_survives_an_interrupted_waiter():
    import threading

    from irforge._effect import FairLock

    lock = FairLock()
    lock.__enter__()                       # ticket 0 holds it
    lock._cond.acquire()
    lock._next += 1                        # ticket 1: a waiter that was interrupted
    lock._abandoned.add(1)
    lock._cond.release()
    done = []
    t = threading.Thread(target=lambda: (lock.__enter__(), done.append(1), lock.__exit__()))
    t.start()                              # ticket 2 must run once 0 leaves, skipping 1
    lock.__exit__()
    t.join(timeout=10)
    assert done == [1]
