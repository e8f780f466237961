"""Request tensors in, response tensors out: the V2 (Open Inference) protocol's side of serving.

Detector model (batch-major, what MLServer's adaptive batching joins and splits along axis 0):

    in   images          BYTES [B] (encoded images or NPY frames; base64 text over REST)
                         or UINT8 [B, H, W, 3] (only without adaptive batching: the batcher
                         merges requests with the first one's shape); the one input (the router's items also carry the
                         version that answers them: ``fastdet.serving.images``)
    out  boxes           FP32  [B, max_det, 4]  xyxy in image pixels, zero rows after num_detections
         scores          FP32  [B, max_det]
         class_ids       INT32 [B, max_det]     -1 after num_detections
         num_detections  INT32 [B]              -1 for an image that failed
         status          INT32 [B]              200, or the HTTP status of the image's error
         detections      BYTES [B]              JSON per image: {"version", "height", "width",
                                                "detections": [...]} or {"error", "status"}

Router (one image per request): ``image`` BYTES [1] or UINT8 [H, W, 3] in; ``boxes`` [N, 4],
``scores`` [N], ``class_ids`` [N], ``names`` BYTES [N] and ``detections`` BYTES [1] (JSON) out.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from mlserver.types import InferenceRequest, RequestInput, ResponseOutput

from .errors import BadRequest

BATCH_INPUT = "images"
ROUTER_INPUT = "image"
BATCH_OUTPUTS = ("boxes", "scores", "class_ids", "num_detections", "status", "detections")


def _data(request_input: RequestInput) -> list[Any]:
    data = getattr(request_input.data, "root", request_input.data)
    return data if isinstance(data, list) else [data]


def _flat(items: list[Any]) -> list[Any]:
    """BYTES data as sent: [b, ...] or nested [[b], ...] for shape [B, 1]."""
    if items and isinstance(items[0], list):
        return [x for sub in items for x in (sub if isinstance(sub, list) else [sub])]
    return items


def _as_bytes(item: Any, what: str) -> bytes:
    if isinstance(item, (bytes, bytearray)):
        return bytes(item)
    if isinstance(item, str):
        # JSON cannot carry bytes: over REST a BYTES item is base64 text.
        try:
            return base64.b64decode(item, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest(f"{what}: over REST a BYTES item must be base64 text (an image's bytes, encoded)") from None
    raise BadRequest(f"{what}: expected bytes (base64 text over REST), got {type(item).__name__}")


def bytes_items(request_input: RequestInput, what: str) -> list[bytes]:
    """The items of a BYTES tensor of shape [B] or [B, 1]."""
    shape = list(request_input.shape)
    if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
        raise BadRequest(f"{what}: a BYTES tensor of images has shape [B] (or [B, 1]), got {shape}")
    items = _flat(_data(request_input))
    if len(items) != shape[0]:
        raise BadRequest(f"{what}: shape {shape} promises {shape[0]} items, {len(items)} came")
    return [_as_bytes(x, what) for x in items]


def uint8_array(request_input: RequestInput, what: str) -> np.ndarray:
    """A UINT8 tensor as a numpy array of its declared shape."""
    shape = [int(s) for s in request_input.shape]
    data = _data(request_input)
    try:
        if len(data) == 1 and isinstance(data[0], (bytes, bytearray)):
            a = np.frombuffer(data[0], np.uint8)
        else:
            a = np.asarray(data, dtype=np.uint8)
    except (OverflowError, ValueError, TypeError):
        raise BadRequest(f"{what}: UINT8 data must be whole numbers 0-255") from None
    if any(s < 0 for s in shape):
        raise BadRequest(f"{what}: shape {shape} has a negative size")
    count = math.prod(shape)  # Python ints: numpy's product wraps around in int64
    if a.size != count:
        raise BadRequest(f"{what}: shape {shape} needs {count} values, {a.size} came")
    return a.reshape(shape)


def _inputs_by_name(request: InferenceRequest, allowed: Sequence[str], required: str) -> dict[str, RequestInput]:
    names = [i.name for i in request.inputs]
    unknown = [n for n in names if n not in allowed]
    if unknown or required not in names or len(set(names)) != len(names):
        raise BadRequest(f"inputs: expected one input named {required!r} with the images, got {names}")
    return {i.name: i for i in request.inputs}


def batch_inputs(request: InferenceRequest) -> list[bytes] | np.ndarray:
    """The images of a (possibly merged) detector request: BYTES items, or a uint8[B, H, W, 3] array."""
    inputs = _inputs_by_name(request, (BATCH_INPUT,), BATCH_INPUT)
    images = inputs[BATCH_INPUT]
    if images.datatype == "BYTES":
        return bytes_items(images, BATCH_INPUT)
    if images.datatype == "UINT8":
        frames = uint8_array(images, BATCH_INPUT)
        if frames.ndim != 4 or frames.shape[3] != 3:
            raise BadRequest(f"{BATCH_INPUT}: a UINT8 tensor of frames has shape [B, H, W, 3], got {list(frames.shape)}")
        return frames
    raise BadRequest(f"{BATCH_INPUT}: expected datatype BYTES (encoded images) or UINT8 (frames), "
                     f"got {images.datatype}")


def router_input(request: InferenceRequest) -> bytes | np.ndarray:
    """The one image of a router request: its bytes (BYTES [1]) or a uint8[H, W, 3] frame."""
    inputs = _inputs_by_name(request, (ROUTER_INPUT,), ROUTER_INPUT)
    image = inputs[ROUTER_INPUT]
    if image.datatype == "BYTES":
        items = bytes_items(image, ROUTER_INPUT)
        if len(items) != 1:
            raise BadRequest(f"{ROUTER_INPUT}: one image per request, got {len(items)}")
        return items[0]
    if image.datatype == "UINT8":
        a = uint8_array(image, ROUTER_INPUT)
        if a.ndim == 4 and a.shape[0] == 1:
            a = a[0]
        if a.ndim != 3 or a.shape[2] != 3:
            raise BadRequest(f"{ROUTER_INPUT}: a UINT8 frame has shape [H, W, 3], got {list(a.shape)}")
        return a
    raise BadRequest(f"{ROUTER_INPUT}: expected datatype BYTES (an encoded image) or UINT8 (a frame [H, W, 3]), "
                     f"got {image.datatype}")


@dataclass
class ItemResult:
    """One image's answer in a batch: status 200 with boxes, or an error status and message."""

    status: int
    version: str | None = None
    xyxy: np.ndarray | None = None
    scores: np.ndarray | None = None
    class_ids: np.ndarray | None = None
    names: Any = None
    image_shape: tuple[int, int] | None = None
    message: str | None = None

    def to_json(self) -> bytes:
        if self.status != 200:
            return json.dumps({"status": self.status, "error": self.message, "version": self.version}).encode()
        assert self.xyxy is not None and self.scores is not None and self.class_ids is not None
        h, w = self.image_shape or (0, 0)
        rows = [{"box": b, "score": s, "class_id": c, "name": self.names.get(c, str(c))}
                for b, s, c in zip(self.xyxy.tolist(), self.scores.tolist(), self.class_ids.tolist())]
        return json.dumps({"version": self.version, "height": h, "width": w, "detections": rows}).encode()


def batch_outputs(results: list[ItemResult], max_det: int) -> list[ResponseOutput]:
    """The detector model's outputs for B results, padded to max_det rows each."""
    b = len(results)
    boxes = np.zeros((b, max_det, 4), np.float32)
    scores = np.zeros((b, max_det), np.float32)
    ids = np.full((b, max_det), -1, np.int32)
    counts = np.full(b, -1, np.int32)
    for i, r in enumerate(results):
        if r.status == 200 and r.xyxy is not None:
            n = min(len(r.xyxy), max_det)
            boxes[i, :n], scores[i, :n], ids[i, :n], counts[i] = r.xyxy[:n], r.scores[:n], r.class_ids[:n], n
    return [
        ResponseOutput(name="boxes", shape=[b, max_det, 4], datatype="FP32", data=boxes.ravel().tolist()),
        ResponseOutput(name="scores", shape=[b, max_det], datatype="FP32", data=scores.ravel().tolist()),
        ResponseOutput(name="class_ids", shape=[b, max_det], datatype="INT32", data=ids.ravel().tolist()),
        ResponseOutput(name="num_detections", shape=[b], datatype="INT32", data=counts.tolist()),
        ResponseOutput(name="status", shape=[b], datatype="INT32", data=[r.status for r in results]),
        ResponseOutput(name="detections", shape=[b], datatype="BYTES", data=[r.to_json() for r in results]),
    ]


def router_outputs(xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, names: Sequence[str],
                   summary: dict[str, Any]) -> list[ResponseOutput]:
    """The router's outputs for one image: N boxes and their JSON form (``summary`` plus the list)."""
    n = len(scores)
    rows = [{"box": b, "score": s, "class_id": c, "name": nm}
            for b, s, c, nm in zip(xyxy.tolist(), scores.tolist(), class_ids.tolist(), names)]
    doc = json.dumps({**summary, "detections": rows}).encode()
    return [
        ResponseOutput(name="boxes", shape=[n, 4], datatype="FP32", data=xyxy.astype(np.float32).ravel().tolist()),
        ResponseOutput(name="scores", shape=[n], datatype="FP32", data=scores.astype(np.float32).tolist()),
        ResponseOutput(name="class_ids", shape=[n], datatype="INT32", data=class_ids.astype(np.int32).tolist()),
        ResponseOutput(name="names", shape=[n], datatype="BYTES", data=[s.encode() for s in names]),
        ResponseOutput(name="detections", shape=[1], datatype="BYTES", data=[doc]),
    ]
