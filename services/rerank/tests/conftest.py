import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Enough words for the test sentences to tokenise into real ids rather than [UNK].
_WORDS = """the a of and to in is was for with by on at as
revenue grew increased fell fiscal year quarter company sales profit billion million percent
aspirin warfarin ibuprofen dose dosage bleeding risk patient adult adults mg daily tablet
fox dog cat quick brown lazy jumps over what how much did which drug must not be given
. , ? ! 1 2 3 4 5 6 7 8 9 0 % $"""
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *_WORDS.split()]


@pytest.fixture(scope="session")
def minilm():
    """The bundled all-MiniLM-L6-v2, loaded once per test session."""
    from veritas_embedding.testing import bundled_embedder

    return bundled_embedder()


def save_tiny_cross_encoder(path, num_labels: int = 1):
    """A tiny randomly initialised BERT cross-encoder with a hand-made vocabulary, saved like
    a real checkpoint: it exercises the real CrossEncoder code path offline (its scores carry
    no meaning)."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    path.mkdir(parents=True)
    (path / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(path / "vocab.txt"), do_lower_case=True)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(VOCAB),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=num_labels,
    )
    BertForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def make_tiny_cross_encoder():
    return save_tiny_cross_encoder


@pytest.fixture(scope="session")
def tiny_cross_encoder(tmp_path_factory):
    return save_tiny_cross_encoder(tmp_path_factory.mktemp("models") / "tiny-cross-encoder")
