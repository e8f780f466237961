"""``FastdetRuntime``: the detector model, an MLServer runtime over ``fastdet.Detector``.

Its I/O is batch-major (``fastdet.serving.tensors``), which is what MLServer's adaptive batching
needs: the batcher joins the requests' ``images`` along axis 0, calls ``predict`` once, and
splits every output along axis 0 again. One image that cannot be decoded, is too large, or names
an unknown version gets its own status and message; the others in the batch are answered.

What the batcher cannot keep apart is a malformed *request* (a wrong tensor name, datatype or
shape): it is merged before ``predict`` sees it, and raising fails the whole batch, as MLServer
does for any exception. Clients that are not trusted should reach this model through the router
(``FastdetRouter``), which checks each request on its own before it is batched; with
``internal_key_file`` set, this model serves nothing else. For the same reason a batching model
(``max_batch_size`` > 1) refuses raw UINT8 frames: requests are merged with the first one's shape,
so frames of different sizes would be cut wrong; frames travel as NPY items, one per image.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import Any

import numpy as np
from mlserver import MLModel
from mlserver.types import InferenceRequest, InferenceResponse

from ..errors import InputError
from . import metrics
from .detectors import Detectors
from .errors import BadRequest, Forbidden, ServingError
from .images import ROUTER_ONLY, check_frame, decode_item, unwrap
from .options import DetectorOptions, read_internal_key
from .tensors import ItemResult, batch_inputs, batch_outputs

log = logging.getLogger("fastdet.serving")

RAW_FRAMES_BATCHED = (
    "images: this detector model batches requests (max_batch_size > 1), so it takes no UINT8 frames: MLServer "
    "merges a batch with its first request's shape; send each frame as one BYTES item (an encoded image or an "
    "NPY uint8[H, W, 3] array) of an 'images' tensor, or send it to the router")


class FastdetRuntime(MLModel):
    """An MLServer model answering with a fastdet Detector (settings: ``fastdet.serving.options``)."""

    async def load(self) -> bool:
        self._options = DetectorOptions.from_settings(self.settings)
        self._key = read_internal_key(self._options.internal_key_file)
        self._detectors = Detectors(self._options, label=self.settings.version)
        self._monitor = None
        if self._options.drift_profile is not None:
            from ..quality.monitor import Monitor

            self._monitor = Monitor(self._options.drift_profile, name=self.name)
        metrics.get()
        # Load the default version now: a model that cannot load fails at start, not on a request.
        version, det = await asyncio.to_thread(self._detectors.get, None)
        log.info("%s: serving %s (%s) with %r", self.name, version, det.backend, det)
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        if (self.settings.max_batch_size or 0) > 1 and any(i.datatype == "UINT8" for i in payload.inputs):
            # MLServer's batcher joins requests with the first one's shape and datatype, so frames of
            # two sizes (or frames next to encoded images) cannot be told apart once merged: said
            # before the merged tensor is read, whatever its sizes add up to.
            raise BadRequest(RAW_FRAMES_BATCHED)
        items = batch_inputs(payload)
        results = await asyncio.to_thread(self._answer, items)
        return InferenceResponse(model_name=self.name, model_version=self.version,
                                 outputs=batch_outputs(results, self._options.max_det))

    # -- the work, in a thread (the event loop keeps taking requests meanwhile) -------------------

    def _frame(self, item: Any) -> tuple[str | None, np.ndarray]:
        """(version asked for, BGR frame for the Detector) of one item."""
        rgb_frames = self._options.channels == "rgb"
        if isinstance(item, np.ndarray):
            if self._key is not None:  # raw frames carry no envelope: only the router's items pass
                raise Forbidden(ROUTER_ONLY)
            check_frame(item, self._options.max_pixels)
            return None, (np.ascontiguousarray(item[:, :, ::-1]) if rgb_frames else item)
        data, version = unwrap(item, self._key)
        decoded = decode_item(data, self._options.max_pixels, rgb_frames)
        frame = np.ascontiguousarray(decoded.pixels[:, :, ::-1]) if decoded.rgb else decoded.pixels
        return version, frame

    def _answer(self, items: Any) -> list[ItemResult]:
        t0 = time.perf_counter()
        results: list[ItemResult | None] = [None] * len(items)
        groups: dict[str, list[tuple[int, np.ndarray]]] = defaultdict(list)
        detectors = {}
        for i, item in enumerate(items):
            asked = None
            try:
                asked, frame = self._frame(item)
                version, det = self._detectors.get(asked)
                detectors[version] = det
                groups[version].append((i, frame))
            except ServingError as e:
                results[i] = ItemResult(e.status_code, asked, message=str(e))
            except Exception as e:  # noqa: BLE001 - one unreadable item must not fail the batch
                log.warning("%s: item %d of a batch could not be read: %r", self.name, i, e)
                results[i] = ItemResult(400, asked, message=f"image: cannot be read ({type(e).__name__})")
        decode_s = time.perf_counter() - t0
        for version, members in groups.items():
            self._detect(detectors[version], version, members, results, decode_s)
        done = [r if r is not None else ItemResult(500, None, message="not answered") for r in results]
        m = metrics.get()
        m["batch"].labels(self.name).observe(len(done))
        for r in done:
            # a version a client asked for that did not answer (unknown, say) labels nothing
            m["images"].labels(self.name, (r.version if r.status == 200 else None) or "unknown", str(r.status)).inc()
        return done

    def _detect(self, det: Any, version: str, members: list[tuple[int, np.ndarray]],
                results: list[ItemResult | None], decode_s: float) -> None:
        frames = [f for _, f in members]
        try:
            found: list[Any] = det.detect(frames)
        except Exception:  # noqa: BLE001 - whatever it was, the other frames deserve an answer
            # One frame the Detector refuses must not fail the others: answer them one by one.
            found = []
            for f in frames:
                try:
                    found.append(det.detect(f))
                except Exception as e:  # noqa: BLE001 - reported as this image's status
                    found.append(e)
        timings = dict(getattr(det, "timings", {}) or {})
        stage = metrics.get()["stage"]
        stage.labels(self.name, version, "decode").observe(decode_s)
        for name, ns in timings.items():
            stage.labels(self.name, version, name).observe(ns / 1e9)
        answered = []
        for (i, frame), d in zip(members, found):
            if isinstance(d, Exception):
                status = 400 if isinstance(d, (InputError, TypeError)) else 500
                if status == 500:
                    log.error("%s %s: inference failed on one image: %r", self.name, version, d)
                results[i] = ItemResult(status, version, message=str(d) if status == 400 else "inference failed")
                continue
            results[i] = ItemResult(200, version, d.xyxy, d.scores, d.class_ids, d.names, d.image_shape)
            answered.append(d.scores)
            if self._monitor is not None:
                self._monitor.observe(frame, d)
        metrics.observe_images(self.name, version, answered)
