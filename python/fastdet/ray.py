"""Batch inference on Ray Data: one Detector per actor, images in, one row of detections per image out.

    import ray, fastdet.ray
    ds = ray.data.read_binary_files("images/", include_paths=True)          # columns: bytes, path
    out = ds.map_batches(fastdet.ray.DetectBatches, fn_constructor_kwargs={"model": "yolov8n.onnx"},
                         batch_format="pyarrow", batch_size=16, concurrency=2, num_cpus=1)
    out.write_parquet("detections/")

``DetectBatches`` decodes with fastdet's own reader (the same BGR pixels as ``Detector.detect``)
and returns a table with ``SCHEMA``; an image that cannot be read or decoded is one row with
``error`` set, never a failed job. ``run_detect`` is the whole job as ``fastdet detect --ray`` runs
it. ``ray`` and ``pyarrow`` are imported when used (``pip install 'fastdet[ray]'``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from .errors import Error, InputError

#: CPUs Ray reserves for each file-reading task (fractional, so Detector actors cannot starve them).
READ_CPUS = 0.25

#: Columns of every output table, in order.
COLUMNS = ("path", "width", "height", "boxes", "scores", "class_ids", "names", "error")


def schema() -> Any:
    """The pyarrow schema of the output: boxes are [x1, y1, x2, y2] in image pixels."""
    import pyarrow as pa

    return pa.schema([
        ("path", pa.string()), ("width", pa.int32()), ("height", pa.int32()),
        ("boxes", pa.list_(pa.list_(pa.float32(), 4))), ("scores", pa.list_(pa.float32())),
        ("class_ids", pa.list_(pa.int32())), ("names", pa.list_(pa.string())), ("error", pa.string()),
    ])


@contextlib.contextmanager
def _model_file(model: Any) -> Iterator[str | None]:
    """A local path for the model while the block runs: bytes (shipped from the driver, e.g. through
    the object store) are written to a private temporary file, removed with its folder when the
    block ends, however it ends; a path is used as it is; None is the default model.

    Every backend reads the file while the Detector is constructed (ONNX Runtime's session,
    OpenVINO's ``read_model`` -- its later compilations start from the model in memory --,
    TensorRT's engine build, the PyTorch conversion) and never again, so loading inside the block
    leaves nothing behind on the node, whatever the number of actors or restarts."""
    if model is None or isinstance(model, (str, os.PathLike)):
        yield None if model is None else os.fspath(model)
        return
    if not isinstance(model, (bytes, bytearray, memoryview)):
        model = _object_ref_value(model)
    folder = tempfile.mkdtemp(prefix="fastdet-model-")  # created 0700
    try:
        path = Path(folder) / "model.onnx"
        path.write_bytes(bytes(model))
        yield str(path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _object_ref_value(model: Any) -> bytes:
    """The model's bytes from a ``ray.ObjectRef`` of them; anything else is an InputError."""
    try:
        import ray

        if isinstance(model, ray.ObjectRef):
            value = ray.get(model)
            if isinstance(value, (bytes, bytearray, memoryview)):
                return bytes(value)
            raise InputError(f"model: the object ref holds {type(value).__name__}, expected the model's bytes")
    except ImportError:
        pass
    raise InputError(f"model: expected a path, the model's bytes or an object ref of them, got {type(model).__name__}")


class DetectBatches:
    """``map_batches`` callable: one Detector per actor.

    model: a path readable on every node, the model's bytes, a ``ray.ObjectRef`` of them, or None
    for $FASTDET_MODEL / the embedded model (bytes are written to a temporary file that is removed
    once the Detector has loaded it). detector_options: as ``fastdet.Detector``.
    A batch is a pyarrow Table (or dict of columns) with ``path`` and optionally ``bytes`` (from
    ``read_binary_files(include_paths=True)``); without ``bytes`` the file at ``path`` is read.
    Returns a pyarrow Table with ``schema()``.
    """

    def __init__(self, model: Any = None, **detector_options: Any) -> None:
        from .detector import Detector

        with _model_file(model) as path:
            self.detector = Detector(path, **detector_options)

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        columns = batch.to_pydict() if isinstance(batch, pa.Table) else dict(batch)
        paths = [str(p) for p in columns["path"]]
        data = columns.get("bytes")
        rows: dict[str, list[Any]] = {c: [] for c in COLUMNS}
        for i, path in enumerate(paths):
            self._one(path, None if data is None else data[i], rows)
        return pa.Table.from_pydict(rows, schema=schema())

    def _one(self, path: str, data: bytes | None, rows: dict[str, list[Any]]) -> None:
        from .frames import decode_image, read_image

        try:
            frame = read_image(path) if data is None else decode_image(bytes(data), path)
            dets = self.detector.detect(frame)
        except (Error, OSError) as e:  # one bad image: one error row, the job goes on
            for c, v in zip(COLUMNS, (path, None, None, None, None, None, None, str(e))):
                rows[c].append(v)
            return
        h, w = dets.image_shape
        values = (path, w, h, dets.xyxy.tolist(), dets.scores.tolist(), dets.class_ids.tolist(),
                  [dets.name(c) for c in dets.class_ids.tolist()], None)
        for c, v in zip(COLUMNS, values):
            rows[c].append(v)


def read_files(files: Sequence[str]) -> Any:
    """``ray.data.read_binary_files`` with reading tasks on READ_CPUS each (named remote parameters
    since Ray 2.5x; ``ray_remote_args`` before)."""
    import ray.data

    try:
        return ray.data.read_binary_files(list(files), include_paths=True, num_cpus=READ_CPUS)
    except TypeError:
        return ray.data.read_binary_files(list(files), include_paths=True, ray_remote_args={"num_cpus": READ_CPUS})


def expand_sources(sources: Sequence[str]) -> list[str]:
    """Image files named by ``sources``: files, folders (recursively) and glob patterns, in the
    order ``fastdet detect`` reads them. Videos are not for Ray: a spec naming none of its images
    is an InputError."""
    from .io.images import expand, is_image

    files: list[str] = []
    for s in sources:
        images = [str(p) for p in expand(s) if is_image(p)]
        if not images:
            raise InputError(f"no images in {s!r} (--ray reads image files; run videos without --ray)")
        files.extend(images)
    return files


def run_detect(sources: Sequence[str], out: str | os.PathLike[str], *, model: Any = None,
               address: str | None = None, actors: int = 1, cpus_per_actor: float = 1.0, gpus_per_actor: float = 0.0,
               batch_size: int = 16, **detector_options: Any) -> dict[str, int]:
    """Detects on every image of ``sources`` with Ray Data and writes ``out``: a parquet file sorted
    by path (``*.parquet``), or a folder of parquet files as Ray writes them (any other name: a
    new or empty folder; one that already holds files is an InputError, so runs never mix).

    actors: Detectors running at once; cpus_per_actor: the CPUs Ray reserves for each (fractional
    values leave room for the reading tasks on small machines; a CPU backend gets that many
    inference threads, at least one); gpus_per_actor: 1 with a GPU backend. ``address``: an
    existing Ray cluster (None starts one on this machine). Returns counts: images, errors."""
    import pyarrow.parquet as pq
    import ray

    if actors < 1 or batch_size < 1 or not cpus_per_actor > 0 or gpus_per_actor < 0:
        raise InputError(f"actors, batch size and CPUs per actor must be positive (GPUs per actor >= 0), got "
                         f"{actors}, {batch_size}, {cpus_per_actor}, {gpus_per_actor}")
    out = Path(os.fspath(out))
    to_file = out.suffix.lower() == ".parquet"
    if not to_file and out.exists() and (not out.is_dir() or any(out.iterdir())):
        what = "a folder that is not empty" if out.is_dir() else "not a folder"
        raise InputError(f"out: {str(out)!r} is {what}: give a new or empty folder (or OUT.parquet), "
                         "so that this run's files are not mixed with others")
    files = expand_sources(sources)
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    try:
        model_arg: Any = model
        path = Path(os.fspath(model)) if model is not None else None
        if path is not None and path.suffix.lower() == ".onnx" and path.is_file():
            from .onnx_external_data import external_data_locations

            blob = path.read_bytes()
            if not external_data_locations(blob):  # one self-contained file: ship its bytes to every node
                model_arg = ray.put(blob)
        threads = max(1, int(round(cpus_per_actor)))
        options = dict(detector_options)
        if not gpus_per_actor:  # CPU inference: as many threads as the CPUs Ray gives the actor
            options.setdefault("device", "cpu")
            options.setdefault("threads", threads)
        # Reading tasks ask for a quarter CPU: actors that hold every whole CPU would otherwise
        # starve them and the job would wait forever.
        ds = read_files(files)
        ds = ds.map_batches(DetectBatches, fn_constructor_kwargs={"model": model_arg, **options},
                            batch_format="pyarrow", batch_size=batch_size, concurrency=actors,
                            num_cpus=cpus_per_actor, num_gpus=gpus_per_actor or None)
        if to_file:
            merged = _concat_sorted([ray.get(t) for t in ds.to_arrow_refs()])
            pq.write_table(merged, str(out))
            return {"images": merged.num_rows, "errors": merged.num_rows - merged.column("error").null_count}
        ds.write_parquet(str(out))
        # The folder was new or empty: every file in it is this run's. Only the error column is read.
        written = pq.read_table(str(out), columns=["error"]).column("error")
        return {"images": len(written), "errors": len(written) - written.null_count}
    finally:
        if started:
            ray.shutdown()


def predictor(model: Any, *, address: str | None = None, actors: int = 1, cpus_per_actor: float = 1.0,
              gpus_per_actor: float = 0.0, batch_size: int = 16, **detector_options: Any) -> Any:
    """A ``predictor(detector, gt) -> Predictions`` for ``fastdet.quality`` evaluation: the
    predictions are made on Ray (the rows of ``DetectBatches``), the metrics once, by the caller.
    An image Ray could not decode is dropped from ``gt`` and counted, as the local path does."""

    def predict(detector: Any, gt: Any) -> Any:
        import tempfile
        import time

        import numpy as np
        import pyarrow.parquet as pq

        from .quality.coco_eval import Predictions

        files = [str(img.path) for img in gt.images]
        with tempfile.TemporaryDirectory(prefix="fastdet-ray-eval-") as tmp:
            out = Path(tmp) / "predictions.parquet"
            t = time.perf_counter()
            run_detect(files, out, model=model, address=address, actors=actors, cpus_per_actor=cpus_per_actor,
                       gpus_per_actor=gpus_per_actor, batch_size=batch_size, **detector_options)
            wall_ms = (time.perf_counter() - t) * 1e3
            rows = {r["path"]: r for r in pq.read_table(out).to_pylist()}
        preds, kept = Predictions(), []
        for img in gt.images:
            r = rows.get(str(img.path))
            if r is None or r["error"] is not None:
                gt.issues.add("unreadable_image", f"{img.path.name} ({r['error'] if r else 'no result'})")
                continue
            preds.boxes.append(np.asarray(r["boxes"], np.float32).reshape(-1, 4))
            preds.scores.append(np.asarray(r["scores"], np.float32))
            preds.classes.append(np.asarray(r["class_ids"], np.int32))
            preds.shapes.append((r["height"], r["width"]))
            kept.append(img)
        gt.images = kept
        # No per-image latency on Ray: each image gets its share of the job's wall time.
        preds.latency_ms = [wall_ms / max(len(kept), 1)] * len(kept)
        return preds

    return predict


def _concat_sorted(tables: Iterable[Any]) -> Any:
    """One table, rows ordered by path (Ray keeps no order across blocks)."""
    import pyarrow as pa

    parts = [t.cast(schema()) for t in tables if t.num_rows]
    merged = pa.concat_tables(parts) if parts else schema().empty_table()
    return merged.sort_by("path")


def detections_table(detector: Any, files: Sequence[str]) -> Any:
    """The same table computed in this process with one Detector (the single-process reference)."""
    job = DetectBatches.__new__(DetectBatches)
    job.detector = detector
    rows: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    for f in files:
        job._one(str(f), None, rows)
    import pyarrow as pa

    return pa.Table.from_pydict(rows, schema=schema()).sort_by("path")


__all__ = ["COLUMNS", "DetectBatches", "detections_table", "expand_sources", "predictor", "read_files",
           "run_detect", "schema"]
