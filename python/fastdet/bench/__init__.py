"""Benchmarks of fastdet against reference pipelines, and the speed gates CI runs.

- ``fastdet bench MODEL``: latency percentiles, per-stage breakdown and throughput (``cli``, ``runner``).
- ``python -m fastdet.bench.gate bench/gates.toml``: minimum speed-up ratios vs the references
  (``gate``); ``--baseline/--current`` compares two pytest-benchmark JSON files (``regression``).
- ``references``: the hand-written cv2/numpy/onnxruntime pipelines fastdet is measured against.
- ``synthetic``: deterministic frames, raw head outputs and a tiny ONNX detector, so that nothing
  here needs downloaded assets.

Heavy imports (cv2, onnxruntime, onnx, matplotlib) happen inside the functions that need them.
"""
