"""The quality loop: evaluation against ground truth, a sealed train/val/test split, parity between
backends, drift monitoring, and a model registry whose champion changes only on validation data.

    eval_cli, evaluation, coco_eval, eval_report, eval_plot   fastdet eval (pycocotools underneath)
    data_source, yolo_data, coco_json, ground_truth, data_issues   reading and checking ground truth
    sweep, resize_model                                        fastdet eval --sizes --backends --budget-ms
    split, split_cli, sealed                                   fastdet split, the sealed test split
    compare, compare_cli                                       fastdet compare
    monitor, drift_signals, drift_stats, drift_profile, monitor_metrics, profile_cli, frame_source
                                                               fastdet.Monitor, fastdet profile
    registry, registry_cli, promote, promote_cli               fastdet registry, fastdet promote
"""
