"""The liquid tagger's forward pass in numpy and the compiled loop: what `chart` runs on a CPU.

Importing torch costs a chart worker about 190 MiB of memory and a second or two before its first
chart, and the liquid model's inference needs none of it: embedding lookups, a few small matrix
products (numpy's BLAS), layer norms, and the gates, scan and GELU in C (``liquid_scan.c``, the
loop training runs, through :mod:`chartlnn.kernels.scan_library`). The arithmetic is
:class:`chartlnn.models.tagger.Tagger`'s with a liquid encoder in eval mode, equal to float32
rounding (tests/inference/test_numpy_tagger.py); ``chartlnn.load`` picks it where the compiled
loop builds, and the torch module elsewhere.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any

import numpy as np

from chartlnn.kernels.scan_library import TIME_FLOOR, split_rows
from chartlnn.openblas import fill_packing_buffers

LAYER_NORM_EPS = 1e-5


class WeightsMismatch(ValueError):
    """Weights whose names or shapes are not the ones the model config describes."""


def expected_shapes(model: dict[str, Any], heads: dict[str, int], vocab_size: int
                    ) -> dict[str, tuple[int | None, ...]]:
    """The weight names and shapes a liquid tagger of this model config holds (None: any size),
    what torch's strict ``load_state_dict`` would check. ``heads``: outputs per head."""
    d, buckets = model["d_model"], model.get("char_buckets", 0)
    d_mlp, window = int(model["mlp_ratio"] * d), model.get("window", 1)
    shapes: dict[str, tuple[int | None, ...]] = {"embed.weight": (vocab_size, d)}
    if buckets:
        shapes |= {"char_embed.weight": (buckets + 1, d),
                   "char_embed.piece_ngrams": (vocab_size, None),
                   "char_embed.continues_word": (vocab_size,)}
    for i in range(model["n_layers"]):
        block = f"encoder.blocks.{i}."
        shapes |= {block + "norm1.weight": (d,), block + "norm1.bias": (d,),
                   block + "liquid.proj.weight": (2 * d, d), block + "liquid.proj.bias": (2 * d,),
                   block + "liquid.out.weight": (d, d), block + "liquid.out.bias": (d,),
                   block + "norm2.weight": (d,), block + "norm2.bias": (d,),
                   block + "mlp.0.weight": (d_mlp, d), block + "mlp.0.bias": (d_mlp,),
                   block + "mlp.2.weight": (d, d_mlp), block + "mlp.2.bias": (d,)}
        if window != 1:
            shapes[block + "liquid.window.weight"] = (window, d)
    shapes |= {"encoder.norm.weight": (d,), "encoder.norm.bias": (d,),
               "norm.weight": (d,), "norm.bias": (d,)}
    for head, outputs in heads.items():
        shapes |= {f"{head}_head.weight": (outputs, d), f"{head}_head.bias": (outputs,)}
    return shapes


def check_weights(weights: dict[str, np.ndarray], shapes: dict[str, tuple[int | None, ...]]) -> None:
    """Raise WeightsMismatch unless ``weights`` has exactly these names with these shapes."""
    if set(weights) != set(shapes):
        raise WeightsMismatch("names differ")
    for name, shape in shapes.items():
        got = weights[name].shape
        if len(got) != len(shape) or any(s is not None and s != g for s, g in zip(shape, got)):
            raise WeightsMismatch(f"{name} is {got}")


@dataclass
class _Block:
    norm1: tuple[np.ndarray, np.ndarray]
    window: np.ndarray | None  # (width, C): row j reads token t + j - width // 2
    proj: tuple[np.ndarray, np.ndarray]  # weights pre-transposed: (in, out), bias (out,)
    out: tuple[np.ndarray, np.ndarray]
    norm2: tuple[np.ndarray, np.ndarray]
    mlp_in: tuple[np.ndarray, np.ndarray]
    mlp_out: tuple[np.ndarray, np.ndarray]


class NumpyTagger:
    """(B, T) token ids and a bool mask → section and entity logits (B, T, K) and note-type logits
    (B, K), float32 numpy arrays, from a liquid tagger's weights. ``threads``: how many threads
    the scan splits a batch over (numpy's BLAS threads are set apart, with threadpoolctl)."""

    def __init__(self, weights: dict[str, np.ndarray], model: dict[str, Any],
                 library: ctypes.CDLL, threads: int = 1) -> None:
        self.lib, self.threads = library, threads
        self.filled_for: int | None = None  # the thread count the BLAS buffers were filled at
        self.embed = weights["embed.weight"]
        self.pieces = None  # (V, C): each vocabulary piece's summed n-gram vectors
        if model.get("char_buckets", 0):
            table = weights["char_embed.weight"].copy()
            table[0] = 0.0  # the padding row adds nothing (torch's embedding_bag skips it)
            ngrams = weights["char_embed.piece_ngrams"]
            pieces = table[ngrams[:, 0]]
            for j in range(1, ngrams.shape[1]):
                pieces += table[ngrams[:, j]]
            self.pieces, self.continues = pieces, weights["char_embed.continues_word"]

        def linear(name: str) -> tuple[np.ndarray, np.ndarray]:
            return np.ascontiguousarray(weights[name + ".weight"].T), weights[name + ".bias"]

        def norm(name: str) -> tuple[np.ndarray, np.ndarray]:
            return weights[name + ".weight"], weights[name + ".bias"]

        self.blocks = [_Block(norm(f"encoder.blocks.{i}.norm1"),
                              weights.get(f"encoder.blocks.{i}.liquid.window.weight"),
                              linear(f"encoder.blocks.{i}.liquid.proj"),
                              linear(f"encoder.blocks.{i}.liquid.out"),
                              norm(f"encoder.blocks.{i}.norm2"),
                              linear(f"encoder.blocks.{i}.mlp.0"),
                              linear(f"encoder.blocks.{i}.mlp.2"))
                       for i in range(model["n_layers"])]
        self.final_norms = [norm("encoder.norm"), norm("norm")]
        self.heads = {name: linear(f"{name}_head") for name in ("section", "entity", "note_type")}

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
        if self.filled_for != self.threads:  # threads may have changed since: see use_threads
            fill_packing_buffers()
            self.filled_for = self.threads
        batch, steps = ids.shape
        x = self.embed[ids].reshape(batch * steps, -1)  # (N, C), N = B * T
        if self.pieces is not None:
            x += self._word_means(ids)
        keep = np.ascontiguousarray(mask, dtype=np.uint8)
        for block in self.blocks:
            h = self._layer_norm(x, *block.norm1)
            if block.window is not None:
                h = _token_window(h.reshape(batch, steps, -1), mask, block.window)
            states = self._scan(_linear(h, *block.proj), keep, batch, steps)
            x += _linear(states, *block.out)
            h = _linear(self._layer_norm(x, *block.norm2), *block.mlp_in)
            self.lib.gelu(h.ctypes.data, h.size)
            x += _linear(h, *block.mlp_out)
        for weight, bias in self.final_norms:
            x = self._layer_norm(x, weight, bias)
        weights = mask.reshape(batch, steps, 1).astype(np.float32)
        pooled = (x.reshape(batch, steps, -1) * weights).sum(1) / np.maximum(weights.sum(1), 1)
        return {"section": _linear(x, *self.heads["section"]).reshape(batch, steps, -1),
                "entity": _linear(x, *self.heads["entity"]).reshape(batch, steps, -1),
                "note_type": _linear(pooled, *self.heads["note_type"])}

    def _word_means(self, ids: np.ndarray) -> np.ndarray:
        """(N, C): each token's word's mean piece vector, a word being a piece that does not
        continue one and the ``##`` pieces after it, within its row (a row's leading ``##``
        pieces join its first word, as in :class:`chartlnn.models.char_ngrams.CharNgramEmbedding`).
        Most words are one piece: only the others are summed, piece by piece in reading order."""
        batch, steps = ids.shape
        vectors = self.pieces[ids.reshape(-1)]  # (N, C)
        word = np.maximum(np.cumsum(~self.continues[ids], axis=1) - 1, 0)  # (B, T)
        word += (np.arange(batch) * steps)[:, None]  # numbered across rows: nondecreasing
        word = word.reshape(-1)
        firsts = np.flatnonzero(np.diff(word, prepend=-1))
        sizes = np.diff(np.append(firsts, word.size))
        long = sizes > 1
        firsts, sizes = firsts[long], sizes[long]
        if not firsts.size:
            return vectors
        sums = vectors[firsts]
        for k in range(1, sizes.max()):
            more = sizes > k
            sums[more] += vectors[firsts[more] + k]
        within = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        vectors[np.repeat(firsts, sizes) + within] = np.repeat(sums / sizes[:, None].astype(
            np.float32), sizes, axis=0)
        return vectors

    def _layer_norm(self, x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
        """torch's LayerNorm over the last axis of (N, C), in C."""
        out = np.empty_like(x)
        self.lib.layer_norm(x.ctypes.data, out.ctypes.data, weight.ctypes.data, bias.ctypes.data,
                            x.shape[0], x.shape[1], ctypes.c_float(LAYER_NORM_EPS))
        return out

    def _scan(self, proj: np.ndarray, keep: np.ndarray, batch: int, steps: int) -> np.ndarray:
        """Both directions' states (N, 2H) from the projection (N, 4H), in C."""
        width = proj.shape[1]
        out = np.empty((batch * steps, width // 2), dtype=np.float32)
        row_in, row_out = steps * width * 4, steps * width // 2 * 4  # bytes per note

        def rows(first: int, stop: int) -> None:
            self.lib.liquid_forward(proj.ctypes.data + first * row_in,
                                    keep.ctypes.data + first * steps,
                                    out.ctypes.data + first * row_out,
                                    stop - first, steps, width // 4, ctypes.c_float(TIME_FLOOR))
        if batch and steps:
            split_rows(rows, batch, self.threads)
        return out


def _linear(x: np.ndarray, weight_t: np.ndarray, bias: np.ndarray) -> np.ndarray:
    out = x @ weight_t
    out += bias
    return out


def _token_window(x: np.ndarray, mask: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """:class:`chartlnn.models.liquid.TokenWindow`: (B, T, C) → (N, C); padding reads as zeros."""
    half, steps = weight.shape[0] // 2, x.shape[1]
    padded = np.pad(x * mask[..., None], ((0, 0), (half, half), (0, 0)))
    out = sum(padded[:, j:j + steps] * w for j, w in enumerate(weight))
    return np.ascontiguousarray(out, dtype=np.float32).reshape(-1, x.shape[2])
