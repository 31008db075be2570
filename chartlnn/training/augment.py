"""Training-time augmentation: new notes made from the training notes, drawn afresh every time a
note is batched, so a model cannot learn a training note by heart (the default model fit its
training notes' sections at 99.6 token F1 against 87 on test notes).

Mention swap. A note names a few dozen drugs; the model has to learn that a word is a drug from
where it stands ("started on X 20 mg daily", "allergic to X") as much as from the word itself, or
a drug name it never saw in training is lost. Each medication or allergen mention of a training
note is, with probability ``rate``, replaced by a name drawn from the field's lexicon (the list
the silver labeler matches) in lower, title or upper case (names the tokenizer cannot spell
without [UNK] are left out); its entity tags become B- then I- of the same field and its tokens
keep the section they were in.

Section swap. A model reading notes without headers has to tell a section by what it says; one
that has memorized a note tells it by which note it is. Each section of a training note is, with
probability ``rate``, replaced by the same section (text, entity and section tags) of another
training note read in the same view, so the notes it sees are recombined from their sections.
The replacement is the closest in length of a few drawn at random: batches are bucketed by note
length, and a recombined note that grew or shrank a lot would pad its batch (fewer epochs in the
same budget).

Sig swap. Notes of one hospital write a drug's route and frequency in a few house forms ("p.o.
b.i.d."); another hospital writes "PO BID", "by mouth twice a day" or "oral BD". Each route or
frequency mention of a training note is, with probability ``rate``, replaced by a form drawn from
the ways the normalizer reads them (:data:`chartlnn.normalize.ROUTE_FORMS` and
:data:`~chartlnn.normalize.FREQUENCY_FORMS`, with their dotted and upper-case spellings, "every N
hours" forms and "p.r.n."), so the model tags the forms the charts can read, not only those its
training notes happen to use. Tags and sections change as for a mention swap.

Case swap. A hospital's export or dictation system may write whole notes in capitals, or in
lower case; the tokenizer keeps case, so such a note is spelled in pieces the model rarely saw.
A training note is, with probability ``rate``, read wholly in upper case or wholly in lower case
(half each): every word re-spelled through the tokenizer, its tags and section carried over.

Line join. Dictations are often transcribed as one paragraph, sections run together; a note of
lines taught the model to find a section's start at a line's. A training note is, with
probability ``rate``, read as one paragraph: its newline tokens left out, every other token and
tag kept (a tag left as I- with nothing before it becomes B-).

Mention mask. Each entity mention of a training note is, with probability ``rate``, read as
[MASK] tokens (one per token, its tags kept): the tags of a name the model cannot see come from
the words around it ("started on ... 20 mg daily", "given ... for the pain"), the cue an unseen
drug name in another hospital's notes leaves.

Only training batches are touched: validation and test notes are read as they are. Each rewrite
takes and returns one note's (token ids, section tags, entity tags) and the view it is read in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from tokenizers import Tokenizer

from chartlnn.normalize import FREQUENCY_FORMS, ROUTE_FORMS
from chartlnn.preparing.entity_patterns import load_lexicon
from chartlnn.tokenize import CONTINUATION, MASK, SPECIAL_TOKENS, UNK, token_spans

LENGTH_DRAWS = 4
"""Sections drawn per swap; the one closest in length to the section it replaces is used."""

Augment = Callable[[Sequence[int], Sequence[int], Sequence[int], str],
                   tuple[list[int], list[int], list[int]]]
"""A training note rewrite: (token ids, section tags, entity tags, view) → the new three."""

LEXICONS = {"medication": ("medications.txt",), "allergen": ("allergens.txt", "medications.txt")}
"""The entity fields that are names from a list, and the shipped lists they are drawn from
(drug names count as allergens, as the silver labeler reads them)."""


PRN_FORMS = ("prn", "p.r.n.", "PRN", "as needed")
HOURS = (2, 3, 4, 6, 8, 12)
"""The intervals of the "every N hours" forms a sig swap writes ("q6h", "every 6 hours")."""
AMBIGUOUS_FREQUENCIES = {"on", "a day", "per day", "a week", "per week", "a month", "per month"}
"""Table forms that read as a frequency only after a drug and its dose ("ON" for at night, "a
day"); swapped in alone they would teach the model to tag common words wherever they stand."""


DOTTED = {"po", "iv", "im", "sl", "sc", "sq", "qd", "qh", "od", "bid", "bd", "tid", "tds", "qid",
          "qds", "qhs", "hs", "qam", "qpm", "qod"}
"""The Latin abbreviations notes also write with periods ("p.o.", "b.i.d.")."""


def _spellings(form: str) -> list[str]:
    """A form as written, and for a short one ("bid", "PO") its lower and upper-case spellings,
    and its dotted one for a Latin abbreviation ("b.i.d.")."""
    if " " in form or len(form) > 4 or not form.isalpha():
        return [form]
    letters = form.lower()
    return [letters, letters.upper()] + ([".".join(letters) + "."] if letters in DOTTED else [])


def sig_forms() -> dict[str, list[str]]:
    """The written forms a sig swap draws from, per field: every route and frequency form the
    normalizer reads, in its spellings, with "every N hours" forms and some with "p.r.n."."""
    routes = sorted({s for forms in ROUTE_FORMS.values() for form in forms for s in _spellings(form)})
    bases = sorted({s for forms in FREQUENCY_FORMS.values() for form in forms
                    if form not in AMBIGUOUS_FREQUENCIES for s in _spellings(form)})
    hourly = [written for n in HOURS for written in
              (f"q{n}h", f"q.{n}h.", f"Q{n}H", f"every {n} hours", f"{n}-hourly")]
    hourly += ["q4-6h", "q.4-6h.", "every 4 to 6 hours"]
    as_needed = [f"{base} {PRN_FORMS[i % len(PRN_FORMS)]}" for i, base in enumerate(hourly)]
    return {"medication_route": routes,
            "medication_frequency": bases + hourly + as_needed + list(PRN_FORMS)}


class MentionSwap:
    """Replaces whole mentions of some entity fields in one note's token ids and tags by words
    drawn from each field's list: drug and allergen names (:meth:`for_dataset`) or the route and
    frequency forms of a sig (:meth:`for_sigs`)."""

    def __init__(self, names: dict[str, list[list[int]]], section_tags: Sequence[str],
                 entity_tags: Sequence[str], rate: float) -> None:
        self.names = names  # lexicon field → candidate names as token ids
        self.entity_tags = list(entity_tags)
        self.tag_ids = {field: (self.entity_tags.index(f"B-{field}"),
                                self.entity_tags.index(f"I-{field}")) for field in names}
        self.section_inside = _inside_tags(section_tags)  # tag id → its field's I- id
        self.rate = rate

    @classmethod
    def for_dataset(cls, tokenizer: Tokenizer, section_tags: Sequence[str],
                    entity_tags: Sequence[str], rate: float) -> MentionSwap | None:
        """The swap for a dataset's tags and tokenizer, or None when ``rate`` is 0 or the schema
        has none of the lexicon fields."""
        if not rate:
            return None
        names = {}
        for field, files in LEXICONS.items():
            if f"B-{field}" not in entity_tags:
                continue
            entries = sorted({entry for name in files for entry in load_lexicon(name)})
            variants = [v for e in entries for v in sorted({e.lower(), e.title(), e.upper()})]
            names[field] = _encoded(tokenizer, variants)
        return cls(names, section_tags, entity_tags, rate) if names else None

    @classmethod
    def for_sigs(cls, tokenizer: Tokenizer, section_tags: Sequence[str],
                 entity_tags: Sequence[str], rate: float) -> MentionSwap | None:
        """The swap of route and frequency mentions (:func:`sig_forms`), or None when ``rate`` is
        0 or the schema has neither field."""
        if not rate:
            return None
        forms = {field: written for field, written in sig_forms().items()
                 if f"B-{field}" in entity_tags}
        names = {field: _encoded(tokenizer, written) for field, written in forms.items()}
        return cls(names, section_tags, entity_tags, rate) if names else None

    def __call__(self, ids: Sequence[int], sections: Sequence[int], entities: Sequence[int],
                 view: str) -> tuple[list[int], list[int], list[int]]:
        """The note with some mentions of the listed fields swapped (new lists; the inputs are kept)."""
        replaced = []
        for first, stop, field in token_spans([self.entity_tags[t] for t in entities]):
            if field not in self.names or float(torch.rand(())) >= self.rate:
                continue
            pool = self.names[field]
            name = pool[int(torch.randint(len(pool), ()))]
            begin, inside = self.tag_ids[field]
            more = len(name) - 1  # the new tokens stay in the section the mention was in
            section = sections[first]
            replaced.append((first, stop, (name, [section] + [self.section_inside[section]] * more,
                                           [begin] + [inside] * more)))
        return splice((ids, sections, entities), replaced)


def _encoded(tokenizer: Tokenizer, written: list[str]) -> list[list[int]]:
    """Each written form as token ids, leaving out those the tokenizer cannot spell without [UNK]."""
    unknown = tokenizer.token_to_id(UNK)
    encoded = tokenizer.encode_batch(written, add_special_tokens=False)
    return [e.ids for e in encoded if e.ids and unknown not in e.ids]


class CaseSwap:
    """Reads some training notes wholly in upper or in lower case.

    Pre-tokenization splits at blanks, punctuation and digits whatever the case, so re-spelling a
    note word by word (a word: a piece and the ``##`` pieces after it) gives the tokens the whole
    note in that case would have. A word's new pieces take its first piece's entity and section
    tags, continued with the I- tag of the same field; a word whose pieces disagree on their field,
    or that the tokenizer cannot spell in the new case without [UNK], stays as it is.
    """

    def __init__(self, tokenizer: Tokenizer, section_tags: Sequence[str],
                 entity_tags: Sequence[str], rate: float) -> None:
        self.tokenizer = tokenizer
        self.pieces = [tokenizer.id_to_token(i) for i in range(tokenizer.get_vocab_size())]
        self.special = {tokenizer.token_to_id(token) for token in SPECIAL_TOKENS}
        self.section_inside = _inside_tags(section_tags)
        self.entity_inside = _inside_tags(entity_tags)
        self.rate = rate
        self._spelled: dict[str, list[int] | None] = {}  # word in the new case → its token ids

    @classmethod
    def for_dataset(cls, tokenizer: Tokenizer, section_tags: Sequence[str],
                    entity_tags: Sequence[str], rate: float) -> CaseSwap | None:
        """The swap for a dataset's tokenizer and tags, or None when ``rate`` is 0."""
        return cls(tokenizer, section_tags, entity_tags, rate) if rate else None

    def __call__(self, ids: Sequence[int], sections: Sequence[int], entities: Sequence[int],
                 view: str) -> tuple[list[int], list[int], list[int]]:
        """The note in one case (new lists; the inputs are kept), or as it is at ``1 - rate``."""
        if float(torch.rand(())) >= self.rate:
            return list(ids), list(sections), list(entities)
        recase = str.upper if float(torch.rand(())) < 0.5 else str.lower
        replaced = []
        for first, stop in self._words(ids):
            word = self.pieces[ids[first]] + "".join(self.pieces[i][len(CONTINUATION):]
                                                      for i in ids[first + 1:stop])
            new = recase(word)
            if new == word or not self._agree(sections, entities, first, stop):
                continue
            spelled = self._spell(new)
            if spelled is None or spelled == list(ids[first:stop]):
                continue
            more = len(spelled) - 1
            section, entity = sections[first], entities[first]
            replaced.append((first, stop, (spelled, [section] + [self.section_inside[section]] * more,
                                           [entity] + [self.entity_inside[entity]] * more)))
        return splice((ids, sections, entities), replaced)

    def _words(self, ids: Sequence[int]) -> list[tuple[int, int]]:
        """(first, stop) token range of every whole word: a piece that begins one and the ``##``
        pieces right after it (a ``##`` piece with no beginning before it, as at a window's
        start or after a special token, is no word)."""
        words: list[tuple[int, int]] = []
        for i, token in enumerate(ids):
            if token in self.special:
                continue
            if not self.pieces[token].startswith(CONTINUATION):
                words.append((i, i + 1))
            elif words and words[-1][1] == i:
                words[-1] = (words[-1][0], i + 1)
        return words

    def _agree(self, sections: Sequence[int], entities: Sequence[int], first: int, stop: int) -> bool:
        """Whether the pieces after a word's first carry the inside tags of its first piece's fields."""
        return all(sections[i] == self.section_inside[sections[first]]
                   and entities[i] == self.entity_inside[entities[first]]
                   for i in range(first + 1, stop))

    def _spell(self, word: str) -> list[int] | None:
        if word not in self._spelled:
            encoded = _encoded(self.tokenizer, [word])
            self._spelled[word] = encoded[0] if encoded else None
        return self._spelled[word]


class LineJoin:
    """Reads some training notes as one paragraph: their newline tokens left out."""

    def __init__(self, newline_id: int, section_tags: Sequence[str], entity_tags: Sequence[str],
                 rate: float) -> None:
        self.newline_id = newline_id
        self.section_tags, self.entity_tags = list(section_tags), list(entity_tags)
        self.rate = rate

    @classmethod
    def for_dataset(cls, tokenizer: Tokenizer, section_tags: Sequence[str],
                    entity_tags: Sequence[str], rate: float) -> LineJoin | None:
        """The join for a dataset's tokenizer and tags, or None when ``rate`` is 0 or the
        tokenizer has no newline token."""
        newline_id = tokenizer.token_to_id("\n")
        if not rate or newline_id is None:
            return None
        return cls(newline_id, section_tags, entity_tags, rate)

    def __call__(self, ids: Sequence[int], sections: Sequence[int], entities: Sequence[int],
                 view: str) -> tuple[list[int], list[int], list[int]]:
        """The note without its newlines (new lists; the inputs are kept), or as it is at
        ``1 - rate``."""
        if float(torch.rand(())) >= self.rate:
            return list(ids), list(sections), list(entities)
        kept = [i for i, token in enumerate(ids) if token != self.newline_id]
        return ([ids[i] for i in kept], _begun([sections[i] for i in kept], self.section_tags),
                _begun([entities[i] for i in kept], self.entity_tags))


def _begun(column: list[int], tags: Sequence[str]) -> list[int]:
    """The tag ids with each I- that follows no tag of its field made B- (BIO-valid again)."""
    for i, tag in enumerate(column):
        name = tags[tag]
        if name.startswith("I-") and (i == 0 or tags[column[i - 1]][2:] != name[2:]):
            column[i] = tags.index("B-" + name[2:])
    return column


def _inside_tags(tags: Sequence[str]) -> list[int]:
    """Tag id → the id of its field's I- tag (O stays O)."""
    return [tags.index("I-" + tag[2:]) if tag.startswith("B-") else i for i, tag in enumerate(tags)]


class MentionMask:
    """Reads some entity mentions of one note as [MASK] tokens, tags unchanged."""

    def __init__(self, mask_id: int, entity_tags: Sequence[str], rate: float) -> None:
        self.mask_id = mask_id
        self.entity_tags = list(entity_tags)
        self.rate = rate

    @classmethod
    def for_dataset(cls, tokenizer: Tokenizer, entity_tags: Sequence[str],
                    rate: float) -> MentionMask | None:
        """The mask for a dataset's tokenizer, or None when ``rate`` is 0."""
        return cls(tokenizer.token_to_id(MASK), entity_tags, rate) if rate else None

    def __call__(self, ids: Sequence[int], sections: Sequence[int], entities: Sequence[int],
                 view: str) -> tuple[list[int], list[int], list[int]]:
        """The note with some mentions masked (new lists; the inputs are kept)."""
        masked = list(ids)
        for first, stop, _ in token_spans([self.entity_tags[t] for t in entities]):
            if float(torch.rand(())) < self.rate:
                masked[first:stop] = [self.mask_id] * (stop - first)
        return masked, list(sections), list(entities)


class SectionSwap:
    """Replaces whole sections of one note by the same sections of other training notes."""

    def __init__(self, pools: dict[str, dict[str, list[np.ndarray]]], section_tags: Sequence[str],
                 rate: float) -> None:
        self.pools = pools  # view → field → sections, (3, length): ids, section and entity tags
        self.section_tags = list(section_tags)
        self.rate = rate

    @classmethod
    def for_split(cls, split, section_tags: Sequence[str], views: Sequence[str],
                  rate: float) -> SectionSwap | None:
        """Every section of every note of ``split`` (a prepared training split) in each view, or
        None when ``rate`` is 0."""
        if not rate:
            return None
        pools = {}
        for view in views:
            pool: dict[str, list[np.ndarray]] = {}
            columns = (split[f"{view}_input_ids"], split[f"{view}_section_tags"],
                       split[f"{view}_entity_tags"])
            for note in zip(*columns):
                note = np.array(note, dtype=np.int32)  # (3, T)
                for first, stop, field in token_spans([section_tags[t] for t in note[1]]):
                    pool.setdefault(field, []).append(note[:, first:stop])
            pools[view] = pool
        return cls(pools, section_tags, rate)

    def __call__(self, ids: Sequence[int], sections: Sequence[int], entities: Sequence[int],
                 view: str) -> tuple[list[int], list[int], list[int]]:
        """The note with some sections swapped (new lists; the inputs are kept)."""
        pool = self.pools[view]
        replaced = []
        for first, stop, field in token_spans([self.section_tags[t] for t in sections]):
            if field not in pool or float(torch.rand(())) >= self.rate:
                continue
            candidates = pool[field]
            draws = torch.randint(len(candidates), (LENGTH_DRAWS,)).tolist()
            drawn = (candidates[i] for i in draws)
            other = min(drawn, key=lambda section: abs(section.shape[1] - (stop - first)))
            replaced.append((first, stop, other.tolist()))
        return splice((ids, sections, entities), replaced)


def splice(note: tuple[Sequence[int], Sequence[int], Sequence[int]],
           replaced: list[tuple[int, int, Sequence[Sequence[int]]]]
           ) -> tuple[list[int], list[int], list[int]]:
    """A note's (ids, section tags, entity tags) with each ``(first, stop, new)`` token range, in
    order and not overlapping, replaced by ``new`` (its three columns)."""
    out: tuple[list[int], list[int], list[int]] = ([], [], [])
    done = 0
    for first, stop, new in replaced:
        for column, source, inserted in zip(out, note, new):
            column.extend(source[done:first])
            column.extend(inserted)
        done = stop
    for column, source in zip(out, note):
        column.extend(source[done:])
    return out
