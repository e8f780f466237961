"""``Detector.stream``: every frame of files in order, the latest-frame policy of live sources,
reconnection, and bad sources giving clear errors after the results already produced."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import fastdet
from load_frames import load_model, same
from videos import VideoServer, decoded_frames, grey_frames, write_video

pytest.importorskip("cv2", reason="video needs OpenCV")

N = 12


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_model(tmp_path_factory.mktemp("stream") / "m.onnx")


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("v") / "clip.avi", grey_frames(N))


@pytest.mark.parametrize("in_flight", [1, 3])
def test_video_file_every_frame_in_order(model, video, cpu_backend, in_flight):
    det = fastdet.Detector(model)
    expected = [det.detect(f) for f in decoded_frames(video)]
    assert len(expected) == N
    items = list(det.stream(video, in_flight=in_flight))
    assert [it.index for it in items] == list(range(N))
    assert [it.timestamp_ms for it in items] == pytest.approx([100.0 * i for i in range(N)])  # 10 fps container
    assert all(same(it.detections, e) for it, e in zip(items, expected))
    assert {it.source for it in items} == {str(video)} and [it.source_frame for it in items] == list(range(N))
    index, ts, frame, dets = items[3]  # unpacks as the 4-tuple the docs promise
    assert index == 3 and frame.shape == (48, 64, 3) and dets is items[3].detections


def test_arrays_pil_and_iterables(model):
    from PIL import Image

    det = fastdet.Detector(model, backend="onnxruntime-cpu")
    frames = grey_frames(5)
    expected = [det.detect(f) for f in frames]
    batch = np.stack(frames)  # [B, H, W, 3]
    for source in (frames, batch, iter(frames), (f for f in frames)):
        got = [d for _, _, _, d in det.stream(source)]
        assert len(got) == 5 and all(same(a, b) for a, b in zip(got, expected))
    (item,) = list(det.stream(frames[2]))  # one [H, W, 3] frame
    assert same(item.detections, expected[2]) and item.timestamp_ms is None
    rgb = Image.fromarray(frames[4][:, :, ::-1].copy())  # PIL is RGB: the same picture
    (item,) = list(det.stream(rgb))
    assert item.rgb and same(item.detections, expected[4])


def test_wrong_shape_mid_stream_raises_after_earlier_results(model):
    det = fastdet.Detector(model, backend="onnxruntime-cpu")
    frames = grey_frames(6)
    bad = frames[:3] + [np.zeros((48, 64), np.uint8)] + frames[3:]
    got = []
    with pytest.raises(fastdet.InputError, match="frame 3.*grayscale"):
        for item in det.stream(bad):
            got.append(item.index)
    assert got == [0, 1, 2]  # nothing produced before the bad frame is lost
    reported = []
    stream = det.stream(iter(bad), on_error=lambda e, src, i: reported.append((type(e), i)))
    assert [it.index for it in stream] == [0, 1, 2, 4, 5, 6]
    assert reported == [(fastdet.InputError, 3)] and len(stream.errors) == 1


def test_bad_sources(model, tmp_path):
    det = fastdet.Detector(model, backend="onnxruntime-cpu")
    with pytest.raises(fastdet.InputError, match="no such file"):
        det.stream(tmp_path / "missing.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"not a video" * 100)
    with pytest.raises(fastdet.InputError, match="cannot open .*junk.mp4"):
        det.stream(tmp_path / "junk.mp4")
    with pytest.raises(fastdet.InputError, match="no files match"):
        det.stream(str(tmp_path / "*.png"))
    with pytest.raises(fastdet.InputTypeError, match="source"):
        det.stream(3.5)
    # A camera that is not there: a clear error once the stream tries to open it, not a hang.
    with pytest.raises(fastdet.SourceError, match="camera 97: cannot open"):
        list(det.stream(97, open_timeout_s=0.3))


def test_folder_of_images_and_videos(model, tmp_path, video):
    import cv2
    import shutil

    det = fastdet.Detector(model, backend="onnxruntime-cpu")
    frames = grey_frames(3)
    for i, f in enumerate(frames):
        cv2.imwrite(str(tmp_path / f"img{i}.png"), f)
    shutil.copy(video, tmp_path / "z.avi")
    (tmp_path / "broken.jpg").write_bytes(b"no")
    items = list(det.stream(tmp_path, on_error=lambda *a: None))
    assert [it.source.rsplit("/", 1)[-1] for it in items[:3]] == ["img0.png", "img1.png", "img2.png"]
    assert len(items) == 3 + N and all(it.source.endswith("z.avi") for it in items[3:])
    assert [it.source_frame for it in items[3:]] == list(range(N))
    assert all(same(it.detections, det.detect(f)) for it, f in zip(items, frames))
    globbed = list(det.stream(str(tmp_path / "img*.png")))
    assert len(globbed) == 3


def test_live_policy_keeps_the_newest_frame_and_counts_drops(model):
    """A live source never waits for the detector: while the consumer is busy, only the newest
    unread frame is kept. Every frame is either yielded or counted as dropped."""
    det = fastdet.Detector(model, backend="onnxruntime-cpu")
    frames = grey_frames(60)
    all_read = threading.Event()

    def camera():
        yield from frames
        all_read.set()

    stream = det.stream(camera(), live=True)
    assert all_read.wait(60)  # the reader got through all 60 frames before we took any result
    indices = [it.index for it in stream]
    assert indices == sorted(indices) and indices[-1] == 59  # in order, and the newest one is kept
    assert len(indices) + stream.dropped == 60
    assert len(indices) <= 6  # in flight (3) + one waiting + one taken by the prepare stage, at most


def test_network_stream_reconnects_then_reports_it_closed(model, video):
    det = fastdet.Detector(model, backend="onnxruntime-cpu")
    server = VideoServer(video, passes=2)
    try:
        # live=False: every frame of both passes, so the count is exact.
        stream = det.stream(server.url, live=False, reconnect_s=0.5)
        got = []
        with pytest.raises(fastdet.SourceError, match="closed after 24 frames and did not come back"):
            for item in stream:
                got.append(item.index)
        assert got == list(range(2 * N))  # every result before the drop was yielded
        assert stream.reconnects == 1
    finally:
        server.close()


def test_stream_that_never_opens(model):
    det = fastdet.Detector(model, backend="onnxruntime-cpu")
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(fastdet.SourceError, match=r"http://127.0.0.1:\d+/cam: cannot open it \(\d+ attempts"):
        list(det.stream(f"http://127.0.0.1:{port}/cam", open_timeout_s=0.5))


def test_breaking_out_gives_buffers_back(model, video):
    det = fastdet.Detector(model, backend="onnxruntime-cpu")
    for _ in range(5):
        for item in det.stream(video):
            if item.index == 2:
                break
    with det.stream(video) as stream:
        next(stream)
    # Each abandoned stream released its leases: the pool still serves a full stream.
    assert len(list(det.stream(video))) == N
    assert det._backend.slots.size <= det._backend.slots.limit



def test_a_source_in_a_with_block_lets_its_file_go(video):
    """A source opened but never streamed lets its capture go at the end of a ``with`` block (it
    used to hold the file until collected)."""
    with fastdet.io.open_source(video) as source:
        assert source._cap.isOpened()
    assert not source._cap.isOpened()
    assert list(source.items()) == []  # closed: nothing more to read

def test_a_paused_stream_holds_no_buffers_another_call_needs(model):
    """An open stream nobody reads (paused, or broken out of while still referenced) keeps its
    results, not its buffers: other calls on the same Detector go on, even when the pool has no
    more slots than the stream has frames in flight."""
    det = fastdet.Detector(model, backend="onnxruntime-cpu")
    pool = det._backend.slots
    frames = grey_frames(40)
    stream = det.stream(frames, in_flight=pool.limit)
    next(stream)
    done = threading.Event()
    threading.Thread(target=lambda: (det.detect(frames[0]), done.set()), daemon=True).start()
    assert done.wait(30), "detect() waited forever for buffers held by a paused stream"
    assert len(list(stream)) == len(frames) - 1  # and the stream still gives every frame


def test_a_source_that_fails_to_start_raises(model):
    class Broken(fastdet.io.Source):
        name = "broken camera"

        def items(self):  # not a generator: raises when called
            raise fastdet.SourceError("broken camera: cannot open")

    det = fastdet.Detector(model, backend="onnxruntime-cpu")
    outcome = []

    def consume():
        try:
            list(det.stream(Broken()))
        except fastdet.SourceError as e:
            outcome.append(str(e))

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    t.join(30)
    assert outcome == ["broken camera: cannot open"]


def test_close_does_not_wait_for_a_blocked_iterable(model):
    """A caller's iterator that never yields again must not hang close() (nor interpreter exit)."""
    import queue
    import time

    det = fastdet.Detector(model, backend="onnxruntime-cpu")
    never: queue.Queue = queue.Queue()

    def frames():
        yield grey_frames(1)[0]
        yield never.get()  # blocks for good

    stream = det.stream(frames())
    next(stream)
    t0 = time.monotonic()
    stream.close()
    assert time.monotonic() - t0 < 5


def test_live_results_do_not_queue_behind_a_slow_consumer(model):
    """Live: a consumer slower than the camera gets recent frames, not a backlog of old results."""
    import time

    class Camera(fastdet.io.Source):
        live = True
        name = "camera"

        def __init__(self):
            self.stop = threading.Event()

        def items(self):
            frame, i = grey_frames(1)[0], 0
            while not self.stop.is_set():
                time.sleep(1 / 50)
                yield fastdet.io.SourceFrame(frame, self.name, i, time.time() * 1000.0)
                i += 1

        def close(self):
            self.stop.set()

    det = fastdet.Detector(model, backend="onnxruntime-cpu")
    ages = []
    with det.stream(Camera()) as stream:
        for item in stream:
            ages.append(time.time() * 1000.0 - item.timestamp_ms)
            if len(ages) == 12:
                break
            time.sleep(0.1)  # the loop's own work: 5x slower than the camera
    # A FIFO of results would make each one ~(queue + in flight) x 100 ms old by the end.
    assert max(ages[6:]) < 250, ages


def test_a_list_of_urls_honours_the_timeouts_and_reads_on_after_a_bad_one(model, video):
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    det = fastdet.Detector(model, backend="onnxruntime-cpu")
    server = VideoServer(video, passes=1)
    try:
        errors = []
        t0 = time.monotonic()
        got = list(det.stream([f"http://127.0.0.1:{port}/down", server.url], open_timeout_s=0.5, reconnect_s=0,
                              on_error=lambda e, where, frame: errors.append(where)))
        assert time.monotonic() - t0 < 8
        # The served clip's end reads as a stream that closed: reported in its place too.
        assert errors[0] == f"http://127.0.0.1:{port}/down" and len(got) == N
    finally:
        server.close()
