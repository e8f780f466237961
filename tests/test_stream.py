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
