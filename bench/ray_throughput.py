"""Images/s of one Detector in a loop vs Ray Data with 1 and 2 actors, on a folder of images.

    python bench/ray_throughput.py --model yolov8n.onnx --data coco128_val2017/images [--rounds 2]

Each mode runs the whole folder (decode + detect; Ray also reads the files as a dataset and
collects the results), alternating modes over --rounds so machine noise hits all of them. Ray's
start (``ray.init``, about 5-10 s) is timed apart: it is paid once per job, not per image.
Prints images/s per mode and Ray's overhead per image against the single loop.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path


def single(model: str, files: list[str], threads: int) -> float:
    import fastdet
    from fastdet.frames import read_image

    det = fastdet.Detector(model, device="cpu", threads=threads)
    det.detect(read_image(files[0]))  # warm-up, as an actor's first batch is
    t = time.perf_counter()
    for f in files:
        det.detect(read_image(f))
    return time.perf_counter() - t


def with_ray(model: str, files: list[str], actors: int, cpus_per_actor: float, batch: int) -> float:
    import ray

    from fastdet.ray import DetectBatches, read_files

    blob = ray.put(Path(model).read_bytes())
    t = time.perf_counter()
    ds = read_files(files)
    ds = ds.map_batches(DetectBatches, fn_constructor_kwargs={"model": blob, "device": "cpu",
                                                               "threads": max(1, round(cpus_per_actor))},
                        batch_format="pyarrow", batch_size=batch, concurrency=actors, num_cpus=cpus_per_actor)
    n = sum(t.num_rows for t in ray.get(ds.to_arrow_refs()))
    assert n == len(files), (n, len(files))
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True, help="folder of images")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=1, help="use the folder's images this many times over")
    args = ap.parse_args()
    import os

    import ray

    files = sorted(str(p) for p in Path(args.data).rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    files = files * args.repeat
    cores = os.cpu_count() or 1
    t = time.perf_counter()
    ray.init(num_cpus=cores, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    start = time.perf_counter() - t
    modes = {
        f"one Detector loop ({cores} threads)": lambda: single(args.model, files, cores),
        # Actors leave a quarter CPU per actor for the reading tasks (else they starve).
        f"Ray, 1 actor x {cores - 0.25:g} CPUs": lambda: with_ray(args.model, files, 1, cores - 0.25, args.batch),
        f"Ray, 2 actors x {cores / 2 - 0.25:g} CPUs": lambda: with_ray(args.model, files, 2, cores / 2 - 0.25,
                                                                         args.batch),
    }
    times: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(args.rounds):
        for name, run in modes.items():
            times[name].append(run())
    ray.shutdown()
    base = statistics.median(times[next(iter(modes))])
    print(f"{len(files)} images, {cores} CPUs; ray.init {start:.1f} s (once per job, not counted below)")
    print(f"{'mode':34s} {'images/s':>9s} {'overhead per image vs loop':>28s}")
    for name, ts in times.items():
        m = statistics.median(ts)
        print(f"{name:34s} {len(files) / m:9.1f} {(m - base) / len(files) * 1e3:24.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
