"""``fastdet bench``: benchmark *your* model on this machine.

- ``cli`` / ``runner``: latency percentiles, per-stage breakdown and throughput per batch size,
  optionally a gate on them (``--min-fps``, ``--max-p99-ms``).
- ``regression``: compare two saved pytest-benchmark runs (for runners with stable timings).
- ``environment``, ``plot``, ``frames``: the machine's description, the PNG report, synthetic frames.

fastdet's own speed gates against reference pipelines (and those references) live in the source
tree's ``bench/`` folder, not in the package. Heavy imports happen inside the functions that need
them.
"""
