"""The router's call to the detector model: one image over gRPC, through the server's own
inference endpoint (so MLServer's adaptive batching and worker pool apply to it).

The address is the server's gRPC port by default (``fastdet serve`` writes it); where the detector
model is served elsewhere (another container, or a mesh that needs routing headers), ``upstream``
and ``extra_headers`` say where and how.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import Unavailable, UpstreamError
from .tensors import BATCH_INPUT

#: gRPC message limit both ways: a 4K raw frame as NPY is 25 MB.
MAX_MESSAGE = 64 * 1024 * 1024


@dataclass
class Answer:
    """The detector's answer for one image."""

    status: int
    version: str | None
    xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    names: list[str]
    height: int = 0
    width: int = 0
    message: str | None = None


class Upstream:
    """An async gRPC client of one detector model (the channel is made in the serving event loop)."""

    def __init__(self, address: str, model: str, timeout_s: float, headers: dict[str, str] | None = None) -> None:
        self.address = address
        self.model = model
        self.timeout_s = timeout_s
        self.metadata = tuple((headers or {}).items())
        self._channel: Any = None
        self._stub: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _connect(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._stub is None or self._loop is not loop:
            import grpc
            from mlserver.grpc import dataplane_pb2_grpc

            self._channel = grpc.aio.insecure_channel(self.address, options=[
                ("grpc.max_send_message_length", MAX_MESSAGE), ("grpc.max_receive_message_length", MAX_MESSAGE)])
            self._stub = dataplane_pb2_grpc.GRPCInferenceServiceStub(self._channel)
            self._loop = loop
        return self._stub

    async def detect(self, item: bytes) -> Answer:
        """One image (an enveloped BYTES item, which names its version) through the detector model."""
        import grpc
        from mlserver.grpc import dataplane_pb2 as pb

        inputs = [pb.ModelInferRequest.InferInputTensor(
            name=BATCH_INPUT, datatype="BYTES", shape=[1], contents=pb.InferTensorContents(bytes_contents=[item]))]
        request = pb.ModelInferRequest(model_name=self.model, inputs=inputs)
        try:
            reply = await self._connect().ModelInfer(request, timeout=self.timeout_s, metadata=self.metadata)
        except grpc.aio.AioRpcError as e:
            if e.code() == grpc.StatusCode.UNAVAILABLE or "not ready" in (e.details() or ""):
                raise Unavailable(f"the detector model {self.model!r} is not ready yet (loading, or restarting a "
                                  f"worker); retry") from None
            raise UpstreamError(f"the detector model {self.model!r} at {self.address} failed: "
                                f"{e.code().name} {e.details()}") from None
        return _answer(reply)

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = self._stub = None


def _answer(reply: Any) -> Answer:
    """The first row of the batch-major outputs (``fastdet.serving.tensors``)."""
    out = {o.name: o for o in reply.outputs}
    raw = list(reply.raw_output_contents)
    if raw:  # answered with raw contents: in output order
        contents = {o.name: r for o, r in zip(reply.outputs, raw)}
    else:
        contents = {}
    try:
        doc = json.loads(_bytes_item(out["detections"], contents.get("detections")))
        status = int(_numbers(out["status"], contents.get("status"), np.int32)[0])
        n = int(_numbers(out["num_detections"], contents.get("num_detections"), np.int32)[0])
    except (KeyError, ValueError, IndexError) as e:
        raise UpstreamError(f"the detector model's answer is not one fastdet reads ({e})") from None
    if status != 200:
        return Answer(status, doc.get("version"), np.zeros((0, 4), np.float32), np.zeros(0, np.float32),
                      np.zeros(0, np.int32), [], message=doc.get("error"))
    max_det = int(out["scores"].shape[-1])
    xyxy = _numbers(out["boxes"], contents.get("boxes"), np.float32).reshape(-1, max_det, 4)[0, :n]
    scores = _numbers(out["scores"], contents.get("scores"), np.float32).reshape(-1, max_det)[0, :n]
    ids = _numbers(out["class_ids"], contents.get("class_ids"), np.int32).reshape(-1, max_det)[0, :n]
    names = [d["name"] for d in doc["detections"]]
    return Answer(200, doc.get("version"), xyxy, scores, ids, names, int(doc["height"]), int(doc["width"]))


def _numbers(tensor: Any, raw: bytes | None, dtype: Any) -> np.ndarray:
    if raw is not None:
        return np.frombuffer(raw, dtype)
    c = tensor.contents
    values = c.fp32_contents if dtype == np.float32 else c.int_contents
    return np.asarray(values, dtype)


def _bytes_item(tensor: Any, raw: bytes | None) -> bytes:
    if raw is not None:  # BYTES raw contents: a 4-byte little-endian length, then the bytes
        size = int.from_bytes(raw[:4], "little")
        return raw[4 : 4 + size]
    return tensor.contents.bytes_contents[0]
