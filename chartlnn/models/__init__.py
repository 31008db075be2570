"""Sequence encoders: token embeddings (B, T, d_model) and a mask (B, T) → features (B, T, d_model).

``build_encoder(kind, **kwargs)`` is how a model YAML (``configs/model/*.yaml``: ``kind`` plus the
constructor's flat arguments) reaches a module.
"""

from __future__ import annotations

import inspect

import torch
from torch import nn

from chartlnn.models.char_ngrams import CharNgramEmbedding
from chartlnn.models.liquid import CfCEncoder, LiquidEncoder
from chartlnn.models.transformer import TransformerEncoder

_CLASSES = {"liquid": LiquidEncoder, "cfc": CfCEncoder, "transformer": TransformerEncoder}
ENCODERS = tuple(_CLASSES)
"""The encoder kinds, the default first."""


def build_encoder(kind: str, **kwargs) -> nn.Module:
    """The encoder ``kind`` built from its constructor arguments (the model YAML minus ``kind``)."""
    if kind not in _CLASSES:
        raise ValueError(f"unknown encoder kind {kind!r}; choose one of {', '.join(ENCODERS)}")
    cls = _CLASSES[kind]
    signature = inspect.signature(cls)
    try:
        signature.bind(**kwargs)
    except TypeError as exc:
        arguments = ", ".join(signature.parameters)
        raise ValueError(f"encoder {kind!r}: {exc}; its arguments are {arguments}") from None
    return cls(**kwargs)


def build_trunk(vocab_size: int, encoder: dict
                ) -> tuple[nn.Embedding, CharNgramEmbedding | None, nn.Module, nn.LayerNorm]:
    """Token embedding (padding id 0), the character n-gram embedding when the model YAML asks
    for one (``char_buckets`` > 0), the encoder it describes, and a final LayerNorm.

    The tagger and the pretraining model both hold these as ``embed``, ``char_embed``,
    ``encoder``, ``norm``, so pretrained weights carry over to a tagger by name.
    """
    kwargs = dict(encoder)
    kind, d_model = kwargs.pop("kind"), kwargs["d_model"]
    buckets = kwargs.pop("char_buckets", 0)
    char_embed = CharNgramEmbedding(vocab_size, d_model, buckets) if buckets else None
    return (nn.Embedding(vocab_size, d_model, padding_idx=0), char_embed,
            build_encoder(kind, **kwargs), nn.LayerNorm(d_model))


def embed_tokens(model: nn.Module, input_ids: torch.Tensor) -> torch.Tensor:
    """A trunk's input features (B, T, d_model): token embeddings, plus the character n-gram
    embeddings of each token's word when the model has them."""
    x = model.embed(input_ids)
    return x if model.char_embed is None else x + model.char_embed(input_ids)
