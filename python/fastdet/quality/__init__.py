"""Quality: detection accuracy against ground truth (``coco_eval``) and the datasets it reads
(``yolo_data``)."""
