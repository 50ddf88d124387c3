"""The evidence judge as the agent uses it: in-process, off the event loop, with a small cache
so the verifier re-reads what selection already judged for free."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from veritas_common.judge import LABELS, EvidenceJudge


class CachedJudge:
    """`EvidenceJudge` probabilities (NEI, SUPPORT, CONTRADICT) per (question, text), with the
    last `cache_size` pairs remembered."""

    def __init__(self, judge: EvidenceJudge, *, cache_size: int = 4096) -> None:
        self.judge = judge
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()

    @property
    def name(self) -> str:
        return self.judge.model_id

    def warm_up(self) -> None:
        self.judge.warm_up()

    async def probabilities(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """Shape (len(texts), 3); only pairs not cached run through the model."""
        if not texts:
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        known = {t: self._cache[(question, t)] for t in texts if (question, t) in self._cache}
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            fresh = await asyncio.to_thread(self.judge.judge, question, missing)
            for text, row in zip(missing, fresh, strict=True):
                known[text] = self._cache[(question, text)] = row
                if len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return np.stack([known[t] for t in texts])
