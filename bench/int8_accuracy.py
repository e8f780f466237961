"""int8 vs fp32 accuracy on a YOLO-format dataset (COCO mAP50-95, mAP50, person AP), with the
int8 model never scored on its own calibration images: the images are split in two halves by
position (even / odd), each half calibrates one int8 model (``fastdet.quantize``) that is run on
the other half, and the pooled detections are scored on all images at once (two-fold). The int8
model calibrated on every image is scored too (in-sample, for comparison).

    python bench/int8_accuracy.py --model yolov8n.onnx --data coco128_val2017 [--samples 300]
        [--workdir DIR] [--json out.json]

Needs the quantize extra (NNCF) and pycocotools. fp32 rows: ONNX Runtime (fp32), OpenVINO
with its default precision for this CPU (bf16 where the CPU has AMX/AVX512-BF16) and OpenVINO
forced to fp32.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from assets import ASSETS  # noqa: E402 - run as a script from bench/


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=ASSETS / "models" / "yolov8n_w8.onnx")
    p.add_argument("--data", type=Path, default=ASSETS / "datasets" / "coco128_val2017")
    p.add_argument("--samples", type=int, default=300)
    p.add_argument("--workdir", type=Path, default=None, help="keep the int8 models here")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)

    from fastdet import Detector
    from fastdet.quality.coco_eval import EVAL_OPTIONS, Predictions, predict, score_predictions
    from fastdet.quality.yolo_data import read_dataset
    from fastdet.quantize import quantize

    truth = read_dataset(args.data, Detector(args.model, backend="onnxruntime-cpu").names)
    images = [img.path for img in truth.images]
    halves = [images[0::2], images[1::2]]
    work = args.workdir or Path(tempfile.mkdtemp(prefix="fastdet-int8-"))
    work.mkdir(parents=True, exist_ok=True)
    splits = []
    for i, half in enumerate(halves):
        split = work / f"half{i}.txt"
        split.write_text("\n".join(str(p.resolve()) for p in half) + "\n")
        splits.append(split)
    all_split = work / "all.txt"
    all_split.write_text("\n".join(str(p.resolve()) for p in images) + "\n")

    def scored(det):
        return score_predictions(truth, predict(det, truth))

    results = {}
    for label, kw in (("fp32, ONNX Runtime", {"backend": "onnxruntime-cpu"}),
                      ("fp32 model, OpenVINO default precision", {"backend": "openvino-cpu"}),
                      ("fp32, OpenVINO precision=fp32", {"backend": "openvino-cpu", "precision": "fp32"})):
        det = Detector(args.model, **kw, **EVAL_OPTIONS)
        if "default" in label:
            label += f" ({det._backend.inference_precision})"
        results[label] = scored(det)
        print(f"{label}: done", file=sys.stderr)
    # Two-fold: the model calibrated on half i detects on half 1 - i; predictions go back in
    # `images` order and are scored together.
    folds = [quantize(args.model, splits[i], work / f"int8_half{i}", samples=args.samples).parent for i in (0, 1)]
    pooled = Predictions(*[[None] * len(images) for _ in range(5)])
    for i, folder in enumerate(folds):
        det = Detector(folder, **EVAL_OPTIONS)
        half = truth.copy()
        half.images = truth.images[1 - i :: 2]
        got = predict(det, half)
        for j, image_index in enumerate(range(1 - i, len(images), 2)):
            for field in ("boxes", "scores", "classes", "shapes", "latency_ms"):
                getattr(pooled, field)[image_index] = getattr(got, field)[j]
    results["int8, two-fold (never scored on its calibration images)"] = score_predictions(truth, pooled)
    full = quantize(args.model, all_split, work / "int8_all", samples=args.samples).parent
    det = Detector(full, **EVAL_OPTIONS)
    results["int8, calibrated on all images (in-sample)"] = scored(det)

    print(f"{args.model.name} on {args.data.name} ({len(images)} images), conf {EVAL_OPTIONS['conf']}, "
          f"IoU {EVAL_OPTIONS['iou']}; int8 models in {work}")
    print(f"{'model':62s} {'mAP50-95':>8s} {'mAP50':>7s} {'person AP':>9s}")
    for label, m in results.items():
        print(f"{label:62s} {m.map50_95:8.4f} {m.map50:7.4f} {m.per_class.get(0, float('nan')):9.4f}")
    if args.json:
        args.json.write_text(json.dumps({k: {"map50_95": m.map50_95, "map50": m.map50, "person_ap": m.per_class.get(0)}
                                         for k, m in results.items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
