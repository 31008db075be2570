"""Carry a parent model's weights onto a new tagger (`train --init`), field by field.

A hospital fine-tunes with a copy of the schema that adds its own fields and drops some: the trunk
(embedding, encoder) carries over whole, and each head keeps the rows of the tags both label sets
share — matched by name, not position, so a field list in another order still lands right. New
fields' rows start fresh; removed fields' rows are left behind. :class:`Transfer` says which.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from chartlnn.errors import ChartlnnError
from chartlnn.tokenize import OUTSIDE

HEADS = {"section_head": "section_tags", "entity_head": "entity_tags", "note_type_head": "note_types"}
"""Each output layer of the tagger and the label list (in config.yaml's ``labels``) its rows follow."""


class TransferError(ChartlnnError, ValueError):
    """The parent's weights do not fit the new model at all; the message names the parent."""


@dataclass
class Transfer:
    """What a fine-tune took from its parent: the fields whose heads carried over, the new fields
    (heads start fresh) and the parent's fields this schema no longer has."""

    kept: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    pretrained: bool = False
    """The parent is a pretrained encoder (no tagging heads at all), not a tagger."""

    def describe(self, source: Path) -> str:
        if self.pretrained:
            return (f"from {source}: kept the pretrained embedding and encoder; the tagging heads "
                    f"of all {len(self.added)} fields start fresh")
        line = (f"from {source}: kept the encoder and the heads of {len(self.kept)} shared "
                f"field{'s' * (len(self.kept) != 1)}")
        if self.added:
            line += f"; new fields start fresh: {', '.join(self.added)}"
        if self.dropped:
            line += f"; dropped (not in this schema): {', '.join(self.dropped)}"
        return line

    def as_dict(self) -> dict[str, Any]:
        if self.pretrained:
            return {"pretrained_encoder": True}
        return {"fields_kept": self.kept, "fields_added": self.added, "fields_dropped": self.dropped}


def load_parent_weights(net: nn.Module, weights: dict[str, torch.Tensor], source: Path,
                        parent_labels: dict[str, list[str]] | None,
                        labels: dict[str, list[str]]) -> Transfer:
    """Load the parent's trunk weights of matching name and shape into ``net``, and each head's
    rows by tag name when the parent has labels (a pretrained encoder has none: heads start fresh)."""
    own = net.state_dict()
    heads = tuple(f"{head}." for head in HEADS)
    usable = {k: v for k, v in weights.items()
              if k in own and own[k].shape == v.shape and not k.startswith(heads)}
    if not any(k.startswith("encoder.") for k in usable):
        raise TransferError(f"{source}: its weights do not fit this model (different architecture?)")
    if parent_labels:
        for head, key in HEADS.items():
            usable.update(_head_rows(own, weights, head, parent_labels[key], labels[key]))
    net.load_state_dict(usable, strict=False)
    return _fields(parent_labels, labels)


def _head_rows(own: dict[str, torch.Tensor], weights: dict[str, torch.Tensor], head: str,
               old: list[str], new: list[str]) -> dict[str, torch.Tensor]:
    """The new head's weight and bias: the parent's row for every tag both lists have, the new
    model's fresh row for the rest."""
    out: dict[str, Any] = {}
    for part in ("weight", "bias"):
        name = f"{head}.{part}"
        if name not in weights or weights[name].shape[1:] != own[name].shape[1:]:
            continue
        rows = own[name].clone()
        for i, tag in enumerate(new):
            if tag in old:
                rows[i] = weights[name][old.index(tag)]
        out[name] = rows
    return out


def _fields(parent_labels: dict[str, list[str]] | None, labels: dict[str, list[str]]) -> Transfer:
    new = _field_names(labels)
    if not parent_labels:
        return Transfer(added=new, pretrained=True)
    old = _field_names(parent_labels)
    return Transfer(kept=[f for f in new if f in old], added=[f for f in new if f not in old],
                    dropped=[f for f in old if f not in new])


def _field_names(labels: dict[str, list[str]]) -> list[str]:
    """Section and entity field names, in order, from their BIO tag lists."""
    names: list[str] = []
    for key in ("section_tags", "entity_tags"):
        for tag in labels[key]:
            name = tag.partition("-")[2]
            if tag != OUTSIDE and name not in names:
                names.append(name)
    return names
