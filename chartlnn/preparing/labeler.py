"""All labels for one note: silver sections and entities, merged with the note's gold spans."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from chartlnn.preparing.entities import EntityLabeler
from chartlnn.preparing.merge import merge_gold_silver
from chartlnn.preparing.sections import SectionLabeler
from chartlnn.notes import Note, Span, reviewed
from chartlnn.schema import Schema


@dataclass
class LabeledNote:
    sections: list[Span]
    entities: list[Span]
    header_ranges: list[tuple[int, int]]
    """Headers that header dropout deletes (words and colon)."""
    unknown_gold: Counter
    """Gold labels that are not fields of the schema (dropped), by label."""


class NoteLabeler:
    """Labels notes for one schema; build once, call for every note."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.sections = SectionLabeler(schema)
        self.entities = EntityLabeler(schema)

    def label(self, note: Note) -> LabeledNote:
        gold_sections = [s for s in note.spans if s.label in self.schema.sections]
        gold_entities = [s for s in note.spans if s.label in self.schema.entities]
        unknown = Counter(s.label for s in note.spans
                          if s.label not in self.schema.sections and s.label not in self.schema.entities)
        silver_sections, headers = self.sections.label(note.text)
        sections = merge_gold_silver(gold_sections, silver_sections)
        # A detected header inside a gold span is content by the gold's word: it stays.
        gold = gold_sections + gold_entities
        header_ranges = {(h.start, h.end) for h in headers if h.removable
                         and not any(h.start < g.end and g.start < h.end for g in gold)}
        header_ranges.update(tuple(r) for r in note.meta.get("header_spans", []))
        # A drug named in a header ("TETRACYCLINE:") is a title, not a mention.
        silver_entities = [e for e in self.entities.label(note.text, sections)
                           if not any(s < e.end and e.start < t for s, t in header_ranges)]
        if reviewed(note):  # every field was annotated: silver would only add noise
            sections, silver_entities = gold_sections, []
        return LabeledNote(
            sections=sections,
            entities=merge_gold_silver(gold_entities, silver_entities),
            header_ranges=sorted(header_ranges),
            unknown_gold=unknown,
        )
