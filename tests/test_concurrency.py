"""One Detector shared by many threads: no lost, mixed or wrong results, and no lock on the hot
path (the native thread pool serves independent callers at once; ``fastdet.detect``'s cache is
bounded)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import fastdet
from fastdet import _core, detector
from fastdet.backends.slots import SlotPool
from load_frames import frame, load_model, same

THREADS = 16
PER_THREAD = 500


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_model(tmp_path_factory.mktemp("load") / "load.onnx")


@pytest.fixture(scope="module")
def references(model):
    """backend -> the detections of every load frame, one call at a time on a Detector of its own
    (OpenVINO and ONNX Runtime differ in the last bits of a score, so each has its own)."""
    cache: dict[str, list] = {}

    def get(backend: str) -> list:
        if backend not in cache:
            ref = fastdet.Detector(model, backend=backend)
            cache[backend] = [ref.detect(frame(k)) for k in range(THREADS * PER_THREAD)]
        return cache[backend]

    return get


@pytest.fixture
def expected(references, cpu_backend):
    return references(cpu_backend)


def run_clients(call, threads: int = THREADS, per_thread: int = PER_THREAD) -> list[list[tuple[int, object]]]:
    """``call(thread, k)`` for per_thread frames in each of ``threads`` threads started together;
    returns each thread's (k, result) pairs."""
    start = threading.Barrier(threads)

    def client(t: int) -> list[tuple[int, object]]:
        start.wait()
        return [(k, call(t, k)) for k in range(t * per_thread, (t + 1) * per_thread)]

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(client, range(threads)))


def check(results, expected) -> None:
    seen = [k for per_thread in results for k, _ in per_thread]
    assert sorted(seen) == list(range(len(expected)))  # none lost, none twice
    wrong = [k for per_thread in results for k, d in per_thread if not same(d, expected[k])]
    assert wrong == []  # none mixed up with another request's, none wrong


def test_native_pool_serves_callers_at_once():
    """Four callers are inside the pool's loops together: a pool that ran one caller's loop at a
    time would keep the first waiting for the others until the timeout."""
    barrier = threading.Barrier(4)
    results = []

    def caller():
        barrier.wait()
        results.append(_core._pool_callers_overlap(4, 20000))

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 4


def test_native_pool_passes_an_exception_back_and_keeps_working():
    """A chunk that throws (on the caller or on a worker) reaches its caller as an exception; the
    pool's other callers and later calls are unaffected."""
    frame = np.random.default_rng(0).integers(0, 256, (480, 640, 3), np.uint8)
    expected = fastdet.letterbox(frame, 320)[0]
    failures = []

    def caller(k):
        for i in range(50):
            try:
                _core._pool_throw_at(64, (k * 7 + i) % 64)
            except RuntimeError as e:
                failures.append(str(e))
            assert np.array_equal(fastdet.letterbox(frame, 320)[0], expected)

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert failures == ["parallel_for: chunk failed"] * 200


class _Slot:
    def input_for(self, batch):
        return None

    def run(self, batch):
        return None


def _until(condition, seconds: float = 60.0) -> None:
    """Waits for a state another thread reaches (not a delay: it returns as soon as it holds)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the other thread never got there"
        time.sleep(0.001)


def test_slot_pool_is_bounded_and_first_come_first_served():
    """With every slot out, waiting callers get returned slots in the order they asked; the thread
    that gives a slot back and asks again at once queues behind them."""
    pool = SlotPool(_Slot, limit=1)
    first = pool.lease(1)
    order: list[str] = []

    def waiter(name):
        lease = pool.lease(1)
        order.append(name)
        lease.release()

    b = threading.Thread(target=waiter, args=("b",))
    b.start()
    _until(lambda: len(pool._waiters) == 1)
    c = threading.Thread(target=waiter, args=("c",))
    c.start()
    _until(lambda: len(pool._waiters) == 2)
    first.release()
    again = pool.lease(1)  # after b and c, never before them
    order.append("a")
    again.release()
    b.join()
    c.join()
    assert order == ["b", "c", "a"] and pool.size == 1


@pytest.mark.parametrize("handed_over", [False, True])
def test_slot_pool_interrupted_wait_loses_no_slot(monkeypatch, handed_over):
    """Ctrl-C (any exception from a signal handler) while a caller waits for a slot, before or
    just after a slot was handed to it: the slot is not lost with the caller that left. (The
    interruption is raised in the wait itself, so that each branch is hit for certain; a real
    SIGINT is tested in test_openvino.py.)"""
    from fastdet.backends import slots

    class InterruptedLock:
        def __init__(self):
            self.lock = threading.Lock()
            self.lock.acquire()

        def acquire(self):
            if handed_over:
                self.lock.acquire()  # wait until the slot is handed over, then get interrupted
            raise KeyboardInterrupt

        def release(self):
            self.lock.release()

    class InterruptedWaiter(slots._Waiter):
        def __init__(self):
            super().__init__()
            self.ready = InterruptedLock()

    pool = SlotPool(_Slot, limit=1)
    held = pool.lease(1)
    monkeypatch.setattr(slots, "_Waiter", InterruptedWaiter)
    if handed_over:
        threading.Thread(target=lambda: (_until(lambda: len(pool._waiters) == 1), held.release()),
                         daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        pool.lease(1)
    monkeypatch.undo()
    assert not pool._waiters
    if not handed_over:
        held.release()
    done = []
    t = threading.Thread(target=lambda: done.append(pool.lease(1)), daemon=True)
    t.start()
    t.join(10)
    assert done, "the slot given back was lost to the interrupted caller"


def test_slot_pool_wakes_waiters_when_making_a_slot_fails():
    """Callers waiting for the pool's last slots are told when making them failed, and try
    themselves, instead of waiting for a slot that will never exist."""
    gate = threading.Event()
    made = []

    def make():
        made.append(1)
        gate.wait(10)
        raise RuntimeError("no memory for the slot")

    pool = SlotPool(make, limit=1)
    outcomes: list[str] = []

    def call():
        try:
            pool.lease(1)
        except RuntimeError:
            outcomes.append("error")

    threads = [threading.Thread(target=call, daemon=True) for _ in range(3)]
    for t in threads:
        t.start()
    _until(lambda: len(pool._waiters) == 2)
    gate.set()
    for t in threads:
        t.join(10)
    assert outcomes == ["error"] * 3 and len(made) == 3 and pool.size == 0


def test_shared_detector_16_threads(model, expected, cpu_backend):
    det = fastdet.Detector(model)
    assert det.backend == cpu_backend and det._backend.concurrent
    check(run_clients(lambda t, k: det.detect(frame(k))), expected)
    # Buffers came from the small pool, not one set per call.
    assert det._backend.slots.size <= det._backend.slots.limit


def test_shared_detector_mixed_batches_and_per_call_options(model, expected, cpu_backend):
    """Batches of different sizes and per-call thresholds from many threads at once: each call
    gets its own frames' results under its own options."""
    det = fastdet.Detector(model)

    def call(t, k):
        if t % 2:
            return det.detect(frame(k), conf=0.99)  # above every score: nothing kept
        return det.detect([frame(k), frame(k + 1)])

    results = run_clients(call, threads=8, per_thread=40)
    for t, per_thread in enumerate(results):
        for k, d in per_thread:
            if t % 2:
                assert len(d) == 0 and d.image_shape == expected[k].image_shape
            else:
                assert same(d[0], expected[k]) and same(d[1], expected[k + 1])


def test_detect_cache_is_bounded_lru(model, monkeypatch):
    monkeypatch.setattr(detector, "CACHE_SIZE", 3)
    f = frame(5)
    for cap in range(100, 106):  # six Detector option sets: six Detectors, three kept
        fastdet.detect(f, model=model, max_candidates=cap)
    assert len(detector._DEFAULTS) == 3
    kept = [dict(key[2])["max_candidates"] for key in detector._DEFAULTS]
    assert kept == [103, 104, 105]
    fastdet.detect(f, model=model, max_candidates=103)  # used again: now the most recent
    fastdet.detect(f, model=model, max_candidates=200)  # evicts the least recent, 104
    assert [dict(key[2])["max_candidates"] for key in detector._DEFAULTS] == [105, 103, 200]


def test_batching_detector_16_threads(model, expected, cpu_backend):
    det = fastdet.Detector(model)
    with fastdet.BatchingDetector(det, max_batch=8, max_delay_ms=2) as bd:
        check(run_clients(lambda t, k: bd.submit(frame(k)).result()), expected)
    assert bd.stats.requests == THREADS * PER_THREAD and bd.stats.largest > 1


def test_streams_over_lists_16_threads(model, expected, cpu_backend):
    """Sixteen streams at once through one Detector, each over its own list of 500 frames."""
    det = fastdet.Detector(model)
    start = threading.Barrier(THREADS)

    def client(t: int) -> list[tuple[int, object]]:
        ks = range(t * PER_THREAD, (t + 1) * PER_THREAD)
        start.wait()
        items = list(det.stream([frame(k) for k in ks]))
        assert [it.index for it in items] == list(range(PER_THREAD))  # every frame, in order
        return [(k, it.detections) for k, it in zip(ks, items)]

    with ThreadPoolExecutor(THREADS) as pool:
        check(list(pool.map(client, range(THREADS))), expected)
