"""`chartlnn.load`: a trained model directory, ready to chart notes (safetensors, no unpickling).

Charting is three steps, :meth:`ChartModel.encode` (tokenize), :meth:`ChartModel.tag` (one
padded forward pass over many notes) and ``ChartModel.decoder.decode`` (tags → Chart);
:meth:`ChartModel.chart_many` runs them over any number of notes, batched by length
(:meth:`ChartModel.tag_many` stops before decoding, for callers that need the probabilities).

The forward pass runs in one of two runtimes with the same results: numpy and the compiled loop
(:mod:`chartlnn.inference.numpy_tagger`) for a liquid model on the CPU, which never imports
torch, and the torch module everywhere else (a GPU, int8 weights, the transformer baselines).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import yaml
from tokenizers import Tokenizer

from chartlnn.inference.decode import ChartDecoder, Encoded, Tagged, model_info, word_bio
from chartlnn.errors import ChartlnnError
from chartlnn.schema import Schema, load_schema
from chartlnn.tokenize import CONTINUATION, TextEncoder, load_tokenizer

if TYPE_CHECKING:
    from chartlnn.models.tagger import Tagger

MODEL_FILES = ("model.safetensors", "config.yaml", "tokenizer.json", "schema.yaml")
WINDOW_OVERLAP = 256
"""Tokens of context a long note's window reads past the part it tags, on each side."""
RUNTIMES = ("auto", "numpy", "torch")
MENTION_LEAN = 0.5
"""How far entity decoding leans toward mentions past the network's own probabilities: each
token's entity tag log-probabilities gain MENTION_LEAN × log w before decoding, w the per-tag
loss weights the model trained with (config.yaml's ``entity_tag_weights``; a model without them
gets no lean). The weighted loss already leans the network toward rare tags by about w; silver
labels reward less of that lean (they stop where the rules' lexicon stops), hand-made labels
more: 0.5 was chosen on the 40 gold validation notes over -1 to 1 and three seeds (the 60 gold
test notes had been scored at it before; benchmarks/entity_prior.py; benchmarks/RESULTS.md)."""
GPU_DEVICE_FILES = ("/dev/nvidiactl", "/dev/kfd")
"""Where a GPU torch could use shows itself (NVIDIA's driver, ROCm's): without one, ``device="auto"``
is the CPU, decided without importing torch."""

Forward = Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]
"""(B, T) token ids and bool mask → "section", "entity" (B, T, K) and "note_type" (B, K) logits."""


class RuntimeChoiceError(ChartlnnError, ValueError):
    """A runtime asked for (``runtime=``, ``$CHARTLNN_RUNTIME``) that does not exist or cannot run
    this model here."""


class ModelDirError(ChartlnnError, FileNotFoundError):
    """A directory that is not a usable model directory; the message names it and the file."""


@dataclass
class ChartModel:
    forward: Forward
    tokenizer: Tokenizer
    schema: Schema
    config: dict[str, Any]
    decoder: ChartDecoder
    device: str
    continues: np.ndarray
    """(vocabulary,) bool: the token ids that continue a word (WordPiece's ``##`` pieces)."""
    path: Path
    runtime: str
    """"numpy" or "torch": which runtime ``forward`` is."""
    entity_lean: np.ndarray
    """(entity tags,) added to each token's entity log-probabilities before decoding
    (:data:`MENTION_LEAN`); the charts' confidences stay the network's probabilities."""

    @cached_property
    def tagger(self) -> Tagger:
        """The torch module behind the charts (for FLOP counts, parameters, training code): the
        one the torch runtime runs, or built on the CPU from the same weights for the numpy one."""
        if isinstance(self.forward, TorchForward):
            return self.forward.tagger
        return _torch_tagger(self.path, self.config, "cpu", int8=False)

    def use_threads(self, threads: int) -> None:
        """Run the forward passes on ``threads`` threads: torch's, or numpy's BLAS and the
        compiled scan's (threadpoolctl sets the BLAS pool without importing torch). Process-wide,
        as torch's setting is."""
        if self.runtime == "torch":
            import torch

            torch.set_num_threads(threads)
            return
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads, user_api="blas")
        self.forward.threads = threads

    @cached_property
    def text_encoder(self) -> TextEncoder:
        """The tokenizer's ids and offsets, with the faster route for ASCII notes."""
        return TextEncoder(self.tokenizer)

    def encode(self, text: str) -> Encoded:
        ids, offsets = self.text_encoder(text)
        return Encoded(ids, offsets)

    def tag(self, notes: Sequence[Encoded]) -> list[Tagged]:
        """Tags for a batch of encoded notes in one forward pass (batch notes of similar length:
        padding costs compute). Empty notes get empty tags."""
        lengths = [len(n.ids) for n in notes]
        width = max(lengths, default=0)
        if width == 0:
            return [_empty() for _ in notes]
        ids = np.zeros((len(notes), width), dtype=np.int64)
        for row, note in enumerate(notes):
            ids[row, :len(note.ids)] = note.ids
        mask = np.arange(width) < np.array(lengths)[:, None]  # (B, T)
        out = self.forward(ids, mask)
        section, section_prob = _argmax_prob(out["section"])  # (B, T)
        entity_log_probs = _log_softmax(out["entity"])  # (B, T, K)
        note_type, type_prob = _argmax_prob(out["note_type"])  # (B,)
        tagged = []
        for row, n in enumerate(lengths):
            if not n:
                tagged.append(_empty())
                continue
            log_probs = entity_log_probs[row, :n]  # (T, K)
            entity = word_bio(log_probs + self.entity_lean, self.continues[notes[row].ids])
            entity_prob = np.exp(log_probs[np.arange(n), entity]).astype(np.float32)
            tagged.append(Tagged(section[row, :n], section_prob[row, :n], entity, entity_prob,
                                 int(note_type[row]), float(type_prob[row])))
        return tagged

    def tag_many(self, texts: Sequence[str], *, max_batch_tokens: int = 16384,
                 max_batch_notes: int = 32) -> list[tuple[Encoded, Tagged]]:
        """Each note's tokens and tags (per token, the chosen tag and its probability), in order;
        notes of similar length are batched together (at most ``max_batch_notes`` notes and
        ``max_batch_tokens`` padded tokens per forward pass) so padding costs little. Public for
        callers that need the per-token probabilities behind a Chart (`annotate`'s uncertainty)."""
        encoded = [self.encode(text) for text in texts]
        tagged: list[Tagged | None] = [None] * len(texts)
        lengths = [len(e.ids) for e in encoded]
        for batch in length_batches(lengths, max_batch_tokens, max_batch_notes):
            if lengths[batch[0]] > max_batch_tokens:  # alone in its batch: read it in windows
                tagged_batch = [self.tag_long(encoded[batch[0]], max_batch_tokens)]
            else:
                tagged_batch = self.tag([encoded[i] for i in batch])
            for i, one in zip(batch, tagged_batch):
                tagged[i] = one
        return list(zip(encoded, tagged))

    def chart_many(self, texts: Sequence[str], note_ids: Sequence[str | None] | None = None,
                   phi: Sequence[dict[str, int] | None] | None = None, *,
                   max_batch_tokens: int = 16384, max_batch_notes: int = 32) -> list[dict[str, Any]]:
        """Charts of any number of notes (read as given: headers or not), in order, tagged as
        :meth:`tag_many` batches them. ``phi``: each note's residual-PHI counts, written into its
        chart."""
        note_ids = note_ids if note_ids is not None else [None] * len(texts)
        phi = phi if phi is not None else [None] * len(texts)
        tagged = self.tag_many(texts, max_batch_tokens=max_batch_tokens,
                               max_batch_notes=max_batch_notes)
        return [self.decoder.decode(text, encoded, one, note_id, counts)
                for text, (encoded, one), note_id, counts in zip(texts, tagged, note_ids, phi)]

    def tag_long(self, note: Encoded, window: int) -> Tagged:
        """Tags for a note longer than ``window`` tokens, read in overlapping windows so memory
        stays bounded by the window whatever the note's length: each token takes its tags from
        the window where it sits farthest from an edge (``WINDOW_OVERLAP`` tokens of context on
        each side). The note type is the most confident window's."""
        overlap = min(WINDOW_OVERLAP, window // 4)
        step = window - 2 * overlap
        parts, best = [], None
        for start in range(0, len(note.ids), step):
            first, stop = max(0, start - overlap), min(len(note.ids), start + step + overlap)
            tagged = self.tag([Encoded(note.ids[first:stop], note.offsets[first:stop])])[0]
            keep = slice(start - first, min(start + step, len(note.ids)) - first)
            parts.append(Tagged(tagged.section[keep], tagged.section_prob[keep], tagged.entity[keep],
                                tagged.entity_prob[keep], tagged.note_type, tagged.note_type_prob))
            if best is None or tagged.note_type_prob > best.note_type_prob:
                best = tagged
        return Tagged(*(np.concatenate([getattr(p, name) for p in parts]) for name in
                        ("section", "section_prob", "entity", "entity_prob")),
                      best.note_type, best.note_type_prob)

    def chart(self, text: str, note_id: str | None = None) -> dict[str, Any]:
        """The Chart of one note."""
        return self.chart_many([text], [note_id])[0]


def length_batches(lengths: Sequence[int], max_batch_tokens: int, max_batch_notes: int
                   ) -> list[list[int]]:
    """Indices grouped into batches of similar length, longest first, each within
    ``max_batch_tokens`` padded tokens (a note longer than that gets a batch of its own)."""
    batches: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        batch = batches[-1] if batches else None
        if batch and len(batch) < max_batch_notes and lengths[batch[0]] * (len(batch) + 1) <= max_batch_tokens:
            batch.append(i)
        else:
            batches.append([i])
    return batches


def _empty() -> Tagged:
    none = np.zeros(0, dtype=np.int64)
    return Tagged(none, none.astype(np.float32), none, none.astype(np.float32), 0, 0.0)


def load(path: str | Path, device: str = "cpu", int8: bool = False, runtime: str | None = None
         ) -> ChartModel:
    """Load a model directory written by `chartlnn train`; whatever is wrong with it (a missing,
    corrupt or mismatched file) is one ModelDirError line naming the directory and the file.

    ``device``: "cpu", "cuda" (or "cuda:N"), or "auto" for the GPU when there is one. ``int8``
    (CPU only): the linear layers run with int8 weights, quantized dynamically (torch.ao) —
    measured on the default model: F1 within 0.1 point; 1.25-1.4x the charts/s on one thread
    with the torch scan, 0.87x with the compiled one (benchmarks/int8_check.py). ``runtime``:
    "auto" runs a liquid model on the CPU in numpy with the compiled loop when it builds here
    (no torch import; same charts), anything else in torch; "numpy" or "torch" insists; None
    reads ``$CHARTLNN_RUNTIME`` (default "auto"), so a whole `chart` run can be switched.
    """
    path = Path(path)
    runtime = runtime or os.environ.get("CHARTLNN_RUNTIME", "auto")
    if runtime not in RUNTIMES:
        raise RuntimeChoiceError(f"runtime (CHARTLNN_RUNTIME) must be one of "
                                 f"{', '.join(RUNTIMES)}, not {runtime!r}")
    missing = [name for name in MODEL_FILES if not (path / name).is_file()]
    if missing:
        raise ModelDirError(f"{path}: not a model directory (missing {', '.join(missing)}); "
                            "train one with `chartlnn train`")
    device = resolve_device(device)
    if int8 and device != "cpu":
        raise ModelDirError(f"{path}: int8 weights run on the CPU only, not {device}")
    config, labels = _read_config(path / "config.yaml")
    if _runs_in_numpy(config, device, int8, runtime):
        forward: Forward = _numpy_tagger(path, config, labels)
    else:
        forward = TorchForward(_torch_tagger(path, config, device, int8), device)
    schema = load_schema(path / "schema.yaml")
    try:
        tokenizer = load_tokenizer(path)
    except Exception as exc:  # tokenizers raises a plain Exception for a file it cannot parse
        if isinstance(exc, ChartlnnError):
            raise
        raise ModelDirError(f"{path / 'tokenizer.json'}: not a tokenizer file") from None
    decoder = ChartDecoder(labels["section_tags"], labels["entity_tags"], labels["note_types"],
                           units={name: e.unit for name, e in schema.entities.items()},
                           model=model_info(path.name, config["model"]["kind"], schema.name))
    continues = np.array([tokenizer.id_to_token(i).startswith(CONTINUATION)
                          for i in range(tokenizer.get_vocab_size())], dtype=bool)
    return ChartModel(forward, tokenizer, schema, config, decoder, device, continues, path,
                      "torch" if isinstance(forward, TorchForward) else "numpy",
                      _entity_lean(config, labels, path / "config.yaml"))


def resolve_device(device: str) -> str:
    """``device`` with "auto" made "cuda" or "cpu"; torch is imported only where a GPU could be."""
    if device != "auto":
        return device
    if not any(Path(f).exists() for f in GPU_DEVICE_FILES):
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _runs_in_numpy(config: dict[str, Any], device: str, int8: bool, runtime: str) -> bool:
    from chartlnn.kernels.scan_library import library

    if runtime == "torch":
        return False
    possible = (device == "cpu" and not int8 and isinstance(config.get("model"), dict)
                and config["model"].get("kind") == "liquid" and library() is not None)
    if runtime == "numpy" and not possible:
        raise RuntimeChoiceError("the numpy runtime runs liquid models on the CPU, without int8, "
                                 "where the compiled loop builds (no CHARTLNN_SCAN=torch)")
    return possible


def _weights(path: Path, framework: str) -> dict[str, Any]:
    from safetensors import safe_open

    try:
        with safe_open(str(path / "model.safetensors"), framework=framework) as weights:
            return {name: weights.get_tensor(name) for name in weights.keys()}
    except Exception:  # safetensors raises its own error type, or OSError, for a bad file
        raise ModelDirError(f"{path / 'model.safetensors'}: not a readable safetensors file "
                            "(corrupt or cut short?)") from None


def _mismatch(path: Path) -> ModelDirError:
    return ModelDirError(f"{path / 'model.safetensors'}: its weights do not fit the model "
                         "config.yaml describes")


def _not_a_model(path: Path, exc: Exception) -> ModelDirError:
    return ModelDirError(f"{path / 'config.yaml'}: does not describe a model "
                         f"({type(exc).__name__}: {exc})")


def _numpy_tagger(path: Path, config: dict[str, Any], labels: dict[str, list[str]]):
    from chartlnn.inference.numpy_tagger import (NumpyTagger, WeightsMismatch, check_weights,
                                                 expected_shapes)
    from chartlnn.kernels.scan_library import library

    heads = {"section": len(labels["section_tags"]), "entity": len(labels["entity_tags"]),
             "note_type": len(labels["note_types"])}
    try:
        shapes = expected_shapes(config["model"], heads, config["vocab_size"])
    except (KeyError, TypeError, ValueError) as exc:
        raise _not_a_model(path, exc) from None
    weights = _weights(path, "numpy")
    try:
        check_weights(weights, shapes)
    except WeightsMismatch:
        raise _mismatch(path) from None
    return NumpyTagger(weights, config["model"], library())


def _torch_tagger(path: Path, config: dict[str, Any], device: str, int8: bool) -> Tagger:
    import warnings

    import torch

    from chartlnn.models.tagger import Tagger

    labels = config["labels"]
    try:
        tagger = Tagger(config["vocab_size"], len(labels["section_tags"]),
                        len(labels["entity_tags"]), len(labels["note_types"]), config["model"])
    except (KeyError, TypeError, ValueError) as exc:
        raise _not_a_model(path, exc) from None
    try:
        tagger.load_state_dict(_weights(path, "pt"))
    except RuntimeError:
        raise _mismatch(path) from None
    tagger.eval().to(device)
    if int8:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao's notice that torchao is its successor
            tagger = torch.ao.quantization.quantize_dynamic(tagger, {torch.nn.Linear},
                                                            dtype=torch.qint8)
    return tagger


class TorchForward:
    """The torch module as a :data:`Forward`: numpy in, the module on its device, numpy out."""

    def __init__(self, tagger: Tagger, device: str) -> None:
        self.tagger, self.device = tagger, device

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
        import torch

        with torch.inference_mode():
            out = self.tagger(torch.from_numpy(ids).to(self.device),
                              torch.from_numpy(mask).to(self.device))
            return {name: logits.float().cpu().numpy() for name, logits in out.items()}


def _argmax_prob(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Along the last axis: the most likely class and its softmax probability."""
    top = logits.max(-1, keepdims=True)
    return logits.argmax(-1), (1.0 / np.exp(logits - top).sum(-1)).astype(np.float32)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def _entity_lean(config: dict[str, Any], labels: dict[str, list[str]], path: Path) -> np.ndarray:
    """:data:`MENTION_LEAN` × log w per entity tag (zeros for a model that recorded no weights)."""
    weights = config.get("entity_tag_weights")
    if weights is None:
        return np.zeros(len(labels["entity_tags"]), dtype=np.float32)
    if not (isinstance(weights, list) and len(weights) == len(labels["entity_tags"])
            and all(type(w) in (int, float) and 0 < w < float("inf") for w in weights)):
        raise ModelDirError(f"{path}: entity_tag_weights must be one positive number per entity "
                            "tag")
    return (MENTION_LEAN * np.log(np.asarray(weights, dtype=np.float64))).astype(np.float32)


def _read_config(path: Path) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """A model's config.yaml and its label names, or one ModelDirError line."""
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        raise ModelDirError(f"{path}: not valid YAML (or a YAML tag that is not plain data)") from None
    labels = config.get("labels") if isinstance(config, dict) else None
    if not isinstance(labels, dict) or not all(
            isinstance(labels.get(k), list) for k in ("section_tags", "entity_tags", "note_types")):
        raise ModelDirError(f"{path}: no label names (section_tags, entity_tags, note_types); "
                            "is it a trained model's config? (a pretrained encoder is not one)")
    return config, labels
