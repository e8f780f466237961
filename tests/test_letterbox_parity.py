"""End to end on real int8 models, where 1/255 in the input moves scores by up to ~0.2: fastdet's
detections equal those of the same model, with the same session options, fed by the cv2 recipe
(cv2.resize + pad + BGR->RGB + /255).

Every coco128 image's input tensor is checked value for value, and every image runs end to end on
both models (about 70 s on 2 cores, most of it the 640 model's ~0.2 s per inference)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import fastdet
from fastdet import _core
from references import reference_letterbox, ultralytics_geometry

pytestmark = pytest.mark.assets


@pytest.mark.parametrize("model,every", [("yolo11n_int8_320.onnx", 1), ("yolov8n_int8.onnx", 1)])
def test_int8_detections_equal_the_cv2_recipe(assets, model, every):
    ort = pytest.importorskip("onnxruntime")
    from fastdet.backends.onnxruntime_cpu import session_options

    path = assets / "models" / model
    images = sorted((assets / "datasets" / "coco128_val2017" / "images").glob("*.jpg"))
    assert len(images) == 128
    det = fastdet.Detector(path, backend="onnxruntime-cpu")
    session = ort.InferenceSession(str(path), session_options(), providers=["CPUExecutionProvider"])
    H, W = det.input_size
    total = 0
    for i, p in enumerate(images):
        img = cv2.imread(str(p))
        x = reference_letterbox(img, H, W)
        tensor, g = fastdet.letterbox(img, (H, W), recipe=det.info.recipe)
        np.testing.assert_array_equal(tensor, x, err_msg=p.name)
        assert (g.new_w, g.new_h, g.pad_x, g.pad_y) == ultralytics_geometry(*img.shape[:2], H, W)
        if i % every:
            continue
        ours = det.detect(img)
        raw = session.run(None, {det.info.input_name: x[None]})[0]
        boxes, scores, classes, _ = _core.decode(raw, det.info.head, [g], det.options, None)[0]
        assert len(ours) == len(scores), f"{p.name}: {len(ours)} boxes, the cv2 recipe gives {len(scores)}"
        np.testing.assert_array_equal(ours.class_ids, classes, err_msg=p.name)
        np.testing.assert_allclose(ours.scores, scores, rtol=0, atol=1e-6, err_msg=p.name)
        np.testing.assert_allclose(ours.xyxy, boxes, rtol=0, atol=1e-3, err_msg=p.name)
        total += len(scores)
    assert total > 100 // every  # the models do find things
