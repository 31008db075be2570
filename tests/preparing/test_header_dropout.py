from chartlnn.preparing.header_dropout import OffsetMap, drop_ranges, header_ranges, remap_spans
from chartlnn.preparing.sections import SectionLabeler
from chartlnn.notes import Span


def test_header_dropout_keeps_every_span_text(schema):
    text = ("CHIEF COMPLAINT:  Chest pain.\nHPI: 45-year-old man, pain 2 days.\n"
            "PHYSICAL EXAM:\nHEENT: Normal.\nVITAL SIGNS: BP 124/78.\nPLAN: Admit.")
    spans, headers = SectionLabeler(schema).label(text)
    entities = [Span(text.index("45-year-old"), text.index("45-year-old") + 11, "age"),
                Span(text.index("124"), text.index("124") + 3, "bp_systolic")]
    removed = header_ranges(text, [(h.start, h.end) for h in headers if h.removable])
    new_text, offsets = drop_ranges(text, removed)
    moved, lost = remap_spans([*spans, *entities], offsets)
    assert lost == 0 and len(moved) == len(spans) + 2
    for old, new in zip([*spans, *entities], moved):
        assert new_text[new.start:new.end] == text[old.start:old.end]
        assert (new.label, new.source) == (old.label, old.source)
    assert "CHIEF COMPLAINT" not in new_text and "PLAN:" not in new_text
    assert "HEENT: Normal." in new_text
    assert new_text.startswith("Chest pain.\n45-year-old man")


def test_header_dropout_span_overlapping_a_removed_range_is_dropped():
    offsets = OffsetMap(((5, 10), (20, 25)))
    assert offsets.map_span(0, 5) == (0, 5)
    assert offsets.map_span(10, 20) == (5, 15)
    assert offsets.map_span(26, 30) == (16, 20)
    assert offsets.map_span(4, 6) is None
    assert offsets.map_span(9, 11) is None
    assert offsets.map_span(11, 30) is None
    kept, lost = remap_spans([Span(0, 3, "age"), Span(8, 12, "age")], offsets)
    assert [(s.start, s.end) for s in kept] == [(0, 3)] and lost == 1


def test_header_dropout_merges_overlapping_ranges():
    text, offsets = drop_ranges("abcdefghij", [(2, 5), (4, 7), (7, 8)])
    assert text == "abij" and offsets.removed == ((2, 8),)
    assert offsets.map_span(8, 10) == (2, 4)


def test_header_ranges_swallow_spaces_but_not_newlines():
    text = "PLAN: \t Rest.\nHPI:\nx"
    assert header_ranges(text, [(0, 5), (14, 18)]) == [(0, 8), (14, 18)]
