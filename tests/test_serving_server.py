"""fastdet on a real MLServer: started on free localhost ports with tiny models built here, an
inference worker process and adaptive batching, answering real REST and gRPC requests.

One server holds three routers: ``open`` (a model file, no policy), ``line`` (a registry line
with clients, limits and a challenger share) and ``shadow`` (another line whose challenger runs
in shadow). Each test sends requests and checks what came back, the decision lines, the metrics.
"""

from __future__ import annotations

import base64
import json
import textwrap
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("mlserver")

import fastdet  # noqa: E402

if fastdet._core.sanitized:
    pytest.skip("the sanitizer run checks native code; MLServer's servers are tested in the regular run",
                allow_module_level=True)

import grpc  # noqa: E402
from mlserver.grpc import dataplane_pb2 as pb  # noqa: E402
from mlserver.grpc import dataplane_pb2_grpc  # noqa: E402

from fastdet.quality.registry import Registry  # noqa: E402
from fastdet.serving.keys import key_sha256, new_key  # noqa: E402
from fastdet.serving.settings_files import ServeConfig, build, write  # noqa: E402
from mlserver_process import MLServerProcess, free_ports, http, infer_json, mlserver_command  # noqa: E402
from tiny_models import yolov8_like  # noqa: E402

pytestmark = pytest.mark.serve

NAMES = {"names": "{0: 'person', 1: 'car'}"}
CONF = 0.1
KEYS = {name: new_key() for name in ("alice", "bob", "carol", "lab", "small", "eve")}


def _model(path: Path, shift: float) -> Path:
    boxes = np.array([[20 + shift, 20, 16, 16], [21, 21, 16, 16], [44, 40 + shift, 10, 12], [50, 10, 8, 8]], np.float32)
    weights = np.array([[0.9, 0.8, 0.0, 0.6], [0.0, 0.0, 0.7, 0.0]], np.float32)
    return yolov8_like(path, boxes, weights, metadata=NAMES)


def _png(h: int = 48, w: int = 80, value: int = 255) -> bytes:
    return cv2.imencode(".png", np.full((h, w, 3), value, np.uint8))[1].tobytes()


POLICY = f"""
[clients.alice]
key_sha256 = "{key_sha256(KEYS['alice'])}"
models = ["line", "shadow"]

[clients.bob]
key_sha256 = "{key_sha256(KEYS['bob'])}"
models = ["line:v1"]
classes = ["car"]

[clients.carol]
key_sha256 = "{key_sha256(KEYS['carol'])}"
models = ["line"]
rate = 0.001
burst = 3

[clients.lab]
key_sha256 = "{key_sha256(KEYS['lab'])}"
models = ["line"]

[clients.small]
key_sha256 = "{key_sha256(KEYS['small'])}"
models = ["line"]
max_pixels = 1000

[clients.eve]
key_sha256 = "{key_sha256(KEYS['eve'])}"
models = ["shadow"]

[routing.line]
challenger = "v2"
challenger_share = 0.25
challenger_clients = ["lab"]
key = "camera_id"

[routing.shadow]
challenger = "v2"
shadow_share = 1.0
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    models = {v: _model(root / f"{v}.onnx", shift) for v, shift in (("v1", 0.0), ("v2", 3.0), ("v3", 6.0))}
    registry = Registry(root / "registry")
    for line in ("line", "shadow"):
        registry.add(line, models["v1"])
        registry.add(line, models["v2"])
        registry.add(line, models["v3"])
    (root / "policy.toml").write_text(textwrap.dedent(POLICY))
    http_port, grpc_port, metrics_port = free_ports(3)
    common = dict(http_port=http_port, grpc_port=grpc_port, metrics_port=metrics_port, workers=1, batch_size=4,
                  batch_time_ms=5.0, detector={"conf": CONF, "threads": 1}, decision_log=root / "decisions.jsonl")
    from fastdet.quality.drift_profile import build_profile

    rng = np.random.default_rng(1)
    profile = build_profile(fastdet.Detector(models["v1"], conf=CONF),
                            (np.clip(rng.normal(200, 20, (48, 80, 3)), 0, 255).astype(np.uint8) for _ in range(40)))
    profile.save(root / "profile.json")
    run_dir = root / "run"
    open_common = {**common, "detector": {**common["detector"], "drift_profile": str(root / "profile.json")},
                   "decision_log": root / "open-decisions.jsonl"}
    files = build(ServeConfig(name="open", model=models["v1"], **open_common), run_dir)
    for line in ("line", "shadow"):
        files.update(build(ServeConfig(name=line, registry=line, registry_root=registry.root,
                                       policy=root / "policy.toml", **common), run_dir))
    write(files, run_dir, with_key=True)
    server = MLServerProcess(mlserver_command(run_dir), http_port, root / "server.log", cwd=run_dir).start()
    try:
        server.wait_ready(["open", "open-detector", "line", "line-detector", "shadow", "shadow-detector"])
        yield {"server": server, "models": models, "registry": registry, "root": root, "grpc": grpc_port,
               "metrics": metrics_port}
    finally:
        code = server.stop()
        assert code == 0, server.log()[-3000:]


def rest(setup, model: str, body: bytes, key: str | None = None, headers: dict[str, str] | None = None):
    h = {"content-type": "application/json", **(headers or {})}
    if key:
        h["authorization"] = f"Bearer {key}"
    status, response_headers, raw = http("POST", f"{setup['server'].url}/v2/models/{model}/infer", body, h)
    return status, response_headers, json.loads(raw) if raw else None


def outputs(doc) -> dict:
    return {o["name"]: o for o in doc["outputs"]}


def boxes_of(doc) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    out = outputs(doc)
    n = out["scores"]["shape"][0]
    return (np.asarray(out["boxes"]["data"], np.float32).reshape(n, 4), np.asarray(out["scores"]["data"], np.float32),
            np.asarray(out["class_ids"]["data"], np.int32))


def expected(model: Path, image: bytes | np.ndarray, **options):
    det = fastdet.Detector(model, conf=CONF, **options)
    frame = image if isinstance(image, np.ndarray) else cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)
    return det.detect(frame)


def assert_same_boxes(doc, dets) -> None:
    xyxy, scores, ids = boxes_of(doc)
    assert len(dets) > 0
    np.testing.assert_array_equal(xyxy, dets.xyxy)
    np.testing.assert_array_equal(scores, dets.scores)
    np.testing.assert_array_equal(ids, dets.class_ids)


def grpc_infer(setup, model: str, inputs, metadata=(), parameters=None):
    with grpc.insecure_channel(f"127.0.0.1:{setup['grpc']}") as channel:
        stub = dataplane_pb2_grpc.GRPCInferenceServiceStub(channel)
        request = pb.ModelInferRequest(model_name=model, inputs=inputs)
        for k, v in (parameters or {}).items():
            request.parameters[k].string_param = v
        return stub.ModelInfer(request, metadata=metadata, timeout=30)


def image_input(data: bytes):
    return pb.ModelInferRequest.InferInputTensor(name="image", datatype="BYTES", shape=[1],
                                                 contents=pb.InferTensorContents(bytes_contents=[data]))


# -- correct boxes, REST and gRPC ------------------------------------------------------------------

def test_rest_boxes_equal_detector_detect(setup):
    image = _png()
    status, headers, doc = rest(setup, "open", infer_json(image))
    assert status == 200, doc
    assert_same_boxes(doc, expected(setup["models"]["v1"], image))
    out = outputs(doc)
    assert out["names"]["data"] == [fastdet.Detector(setup["models"]["v1"]).names[c] for c in out["class_ids"]["data"]]
    summary = json.loads(out["detections"]["data"][0])
    assert (summary["height"], summary["width"], summary["version"]) == (48, 80, "v1")
    assert [d["box"] for d in summary["detections"]] == out["boxes"]["data"][:4] * 0 + boxes_of(doc)[0].tolist()
    assert headers.get("x-fastdet-route") == "champion"


def test_raw_frames_rest_and_grpc(setup):
    rng = np.random.default_rng(0)
    frame = np.clip(rng.normal(200, 30, (37, 53, 3)), 0, 255).astype(np.uint8)
    status, _, doc = rest(setup, "open", infer_json(datatype="UINT8", shape=list(frame.shape),
                                                    data=frame.ravel().tolist()))
    assert status == 200, doc
    assert_same_boxes(doc, expected(setup["models"]["v1"], frame))
    reply = grpc_infer(setup, "open", [pb.ModelInferRequest.InferInputTensor(
        name="image", datatype="UINT8", shape=list(frame.shape),
        contents=pb.InferTensorContents(uint_contents=frame.ravel().tolist()))])
    out = {o.name: o for o in reply.outputs}
    np.testing.assert_array_equal(np.asarray(out["boxes"].contents.fp32_contents, np.float32).reshape(-1, 4),
                                  expected(setup["models"]["v1"], frame).xyxy)


def test_grpc_boxes_equal_detector_detect(setup):
    image = cv2.imencode(".jpg", np.full((64, 96, 3), 230, np.uint8))[1].tobytes()
    reply = grpc_infer(setup, "open", [image_input(image)])
    out = {o.name: o for o in reply.outputs}
    dets = expected(setup["models"]["v1"], image)
    np.testing.assert_array_equal(np.asarray(out["boxes"].contents.fp32_contents, np.float32).reshape(-1, 4), dets.xyxy)
    np.testing.assert_array_equal(np.asarray(out["scores"].contents.fp32_contents, np.float32), dets.scores)
    assert [b.decode() for b in out["names"].contents.bytes_contents] == [dets.name(c) for c in dets.class_ids]


def test_batched_detector_model_answers_each_image_on_its_own(setup):
    """The batch-major model directly: a corrupt image in a batch fails only itself."""
    good = _png()
    body = infer_json(name="images", data=[base64.b64encode(b).decode() for b in (good, b"\xff\xd8garbage", good)])
    status, _, doc = rest(setup, "open-detector", body)
    assert status == 200, doc
    out = outputs(doc)
    assert out["status"]["data"] == [200, 400, 200]
    assert out["boxes"]["shape"] == [3, 300, 4]
    n = out["num_detections"]["data"]
    assert n[1] == -1 and n[0] == n[2] == len(expected(setup["models"]["v1"], good))
    assert "cannot decode" in json.loads(out["detections"]["data"][1])["error"]


def test_an_item_that_cannot_be_read_fails_only_itself(setup):
    """An NPY header claiming a shape whose size overflows int64 is that item's 400, not the batch's."""
    good = _png()
    items = (good, _npy_claiming((HUGE, 4, 3)), _npy_claiming((2, 2)), good)
    body = infer_json(name="images", data=[base64.b64encode(b).decode() for b in items])
    status, _, doc = rest(setup, "open-detector", body)
    assert status == 200, doc
    assert outputs(doc)["status"]["data"] == [200, 400, 400, 200]


def test_a_batching_detector_model_refuses_raw_frames(setup):
    """The batcher merges requests with the first one's shape: frames of two sizes would be cut
    wrong, so a batching detector model takes frames only as BYTES items (NPY or encoded)."""
    frame = np.full((2, 6, 3), 250, np.uint8)
    status, _, doc = rest(setup, "open-detector", infer_json(name="images", datatype="UINT8", shape=[1, 2, 6, 3],
                                                             data=frame.ravel().tolist()))
    assert status == 400 and "BYTES item" in doc["error"], doc
    from concurrent.futures import ThreadPoolExecutor

    other = np.full((3, 5, 3), 9, np.uint8)  # two sizes that may land in one batch: both refused, clearly
    with ThreadPoolExecutor(2) as pool:
        replies = list(pool.map(lambda f: rest(setup, "open-detector", infer_json(
            name="images", datatype="UINT8", shape=[1, *f.shape], data=f.ravel().tolist())), (frame, other)))
    assert [(s, "BYTES item" in d["error"]) for s, _, d in replies] == [(400, True)] * 2, replies
    buf = __import__("io").BytesIO()
    np.save(buf, frame)
    status, _, doc = rest(setup, "open-detector", infer_json(buf.getvalue(), name="images"))
    assert status == 200 and outputs(doc)["status"]["data"] == [200], doc


def test_concurrent_requests_are_batched_and_answered_right(setup):
    """Many requests at once through the router: adaptive batching joins them in the detector
    model, and each answer is its own image's (brightness changes the scores)."""
    from concurrent.futures import ThreadPoolExecutor

    values = [120 + 8 * i for i in range(16)]
    images = [_png(value=v) for v in values]
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda im: rest(setup, "open", infer_json(im)), images))
    for image, (status, _, doc) in zip(images, replies):
        assert status == 200, doc
        assert_same_boxes(doc, expected(setup["models"]["v1"], image))


def test_router_and_direct_batch_clients_share_batches(setup):
    """Router requests and direct calls of the (open) detector model land in the same adaptive
    batches; each gets its own image's answer."""
    from concurrent.futures import ThreadPoolExecutor

    images = [_png(value=140 + 10 * i) for i in range(8)]

    def call(i: int):
        if i % 2:
            status, _, doc = rest(setup, "open-detector", infer_json(images[i], name="images"))
            out = outputs(doc)
            n = out["num_detections"]["data"][0]
            return status, np.asarray(out["boxes"]["data"], np.float32).reshape(-1, 4)[:n]
        status, _, doc = rest(setup, "open", infer_json(images[i]))
        return status, boxes_of(doc)[0]

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(call, range(8)))
    for image, (status, xyxy) in zip(images, answers):
        assert status == 200
        np.testing.assert_array_equal(xyxy, expected(setup["models"]["v1"], image).xyxy)


# -- bad requests: 4xx, and the server keeps serving ----------------------------------------------

def _npy_claiming(shape: tuple[int, ...]) -> bytes:
    """An NPY item whose header claims ``shape`` and that carries no pixels."""
    header = f"{{'descr': '|u1', 'fortran_order': False, 'shape': {shape}, }}"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode()


HUGE = 2 ** 62  # H * W * 3 wraps around in int64


@pytest.mark.parametrize("case", ["corrupt_jpeg", "fp32", "two_images", "four_channels", "hundred_megapixels",
                                  "empty_image", "wrong_name", "not_base64", "empty_body", "not_json",
                                  "npy_huge_shape", "uint8_huge_shape", "classes_nested_list", "classes_object",
                                  "version_with_newline"])
def test_bad_requests_are_4xx_and_the_server_keeps_serving(setup, case):
    big = cv2.imencode(".png", np.zeros((10000, 10000), np.uint8))[1].tobytes() if case == "hundred_megapixels" else b""
    bodies = {
        "corrupt_jpeg": infer_json(b"\xff\xd8\xff\xe0" + b"\x00garbage" * 50),
        "fp32": infer_json(datatype="FP32", shape=[2, 2, 3], data=[0.5] * 12),
        "two_images": infer_json(data=[base64.b64encode(_png()).decode()] * 2),
        "four_channels": infer_json(datatype="UINT8", shape=[2, 2, 4], data=[0] * 16),
        "hundred_megapixels": infer_json(big),
        "empty_image": infer_json(b""),
        "wrong_name": infer_json(_png(), name="images"),
        "not_base64": infer_json(data=["this is not base64!"]),
        "empty_body": b"",
        "not_json": b"{not json",
        "npy_huge_shape": infer_json(_npy_claiming((HUGE, 4, 3))),
        "uint8_huge_shape": infer_json(datatype="UINT8", shape=[HUGE, 4, 3], data=[]),
        "classes_nested_list": infer_json(_png(), parameters={"classes": [["person"]]}),
        "classes_object": infer_json(_png(), parameters={"classes": [{"a": 1}]}),
        "version_with_newline": infer_json(_png(), parameters={"version": "v1\nx"}),
    }
    status, _, doc = rest(setup, "open", bodies[case])
    assert 400 <= status < 500, (status, doc)
    if case in ("npy_huge_shape", "uint8_huge_shape", "classes_nested_list", "classes_object",
                "version_with_newline"):
        assert status == 400, doc
    assert doc and (doc.get("error") or doc.get("detail")), doc
    if case == "hundred_megapixels":
        assert status == 413 and "100.0 megapixels" in doc["error"]
    ok, _, good = rest(setup, "open", infer_json(_png()))
    assert ok == 200, good


@pytest.mark.parametrize("inputs, code", [
    ([], grpc.StatusCode.INVALID_ARGUMENT),
    ([pb.ModelInferRequest.InferInputTensor(name="image", datatype="FP32", shape=[1],
                                            contents=pb.InferTensorContents(fp32_contents=[1.0]))],
     grpc.StatusCode.INVALID_ARGUMENT),
    ([image_input(b"\xff\xd8\xff\xe0 garbage")], grpc.StatusCode.INVALID_ARGUMENT),
])
def test_bad_grpc_requests(setup, inputs, code):
    with pytest.raises(grpc.RpcError) as e:
        grpc_infer(setup, "open", inputs)
    assert e.value.code() == code


# -- the policy ------------------------------------------------------------------------------------

def test_policy_outcomes_over_rest(setup):
    image = _png()
    assert rest(setup, "line", infer_json(image), KEYS["alice"])[0] == 200
    assert rest(setup, "line", infer_json(image), headers={"x-api-key": KEYS["alice"]})[0] == 200
    status, _, doc = rest(setup, "line", infer_json(image))
    assert status == 401 and "no API key" in doc["error"]
    status, _, doc = rest(setup, "line", infer_json(image), "fdk_not-a-key")
    assert status == 401 and doc["error"] == "unknown API key"
    assert rest(setup, "line", infer_json(image), headers={"authorization": "Basic YTpi"})[0] == 401
    status, _, doc = rest(setup, "line", infer_json(image), KEYS["eve"])  # eve may use "shadow" only
    assert status == 403 and "may not use line" in doc["error"]
    status, _, doc = rest(setup, "line", infer_json(image, parameters={"version": "v2"}), KEYS["bob"])
    assert status == 403 and "'v2'" in doc["error"]
    status, _, doc = rest(setup, "line", infer_json(image, parameters={"classes": "person"}), KEYS["bob"])
    assert status == 403 and "person" in doc["error"]
    status, _, doc = rest(setup, "line", infer_json(image, parameters={"version": "v1\nx"}), KEYS["alice"])
    assert status == 400 and "version name" in doc["error"], doc
    status, _, doc = rest(setup, "line", infer_json(image, parameters={"classes": [{"a": 1}]}), KEYS["alice"])
    assert status == 400 and "classes" in doc["error"], doc
    status, _, doc = rest(setup, "line", infer_json(image), KEYS["small"])  # 80x48 > 1000 pixels
    assert status == 413, doc
    statuses = [rest(setup, "line", infer_json(image), KEYS["carol"])[0] for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    status, _, doc = rest(setup, "line", infer_json(image), KEYS["carol"])
    assert "over its rate" in doc["error"] and "retry in" in doc["error"]


def test_policy_outcomes_over_grpc(setup):
    image = image_input(_png())
    reply = grpc_infer(setup, "line", [image], metadata=[("authorization", f"Bearer {KEYS['alice']}")])
    assert reply.model_version in ("v1", "v2")
    for metadata, code in [((), grpc.StatusCode.UNAUTHENTICATED),
                           ([("x-api-key", "fdk_wrong")], grpc.StatusCode.UNAUTHENTICATED),
                           ([("x-api-key", KEYS["eve"])], grpc.StatusCode.PERMISSION_DENIED),
                           ([("x-api-key", KEYS["carol"])], grpc.StatusCode.RESOURCE_EXHAUSTED)]:
        with pytest.raises(grpc.RpcError) as e:
            grpc_infer(setup, "line", [image], metadata=metadata)
        assert e.value.code() == code, e.value.details()


def test_classes_of_a_client_are_the_only_ones_returned(setup):
    image = _png()
    status, _, doc = rest(setup, "line", infer_json(image), KEYS["bob"])
    assert status == 200, doc
    want = expected(setup["models"]["v1"], image)
    want = want[want.class_ids == 1]
    assert len(want) and outputs(doc)["names"]["data"] == ["car"] * len(want)
    assert_same_boxes(doc, want)


def test_the_detector_model_refuses_calls_that_bypass_the_router(setup):
    body = infer_json(name="images", data=[base64.b64encode(_png()).decode()])
    status, _, doc = rest(setup, "line-detector", body, KEYS["alice"])
    assert status == 200 and outputs(doc)["status"]["data"] == [403]
    assert outputs(doc)["num_detections"]["data"] == [-1]


# -- routing ---------------------------------------------------------------------------------------

def test_challenger_share_by_camera_and_named_clients(setup):
    image = _png()
    versions = {}
    for i in range(200):
        status, headers, doc = rest(setup, "line", infer_json(image, parameters={"camera_id": f"cam-{i}"}),
                                    KEYS["alice"])
        assert status == 200, doc
        versions[i] = doc["model_version"]
        assert doc["parameters"]["route"] == ("challenger" if versions[i] == "v2" else "champion")
    share = sum(v == "v2" for v in versions.values()) / len(versions)
    assert 0.25 - 0.1 < share < 0.25 + 0.1  # 200 cameras, share 0.25: sd 0.03
    for i in (0, 1, 2, 3, 4):  # a camera stays on its version
        doc = rest(setup, "line", infer_json(image, parameters={"camera_id": f"cam-{i}"}), KEYS["alice"])[2]
        assert doc["model_version"] == versions[i]
    challenger_cam = next(i for i, v in versions.items() if v == "v2")
    doc = rest(setup, "line", infer_json(image, parameters={"camera_id": f"cam-{challenger_cam}"}), KEYS["alice"])[2]
    assert_same_boxes(doc, expected(setup["models"]["v2"], image))  # the challenger really answered
    for i in range(5):  # lab always gets the challenger; bob (v1 only) never does
        assert rest(setup, "line", infer_json(image, parameters={"camera_id": f"cam-{i}"}), KEYS["lab"])[2][
            "model_version"] == "v2"
        assert rest(setup, "line", infer_json(image, parameters={"camera_id": f"cam-{challenger_cam}"}),
                    KEYS["bob"])[2]["model_version"] == "v1"


def _decisions(setup, event: str) -> list[dict]:
    path = setup["root"] / "decisions.jsonl"
    return [d for d in map(json.loads, path.read_text().splitlines()) if d["event"] == event]


def test_every_decision_is_one_structured_line(setup):
    rest(setup, "line", infer_json(_png(), parameters={"camera_id": "cam-log"}), KEYS["alice"])
    rest(setup, "line", infer_json(_png()))
    lines = _decisions(setup, "request")
    ok = [d for d in lines if d.get("key") == "cam-log"][-1]
    assert {"ts", "client", "model", "version", "route", "rule", "status", "latency_ms", "boxes"} <= set(ok)
    assert (ok["client"], ok["model"], ok["status"]) == ("alice", "line", 200)
    refused = [d for d in lines if d["status"] == 401][-1]
    assert refused["error"] and "client" not in refused


def test_each_router_logs_only_its_own_decisions(setup):
    """Routers in one process with their own decision logs: no line lands in the other's."""
    rest(setup, "open", infer_json(_png()))
    rest(setup, "line", infer_json(_png()), KEYS["alice"])
    deadline = time.monotonic() + 10
    while True:
        own = [json.loads(x)["model"] for x in (setup["root"] / "open-decisions.jsonl").read_text().splitlines()]
        shared = [d["model"] for d in _decisions(setup, "request")]
        if own and "line" in shared or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert own and set(own) == {"open"}
    assert "line" in shared and "open" not in shared


def _metric(setup, name: str, **labels) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    text = http("GET", f"http://127.0.0.1:{setup['metrics']}/metrics")[2].decode()
    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


def test_shadow_never_changes_responses_and_is_compared(setup):
    image = _png()
    want = expected(setup["models"]["v1"], image)
    def runs():
        return {r: _metric(setup, "fastdet_shadow_total", model="shadow", result=r)
                for r in ("compared", "skipped", "failed")}

    before = runs()
    for _ in range(6):
        status, headers, doc = rest(setup, "shadow", infer_json(image), KEYS["alice"])
        assert status == 200 and doc["model_version"] == "v1" and headers["x-fastdet-route"] == "champion"
        assert_same_boxes(doc, want)
    deadline = time.monotonic() + 30
    while sum(runs().values()) < sum(before.values()) + 6:  # each one compared, or skipped when 4 are in flight
        assert time.monotonic() < deadline, "shadow runs not counted"
        time.sleep(0.1)
    after = runs()
    assert after["failed"] == before["failed"] and after["compared"] > before["compared"]
    assert _metric(setup, "fastdet_shadow_agreement_count", model="shadow", champion="v1",
                   challenger="v2") == after["compared"]
    lines = [d for d in _decisions(setup, "shadow") if d["status"] == "compared"]
    assert lines and 0.0 <= lines[-1]["agreement"] < 1.0  # v2's boxes moved: not all agree
    assert all(d["route"] == "champion" for d in _decisions(setup, "request") if d["model"] == "shadow")


def test_champion_pointer_reloads_without_restart(setup):
    image = _png()
    registry: Registry = setup["registry"]

    def promote(old: str, new: str) -> None:
        registry.decide("shadow", {"champion": {"version": old}, "challenger": {"version": new}, "promoted": True,
                                   "reason": "test"})

    assert rest(setup, "shadow", infer_json(image), KEYS["alice"])[2]["model_version"] == "v1"
    promote("v1", "v3")
    try:
        doc = rest(setup, "shadow", infer_json(image), KEYS["alice"])[2]
        assert doc["model_version"] == "v3"
        assert_same_boxes(doc, expected(setup["models"]["v3"], image))
    finally:
        promote("v3", "v1")
    assert rest(setup, "shadow", infer_json(image), KEYS["alice"])[2]["model_version"] == "v1"


def test_metrics_by_client_route_status_and_stage(setup):
    rest(setup, "line", infer_json(_png()), KEYS["alice"])
    rest(setup, "line", infer_json(_png()))
    assert _metric(setup, "fastdet_requests_total", client="alice", model="line", status="200") >= 1
    assert _metric(setup, "fastdet_requests_total", model="line", status="401") >= 1
    for stage in ("decode", "preprocess", "inference", "postprocess"):
        assert _metric(setup, "fastdet_stage_seconds_count", model="line-detector", stage=stage) >= 1
    assert _metric(setup, "fastdet_detections_per_image_count", model="open-detector") >= 1
    assert _metric(setup, "fastdet_confidence_count", model="open-detector") >= 1
    assert _metric(setup, "fastdet_images_total", model="open-detector", status="400") >= 1
    # The drift monitor of the open model watches every frame it answers.
    assert _metric(setup, "fastdet_monitor_frames_total", monitor="open-detector") >= 1


def test_metrics_label_only_versions_that_answered(setup):
    """Versions a client names at will (unknown ones, say) must not each make new series."""
    from prometheus_client.parser import text_string_to_metric_families

    for i in range(3):
        status, _, doc = rest(setup, "line", infer_json(_png(), parameters={"version": f"nope{i}"}), KEYS["alice"])
        assert status == 400, doc
    assert _metric(setup, "fastdet_requests_total", client="alice", model="line", version="unknown", status="400") >= 3
    text = http("GET", f"http://127.0.0.1:{setup['metrics']}/metrics")[2].decode()
    versions = {s.labels.get("version") for f in text_string_to_metric_families(text) for s in f.samples}
    assert not any(v and v.startswith("nope") for v in versions), versions


def test_inference_runs_in_the_worker_pool(setup):
    """parallel_workers=1: the detector models live in a worker process, started with the uvloop
    the serve extra pins (0.22 and later crash these workers at start)."""
    from importlib.metadata import version

    from packaging.version import Version

    assert Version(version("uvloop")) < Version("0.22")
    assert len(setup["server"].children()) >= 1
