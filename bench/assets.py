"""Where the real test assets are: ``$FASTDET_ASSETS``, else ``../shared/assets`` beside the
checkout (models, images, videos, datasets). Benchmarks that need one skip or fail clearly when
it is absent."""

from __future__ import annotations

import os
from pathlib import Path

ASSETS = Path(os.environ.get("FASTDET_ASSETS", Path(__file__).resolve().parents[1].parent / "shared" / "assets"))
