"""`fastdet models`: the embedded default model, and how to bring your own."""

from __future__ import annotations

import argparse

HELP = "the embedded default model, and how to bring your own"


def guide() -> str:
    """The text `fastdet models` prints."""
    from . import backends, default_model

    runners = ", ".join(backends.names())
    return f"""\
Default model (used when no model is given and FASTDET_MODEL is unset):
  {default_model.PATH}
  {default_model.DESCRIPTION}
  Licence notice: {default_model.PATH.parent / 'NOTICE'}

Bring your own ONNX detector:
  fastdet detect IMAGE --model MODEL.onnx      (or: export FASTDET_MODEL=MODEL.onnx)
  fastdet.Detector("MODEL.onnx"), fastdet.detect(frame, model="MODEL.onnx")
  fastdet info MODEL.onnx                      shows what fastdet read: head, input size, classes, recipe
fastdet reads the head format and class names from the file, and every backend runs the ONNX file
itself ({runners}).

ultralytics YOLOv8 / YOLO11 / YOLO12 (pip install ultralytics):
  yolo export model=yolo11n.pt format=onnx          -> yolo11n.onnx, names and imgsz in its metadata
  yolo export model=yolo11n.pt format=openvino      -> yolo11n_openvino_model/ (OpenVINO IR, for OpenVINO's
                                                       own runtime); for fastdet export format=onnx
  A fixed size (the default) is best; with dynamic=True the imgsz metadata sets the input size.

End-to-end models (NMS inside the model, output [1, 300, 6], head "end2end"):
  yolo export model=yolo26n.pt format=onnx          YOLO26 is end-to-end as exported
  yolo export model=yolov10n.pt format=onnx         YOLOv10
  yolo export model=yolo11n.pt format=onnx nms=True NMS added to a YOLO11 export
  fastdet then only applies conf, classes and max_det.

YOLOX (github.com/Megvii-BaseDetection/YOLOX):
  python tools/export_onnx.py -n yolox-s -c yolox_s.pth --output-name yolox_s.onnx
  Leave out --decode_in_inference: fastdet decodes the raw head (strides 8/16/32) and uses YOLOX's
  preprocessing (BGR, 0-255, top-left padding). YOLOX files carry no class names: pass
  Detector(..., names={{0: "person", ...}}), or write ultralytics-style "names" metadata into the file
  (fastdet's source tree has tools/embed_model_metadata.py, which did so for the embedded model).

YOLOv5 (github.com/ultralytics/yolov5):
  python export.py --weights yolov5s.pt --include onnx     names are written into the file
YOLOv7 (github.com/WongKinYiu/yolov7):
  python export.py --weights yolov7.pt --grid --simplify   --grid puts the box decoding in the graph;
  leave out --end2end (its [N, 7] output is not the end-to-end layout above); pass names= as for YOLOX.

When a guess is wrong: Detector(model, head="yolov8" | "yolov5" | "yolox" | "end2end",
recipe="ultralytics" | "yolox" | "stretch" or fastdet.make_recipe(...), names={{...}}).
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """No arguments."""


def run(args: argparse.Namespace) -> int:
    print(guide(), end="")
    return 0
