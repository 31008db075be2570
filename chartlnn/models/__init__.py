"""Sequence encoders: token embeddings (B, T, d_model) and a mask (B, T) → features (B, T, d_model).

``build_encoder(kind, **kwargs)`` is how a model YAML (``configs/model/*.yaml``: ``kind`` plus the
constructor's flat arguments) reaches a module.
"""

from __future__ import annotations

import inspect

from torch import nn

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


def build_trunk(vocab_size: int, encoder: dict) -> tuple[nn.Embedding, nn.Module, nn.LayerNorm]:
    """Token embedding (padding id 0), the encoder a model YAML describes, and a final LayerNorm.

    The tagger and the pretraining model both hold these as ``embed``, ``encoder``, ``norm``, so
    pretrained weights carry over to a tagger by name.
    """
    kwargs = dict(encoder)
    kind, d_model = kwargs.pop("kind"), kwargs["d_model"]
    return (nn.Embedding(vocab_size, d_model, padding_idx=0), build_encoder(kind, **kwargs),
            nn.LayerNorm(d_model))
