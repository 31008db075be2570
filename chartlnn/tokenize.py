"""The domain tokenizer, and the exact projection of character spans onto token BIO tags.

Pre-tokenization splits at every white space, punctuation mark and digit/letter change, and keeps
each newline as a token of its own (line structure is what marks sections once headers are
gone). Span boundaries therefore fall on token boundaries, so spans → tags → spans is exact; a
span that does not (counted in the data card) widens to the tokens it touches.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from chartlnn.errors import ChartlnnError
from chartlnn.notes import Span

PAD, UNK, MASK = "[PAD]", "[UNK]", "[MASK]"
SPECIAL_TOKENS = [PAD, UNK, MASK]
OUTSIDE = "O"
CONTINUATION = "##"
"""WordPiece's mark on a vocabulary piece that continues the word before it."""


class TokenizerError(ChartlnnError, FileNotFoundError):
    """No usable tokenizer file where one was expected; the message names the path."""


# The same splits for ASCII text in one regex: newlines, ASCII punctuation marks one by one,
# digit runs, and runs of anything else (the blanks are gone by then).
_ASCII_PUNCTUATION = r"!-/:-@\[-`{-~"
_ASCII_PRE_TOKENIZER = pre_tokenizers.Sequence([
    pre_tokenizers.Split(Regex(r"[^\S\n]+"), behavior="removed"),
    pre_tokenizers.Split(Regex(rf"\n|[{_ASCII_PUNCTUATION}]|[0-9]+|[^\n{_ASCII_PUNCTUATION}0-9]+"),
                         behavior="isolated"),
])


def new_tokenizer() -> Tokenizer:
    """An untrained WordPiece tokenizer with the project's normalizer and pre-tokenizer."""
    tokenizer = Tokenizer(models.WordPiece(unk_token=UNK))
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"[^\S\n]+"), behavior="removed"),
        pre_tokenizers.Split(Regex(r"\n"), behavior="isolated"),
        pre_tokenizers.Punctuation(behavior="isolated"),
        pre_tokenizers.Digits(individual_digits=False),
    ])
    tokenizer.decoder = decoders.WordPiece()
    return tokenizer


def train_tokenizer(texts: Iterable[str], vocab_size: int, min_frequency: int = 2) -> Tokenizer:
    """Train on ``texts`` (the training split only, so no test note shapes the vocabulary)."""
    tokenizer = new_tokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                        special_tokens=SPECIAL_TOKENS, show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def load_tokenizer(path: str | Path) -> Tokenizer:
    """A saved ``tokenizer.json`` (or the one inside a dataset or model directory)."""
    path = Path(path)
    if path.is_dir():
        path = path / "tokenizer.json"
    if not path.exists():
        raise TokenizerError(f"{path}: no tokenizer.json here")
    return Tokenizer.from_file(str(path))


OTHER_LINE_BREAKS = re.compile("\r(?!\n)|[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
"""Every line break ``str.splitlines`` knows but the newline: a carriage return alone (older
systems' line ends; the one of "\r\n" is a blank before the newline), form feeds, Unicode line
and paragraph separators."""


def as_newlines(text: str) -> str:
    """``text`` with every line break written as a newline, character for character (offsets into
    it are offsets into ``text``): the tokenizer makes a line's end a token only at a newline, and
    the decoder reads a note's lines from them."""
    return OTHER_LINE_BREAKS.sub("\n", text)


def encode(tokenizer: Tokenizer, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """Token ids and each token's ``(start, end)`` character offsets into ``text``; any line break
    reads as a newline (:func:`as_newlines`)."""
    encoding = tokenizer.encode(as_newlines(text), add_special_tokens=False)
    return encoding.ids, [tuple(o) for o in encoding.offsets]


class TextEncoder:
    """``encode`` for many texts with one tokenizer, faster on ASCII text (nearly every note).

    NFKC leaves ASCII as it is, and the four pre-tokenizer splits are one regex there, so a twin
    of the tokenizer without the normalizer and with that regex gives the same ids and offsets in
    about half the time (tests hold them equal). Other text, and tokenizers not made by
    ``new_tokenizer``, go through the tokenizer as saved.
    """

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        self._ascii = _ascii_twin(tokenizer)

    def __call__(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        if self._ascii is not None and text.isascii():
            return encode(self._ascii, text)
        return encode(self.tokenizer, text)


def _ascii_twin(tokenizer: Tokenizer) -> Tokenizer | None:
    """``tokenizer`` without the normalizer and with the one-regex pre-tokenizer, or None when its
    normalizer or pre-tokenizer is not the project's."""
    def steps(t: Tokenizer) -> tuple[object, object]:
        saved = json.loads(t.to_str())
        return saved["normalizer"], saved["pre_tokenizer"]

    if steps(tokenizer) != steps(new_tokenizer()):
        return None
    twin = Tokenizer.from_str(tokenizer.to_str())
    twin.normalizer = None
    twin.pre_tokenizer = _ASCII_PRE_TOKENIZER
    return twin


def bio_labels(fields: Sequence[str]) -> list[str]:
    """The tag set for a family of fields: O, then B-/I- for each field, in schema order."""
    return [OUTSIDE, *(f"{p}-{f}" for f in fields for p in ("B", "I"))]


def spans_to_tags(offsets: Sequence[tuple[int, int]], spans: Iterable[Span]) -> list[str]:
    """BIO tags, one per token: B on the first token a span touches, I on the rest.

    Spans of one family never overlap, so a token belongs to at most one span.
    """
    tags = [OUTSIDE] * len(offsets)
    starts = [start for start, _ in offsets]
    for span in sorted(spans, key=lambda s: s.start):
        inside = False
        for i in range(_first_token_ending_after(offsets, span.start), len(offsets)):
            if starts[i] >= span.end:
                break
            tags[i] = f"{'I' if inside else 'B'}-{span.label}"
            inside = True
    return tags


def token_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """Token-index spans ``(first, last + 1, label)`` from BIO tags, in order; a stray I- (one
    that does not continue a span of its label) starts a new span."""
    spans: list[tuple[int, int, str]] = []
    start, label = None, None
    for i, tag in enumerate([*tags, OUTSIDE]):
        if tag == OUTSIDE and label is None:  # most tokens: nothing open, nothing to open
            continue
        prefix, _, name = tag.partition("-")
        if prefix == "I" and name == label:
            continue
        if label is not None:
            spans.append((start, i, label))
            start, label = None, None
        if prefix in ("B", "I"):
            start, label = i, name
    return spans


def token_ranges(offsets: Sequence[tuple[int, int]],
                 ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """For each character range, the token-index range ``(first, last + 1)`` of the tokens that lie
    wholly inside it; ranges holding no whole token are left out."""
    starts = [start for start, _ in offsets]
    found = []
    for start, end in ranges:
        first = bisect_left(starts, start)
        stop = first
        while stop < len(offsets) and offsets[stop][1] <= end:
            stop += 1
        if stop > first:
            found.append((first, stop))
    return found


def tags_to_spans(offsets: Sequence[tuple[int, int]], tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """Character spans ``(start, end, label)`` from BIO tags; a stray I- starts a new span."""
    return [(offsets[first][0], offsets[stop - 1][1], label)
            for first, stop, label in token_spans(tags)]


def _first_token_ending_after(offsets: Sequence[tuple[int, int]], position: int) -> int:
    """Index of the first token whose end is past ``position`` (binary search)."""
    lo, hi = 0, len(offsets)
    while lo < hi:
        mid = (lo + hi) // 2
        if offsets[mid][1] <= position:
            lo = mid + 1
        else:
            hi = mid
    return lo
