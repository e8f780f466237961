"""BatchingDetector: grouping, back-pressure, timeouts, close(), errors kept to their own
requests, fixed-batch padding, asyncio. The waits that shape a batch are long (60 s) where a test
needs a batch to stay open, and the test ends it with close() or a full batch, never a sleep."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import onnx
import pytest

import fastdet
from load_frames import frame, load_model, same

FOREVER_MS = 60_000


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_model(tmp_path_factory.mktemp("batching") / "m.onnx")


@pytest.fixture(scope="module")
def det(model):
    return fastdet.Detector(model, backend="onnxruntime-cpu")


def test_requests_from_threads_form_one_batch(det):
    with fastdet.BatchingDetector(det, max_batch=4, max_delay_ms=FOREVER_MS, workers=1) as bd:
        start = threading.Barrier(4)
        futures = [None] * 4

        def client(i):
            start.wait()
            futures[i] = bd.submit(frame(i))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        results = [f.result(timeout=60) for f in futures]  # the fourth request filled the batch
    assert bd.stats.batches == 1 and bd.stats.sizes == {4: 1}
    assert all(same(r, det.detect(frame(i))) for i, r in enumerate(results))


def test_a_lone_request_runs_after_max_delay(det):
    with fastdet.BatchingDetector(det, max_batch=8, max_delay_ms=1) as bd:
        assert same(bd.detect(frame(7)), det.detect(frame(7)))
        assert bd.stats.sizes == {1: 1}


def test_back_pressure_close_drains_and_refuses(det):
    bd = fastdet.BatchingDetector(det, max_batch=8, max_delay_ms=FOREVER_MS, max_queue=3, workers=1)
    futures = [bd.submit(frame(i)) for i in range(3)]
    assert bd.waiting == 3
    with pytest.raises(fastdet.QueueFull, match="3 requests are waiting"):
        bd.submit(frame(3), block=False)
    with pytest.raises(fastdet.QueueFull, match="stayed waiting"):
        bd.submit(frame(3), queue_timeout=0.05)
    bd.close()  # runs the three at once instead of waiting for a fuller batch
    assert all(same(f.result(timeout=0), det.detect(frame(i))) for i, f in enumerate(futures))
    assert bd.stats.sizes == {3: 1}
    with pytest.raises(fastdet.Closed):
        bd.submit(frame(0))


def test_blocked_submit_proceeds_when_room_frees(det):
    bd = fastdet.BatchingDetector(det, max_batch=2, max_delay_ms=FOREVER_MS, max_queue=2, workers=1)
    first = [bd.submit(frame(i)) for i in range(2)]  # a full batch: runs, freeing the queue
    third = bd.submit(frame(2), queue_timeout=60)
    bd.close()
    assert [same(f.result(), det.detect(frame(i))) for i, f in enumerate([*first, third])] == [True] * 3


def test_timeouts_cancellations_and_bad_frames_stay_with_their_request(det):
    bd = fastdet.BatchingDetector(det, max_batch=8, max_delay_ms=FOREVER_MS, workers=1)
    late = bd.submit(frame(1), timeout=0.05)
    patient = bd.submit(frame(2))
    cancelled = bd.submit(frame(3))
    assert cancelled.cancel()
    with pytest.raises(fastdet.RequestTimeout, match="past its timeout"):
        late.result(timeout=60)  # the worker woke at its deadline, with the batch still open
    with pytest.raises(fastdet.InputError, match="grayscale"):
        bd.submit(np.zeros((8, 8), np.uint8))
    with pytest.raises(fastdet.InputTypeError):
        bd.submit(np.zeros((8, 8, 3), np.float32))
    bd.close()
    assert same(patient.result(timeout=0), det.detect(frame(2)))
    assert cancelled.cancelled() and bd.stats.timed_out == 1 and bd.stats.requests == 1


def test_fixed_batch_model_is_padded(model, tmp_path, cpu_backend):
    m = onnx.load(str(model))
    for vi in (m.graph.input[0], m.graph.output[0]):
        vi.type.tensor_type.shape.dim[0].dim_value = 2  # a model exported with batch 2
    fixed = tmp_path / "b2.onnx"
    onnx.save(m, str(fixed))
    det = fastdet.Detector(fixed)
    assert det.info.input_shape[0] == 2
    with fastdet.BatchingDetector(det, max_batch=3, max_delay_ms=FOREVER_MS, workers=1) as bd:
        futures = [bd.submit(frame(i)) for i in range(3)]  # one batch of 3: runs as 2 + (1 + padding)
        results = [f.result(timeout=60) for f in futures]
    ref = fastdet.Detector(model)
    assert all(same(r, ref.detect(frame(i))) for i, r in enumerate(results))


def test_asyncio(det):
    async def main(bd):
        return await asyncio.gather(*(bd.detect_async(frame(i)) for i in range(40)))

    with fastdet.BatchingDetector(det, max_batch=4, max_delay_ms=FOREVER_MS, max_queue=4) as bd:
        results = asyncio.run(main(bd))  # ten times max_queue: most wait for room, off the event loop
    assert all(same(r, det.detect(frame(i))) for i, r in enumerate(results))
    assert bd.stats.sizes == {4: 10}  # only full batches: each ran when its fourth request came


def test_options_are_checked(det, model):
    for kwargs, error in (({"max_batch": 0}, fastdet.InputError), ({"max_delay_ms": -1}, fastdet.InputError),
                          ({"max_queue": 1.5}, fastdet.InputTypeError), ({"workers": True}, fastdet.InputTypeError)):
        with pytest.raises(error):
            fastdet.BatchingDetector(det, **kwargs)
    with pytest.raises(fastdet.InputError, match="conf: give Detector options"):
        fastdet.BatchingDetector(det, conf=0.5)
    with fastdet.BatchingDetector(model, backend="onnxruntime-cpu", conf=0.99) as bd:  # built from a path
        assert len(bd.detect(frame(9))) == 0


def test_dropped_without_close_ends_its_workers(det):
    """A BatchingDetector the caller forgets to close is collected like any object: its queued
    requests still run, then its worker threads end."""
    import gc
    import threading
    import time

    before = threading.active_count()
    futures = []
    for i in range(5):
        bd = fastdet.BatchingDetector(det, max_batch=4, max_delay_ms=FOREVER_MS)
        futures.append(bd.submit(frame(i)))
        del bd
    gc.collect()
    for i, f in enumerate(futures):  # close() on collection runs what was queued, without waiting
        assert same(f.result(timeout=30), det.detect(frame(i)))
    deadline = time.monotonic() + 10
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() == before
