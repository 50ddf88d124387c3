"""The evidence judge: a small cross-encoder that reads a question (or a claim) next to one
sentence in its context and says whether that sentence decides it.

Three outputs, softmaxed: NEI (the sentence does not decide the question, however related),
SUPPORT and CONTRADICT. `decides = 1 - NEI` ranks evidence and gates answerability; SUPPORT
against CONTRADICT is the entailment verdict. One model, one forward per pair, shared by the
agent (evidence selection, answerability gate, verifier) and the rerank service.

The embedded default is trained by the project itself (`training-jobs/`, `make train-judge`)
from all-MiniLM-L6-v2's weights, because no cross-encoder or NLI model ships offline; it is
stored fp16 under `veritas_common/weights/evidence-judge/` with its recipe and data hash.
A sentence is read in its context, `judge_text`: document title and section headings, then the
sentence ("Northwind report > Results: Revenue was $88.4 million.").
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from veritas_common.bundled import minilm_dir
from veritas_common.errors import FailedPrecondition

LABELS = ("NEI", "SUPPORT", "CONTRADICT")
NEI, SUPPORT, CONTRADICT = range(3)
BUNDLED_JUDGE_DIR = Path(__file__).parent / "weights" / "evidence-judge"
WEIGHTS_FILE = "model.safetensors"
# What the recipe records next to the weights (data hash, settings, tuning figures).
CARD_FILE = "card.json"


def judge_text(sentence: str, title: str = "", section_path: Sequence[str] = ()) -> str:
    """A sentence in its context, as the judge reads it (training and serving alike)."""
    headings = [title, *section_path]
    context = [h for i, h in enumerate(headings) if h and h not in headings[:i]]
    return f"{' > '.join(context)}: {sentence}" if context else sentence


def build_model(config: Any) -> Any:
    """The judge's network for a `BertConfig`: the encoder, its token states mean-pooled over
    the pair (the pooling all-MiniLM-L6-v2 was trained with, so training starts from a
    representation that already means something, unlike an untrained [CLS] pooler), then a
    linear 3-way head. Training and serving build it here, so both read the same weights."""
    import torch
    from transformers import BertModel

    class JudgeModel(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = BertModel(config, add_pooling_layer=False)
            self.dropout = torch.nn.Dropout(config.hidden_dropout_prob)
            self.head = torch.nn.Linear(config.hidden_size, len(LABELS))

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None) -> Any:
            states = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
            return self.head(self.dropout(pooled))

    return JudgeModel()


def decides(probabilities: np.ndarray) -> np.ndarray:
    """P(the sentence decides the question) per row: SUPPORT or CONTRADICT."""
    return 1.0 - probabilities[:, NEI]


class EvidenceJudge:
    """The judge model, run in-process with torch. Config in `__init__`, loading in
    `warm_up()` (blocking), work in `judge()` (blocking; call both from a worker thread)."""

    def __init__(
        self,
        model_dir: str | Path = "",
        *,
        max_length: int = 128,
        batch_size: int = 32,
    ) -> None:
        # Empty `model_dir` means the bundled, project-trained judge.
        self.model_dir = Path(model_dir) if model_dir else BUNDLED_JUDGE_DIR
        self.max_length = max_length
        self.batch_size = batch_size
        self._model: Any = None
        self._tokenizer: Any = None
        self._model_id = ""
        # Fast tokenizers are not safe to share between threads; cores are shared anyway.
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        """`evidence-judge@<first 12 hex of the weights' SHA-256>` once loaded."""
        return self._model_id or f"evidence-judge({self.model_dir})"

    @property
    def card(self) -> dict[str, Any]:
        path = self.model_dir / CARD_FILE
        return json.loads(path.read_text()) if path.is_file() else {}

    def warm_up(self) -> None:
        if self._model is not None:
            return
        weights = self.model_dir / WEIGHTS_FILE
        if not weights.is_file():
            raise FailedPrecondition(
                f"no evidence judge at {self.model_dir} (train one with `make train-judge`)"
            )
        import torch  # heavy imports, kept out of start-up
        from safetensors.torch import load
        from transformers import AutoTokenizer, BertConfig

        config = BertConfig.from_pretrained(self.model_dir)
        model = build_model(config)
        data = weights.read_bytes()  # read once: the weights, and their hash for the id
        state = {k: v.float() for k, v in load(data).items()}
        try:
            model.load_state_dict(state)
        except RuntimeError as err:
            raise FailedPrecondition(f"{weights} is not an evidence judge: {err}") from err
        model.eval()
        has_tokenizer = (self.model_dir / "tokenizer.json").is_file()
        tokenizer_dir = self.model_dir if has_tokenizer else minilm_dir()
        self._tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
        self._model = model
        self._torch = torch
        digest = hashlib.sha256(data).hexdigest()[:12]
        self._model_id = f"evidence-judge@{digest}"

    def judge(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """Probabilities (NEI, SUPPORT, CONTRADICT) of each text against `question`, shape
        (len(texts), 3)."""
        if self._model is None:
            raise FailedPrecondition(f"{self.model_id} is not loaded yet")
        if not texts:
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        out = []
        with self._lock, self._torch.inference_mode():
            for i in range(0, len(texts), self.batch_size):
                batch = list(texts[i : i + self.batch_size])
                encoded = self._tokenizer(
                    [question] * len(batch),
                    batch,
                    truncation="longest_first",
                    max_length=self.max_length,
                    padding=True,
                    return_tensors="pt",
                )
                logits = self._model(**encoded)
                out.append(self._torch.softmax(logits.float(), dim=-1).numpy())
        return np.concatenate(out).astype(np.float32)
