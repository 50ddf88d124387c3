"""LoRA adapters by id: `<data_dir>/adapters/<adapter_id>/` holds a PEFT adapter
(`adapter_config.json` + weights), as the training jobs write them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from veritas_common.errors import FailedPrecondition, InvalidArgument, NotFound

# Ids are directory names: no separators, no leading dot, so an id never leaves the root.
_ADAPTER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
ADAPTER_CONFIG = "adapter_config.json"


class AdapterRegistry:
    """Resolves adapter ids to their directories."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def available(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / ADAPTER_CONFIG).is_file())

    def resolve(self, adapter_id: str) -> Path:
        """The adapter's directory; InvalidArgument for a malformed id, NotFound for an unknown
        one, FailedPrecondition for a directory that holds no adapter."""
        if not _ADAPTER_ID.fullmatch(adapter_id):
            raise InvalidArgument(
                f"adapter_id {adapter_id!r} is malformed: use letters, digits, '.', '_' or '-'"
            )
        path = self.root / adapter_id
        if not path.is_dir():
            known = ", ".join(self.available()) or "none"
            raise NotFound(f"adapter {adapter_id!r} not found in {self.root} (available: {known})")
        if not (path / ADAPTER_CONFIG).is_file():
            raise FailedPrecondition(f"adapter {adapter_id!r} at {path} has no {ADAPTER_CONFIG}")
        return path

    def rank(self, adapter_id: str) -> int:
        """The LoRA rank `r` of a resolved adapter; FailedPrecondition for an unreadable config."""
        config = self.resolve(adapter_id) / ADAPTER_CONFIG
        try:
            return int(json.loads(config.read_text())["r"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise FailedPrecondition(
                f"adapter {adapter_id!r}: cannot read its rank from {config}"
            ) from err
