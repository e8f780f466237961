"""What a Detector takes from its caller — names, recipe, thresholds, the model argument — is
checked once, copied, and cannot be changed behind its back afterwards."""

from __future__ import annotations

import json
import pickle
import threading
import time

import numpy as np
import pytest

import fastdet
from fastdet import detector
from tiny_models import yolov8_like

pytestmark = pytest.mark.usefixtures("cpu_backend")

BOXES = np.array([[20, 20, 16, 16], [48, 48, 10, 20], [20, 48, 12, 12]] + [[32, 32, 8, 8]] * 13, np.float32)
WEIGHTS = np.zeros((3, 16), np.float32)
WEIGHTS[0, 0] = 0.9  # class 0: box 0
WEIGHTS[1, 1] = 0.8  # class 1: box 1
WEIGHTS[2, 2] = 0.7  # class 2: box 2


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return yolov8_like(tmp_path_factory.mktemp("args") / "tiny.onnx", BOXES, WEIGHTS,
                       metadata={"names": "{0: 'car', 1: 'car', 2: 'person'}", "imgsz": "[64, 64]"})


WHITE = np.full((64, 64, 3), 255, np.uint8)


def test_names_from_json_or_a_list_are_normalised(tiny):
    det = fastdet.Detector(tiny, names=json.loads('{"0": "car", "1": "truck", "2": "person"}'))
    assert det.names == {0: "car", 1: "truck", 2: "person"}
    assert [b.name for b in det(WHITE)] == ["car", "truck", "person"]
    assert det(WHITE, classes="truck").class_ids.tolist() == [1]
    assert fastdet.Detector(tiny, names=["a", "b", "c"]).names == {0: "a", 1: "b", 2: "c"}


@pytest.mark.parametrize("names, error", [
    ({0: 1, 1: 2, 2: 3}, fastdet.InputTypeError),
    ({"x": "a"}, fastdet.InputTypeError),
    ({-1: "a"}, fastdet.InputError),
    ({}, fastdet.InputError),
    ("car,truck", fastdet.InputTypeError),
])
def test_bad_names_are_refused_at_load(tiny, names, error):
    with pytest.raises(error, match="names"):
        fastdet.Detector(tiny, names=names)


def test_names_of_results_cannot_rename_the_detectors_classes(tiny):
    det = fastdet.Detector(tiny)
    dets = det(WHITE)
    with pytest.raises(TypeError, match="read-only"):
        dets.names[2] = "NOT A PERSON"
    with pytest.raises(TypeError, match="read-only"):
        det.names.update({2: "x"})
    assert det(WHITE)[2].name == "person"
    editable = dets.names.copy()
    editable[2] = "pedestrian"  # a copy is the caller's own
    assert json.loads(json.dumps(det.names)) == {"0": "car", "1": "car", "2": "person"}
    assert pickle.loads(pickle.dumps(det.names)) == det.names


def test_a_class_name_shared_by_two_ids_filters_both(tiny):
    det = fastdet.Detector(tiny)
    assert sorted(det(WHITE, classes="car").class_ids.tolist()) == [0, 1]
    assert sorted(fastdet.Detector(tiny, classes=["car"])(WHITE).class_ids.tolist()) == [0, 1]


def test_a_name_outside_the_models_classes_and_bytes_are_refused(tiny):
    det = fastdet.Detector(tiny, names={1: "a", 2: "b", 3: "c"})  # 1-based names on a 3-class head
    with pytest.raises(fastdet.InputError, match="'c' is class id 3"):
        det(WHITE, classes="c")
    with pytest.raises(fastdet.InputTypeError, match="classes"):
        det(WHITE, classes=b"\x00")


def test_the_detector_keeps_its_own_copy_of_the_recipe(tiny):
    recipe = fastdet.make_recipe()
    det = fastdet.Detector(tiny, recipe=recipe)
    grey = np.full((64, 64, 3), 120, np.uint8)
    before = det(grey).scores.tolist()
    recipe.scale = 1.0  # the caller's object: not the Detector's any more
    assert det.info.recipe is not recipe and det.info.recipe.scale == pytest.approx(1 / 255)
    assert det(grey).scores.tolist() == before


def test_fastdet_detect_caches_by_every_recipe_field_exactly(tiny):
    a = fastdet.make_recipe(mean=(0.0, 0.0, 0.3))
    b = fastdet.make_recipe(mean=(0.0, 0.0, 0.3000001))
    assert tuple(a.mean) != tuple(b.mean)  # (their reprs may print the same digits)
    fastdet.detect(WHITE, model=tiny, recipe=a)
    before = len(detector._DEFAULTS)
    fastdet.detect(WHITE, model=tiny, recipe=b)
    assert len(detector._DEFAULTS) == before + 1
    fastdet.detect(WHITE, model=tiny, recipe=fastdet.make_recipe(mean=(0.0, 0.0, 0.3)))
    assert len(detector._DEFAULTS) == before + 1


@pytest.mark.parametrize("recipe", [5, ["ultralytics"], object()])
def test_a_recipe_that_is_not_one_is_refused_at_load(tiny, recipe):
    with pytest.raises(fastdet.InputTypeError, match="recipe"):
        fastdet.Detector(tiny, recipe=recipe)


@pytest.mark.parametrize("kwargs, error", [
    ({"conf": "0.5"}, fastdet.InputTypeError),
    ({"conf": None}, fastdet.InputTypeError),
    ({"max_det": 3.0}, fastdet.InputTypeError),
    ({"max_det": True}, fastdet.InputTypeError),
    ({"max_candidates": 2**40}, fastdet.InputError),
    ({"agnostic": 1}, fastdet.InputTypeError),
])
def test_constructor_thresholds_are_checked_as_per_call_ones(tiny, kwargs, error):
    with pytest.raises(error, match=next(iter(kwargs))):
        fastdet.Detector(tiny, **kwargs)


def test_a_huge_per_call_max_det_is_a_clear_error(tiny):
    with pytest.raises(fastdet.InputError, match="max_det"):
        fastdet.Detector(tiny)(WHITE, max_det=2**40)


@pytest.mark.parametrize("model, error", [
    ("", fastdet.ModelError),
    (0, fastdet.InputTypeError),
    (False, fastdet.InputTypeError),
    ([], fastdet.InputTypeError),
])
def test_an_empty_or_falsy_model_argument_is_not_the_default_model(model, error):
    with pytest.raises(error, match="model"):
        fastdet.Detector(model)


def test_an_empty_fastdet_model_variable_means_the_default(monkeypatch):
    monkeypatch.setenv("FASTDET_MODEL", "")
    from fastdet import default_model
    from fastdet.model import check_model_path

    assert check_model_path(None) == default_model.path()


def test_loading_one_model_does_not_hold_up_fastdet_detect_on_another(tiny, tmp_path, monkeypatch):
    """The first call for a model loads it outside the cache's lock: callers of a model already
    loaded go on meanwhile, and callers of the loading model wait for that one load."""
    fastdet.detect(WHITE, model=tiny)  # cached
    slow = yolov8_like(tmp_path / "slow.onnx", BOXES, WEIGHTS, metadata={"imgsz": "[64, 64]"})
    real_init = detector.Detector.__init__
    loading = threading.Event()
    release = threading.Event()
    loads = []

    def slow_init(self, model=None, **kw):
        if str(model).endswith("slow.onnx"):
            loads.append(1)
            loading.set()
            assert release.wait(30)
        real_init(self, model, **kw)

    monkeypatch.setattr(detector.Detector, "__init__", slow_init)
    results = []
    loaders = [threading.Thread(target=lambda: results.append(len(fastdet.detect(WHITE, model=slow))))
               for _ in range(2)]
    for t in loaders:
        t.start()
    assert loading.wait(30)
    started = time.monotonic()
    assert len(fastdet.detect(WHITE, model=tiny)) == 3  # while the other model is still loading
    assert time.monotonic() - started < 10
    release.set()
    for t in loaders:
        t.join(30)
    assert results == [3, 3] and loads == [1]  # one load, shared by both callers


def test_a_failed_load_is_not_cached(tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not onnx")
    for _ in range(2):
        with pytest.raises(fastdet.ModelError):
            fastdet.detect(WHITE, model=broken)
    assert not any(str(broken) in str(key[0]) for key in detector._DEFAULTS)


def test_limits_come_from_the_native_core(tiny):
    """Python checks against the core's own limits (no copies of the numbers): the largest max_det
    is accepted, one more is refused with that limit in the message."""
    from fastdet import _core, model

    assert model.MAX_INPUT_SIDE == _core.MAX_FRAME_SIDE == 1 << 16
    det = fastdet.Detector(tiny, max_det=_core.MAX_DETECTIONS)
    assert det.options.max_det == _core.MAX_DETECTIONS
    with pytest.raises(fastdet.InputError, match=f"max_det: expected 1 to {_core.MAX_DETECTIONS}, got 0"):
        fastdet.Detector(tiny, max_det=0)
    with pytest.raises(fastdet.InputError, match=f"expected 1 to {_core.MAX_DETECTIONS}"):
        det(WHITE, max_det=_core.MAX_DETECTIONS + 1)
