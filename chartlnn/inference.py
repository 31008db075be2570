"""`chartlnn.load`: a trained model directory, ready to chart notes (safetensors, no unpickling)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors.torch import load_file
from tokenizers import Tokenizer

from chartlnn.decode import decode_chart
from chartlnn.models.tagger import Tagger
from chartlnn.schema import Schema, load_schema
from chartlnn.tokenize import encode, load_tokenizer

MODEL_FILES = ("model.safetensors", "config.yaml", "tokenizer.json", "schema.yaml")


@dataclass
class ChartModel:
    tagger: Tagger
    tokenizer: Tokenizer
    schema: Schema
    config: dict[str, Any]

    @torch.inference_mode()
    def chart(self, text: str) -> dict[str, Any]:
        """The chart of one note (read as is: headers or not)."""
        ids, offsets = encode(self.tokenizer, text)
        if not ids:
            return decode_chart(text, [], [], [], None)
        out = self.tagger(torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.bool))
        labels = self.config["labels"]
        sections = [labels["section_tags"][i] for i in out["section"][0].argmax(-1).tolist()]
        entities = [labels["entity_tags"][i] for i in out["entity"][0].argmax(-1).tolist()]
        note_type = labels["note_types"][int(out["note_type"][0].argmax())]
        return decode_chart(text, offsets, sections, entities, note_type)


def load(path: str | Path) -> ChartModel:
    """Load a model directory written by `chartlnn train`; a clear error when it is not one."""
    path = Path(path)
    missing = [name for name in MODEL_FILES if not (path / name).exists()]
    if missing:
        raise FileNotFoundError(f"{path}: not a model directory (missing {', '.join(missing)}); "
                                "train one with `chartlnn train`")
    config = yaml.safe_load((path / "config.yaml").read_text(encoding="utf-8"))
    labels = config["labels"]
    tagger = Tagger(vocab_size=config["vocab_size"], section_tags=labels["section_tags"],
                    entity_tags=labels["entity_tags"], note_types=labels["note_types"],
                    encoder=config["model"])
    tagger.load_state_dict(load_file(str(path / "model.safetensors")))
    tagger.eval()
    return ChartModel(tagger, load_tokenizer(path), load_schema(path / "schema.yaml"), config)
