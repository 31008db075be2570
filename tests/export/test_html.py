import re

import pytest

from chartlnn.export.html import render_html

TEXT = "Chest pain\nA 45-year-old man.\nBP 120/80, T 37.0 °C."


def _mention(text, piece, value, unit=None, confidence=0.9):
    start = text.index(piece)
    return {"start": start, "end": start + len(piece), "text": piece, "value": value, "unit": unit,
            "confidence": confidence}


def _chart(sections, entities):
    return {"chart_version": "1", "note_id": "n1",
            "model": {"name": "liquid-small", "encoder": "liquid", "chartlnn_version": "0.1.0"},
            "note_type": {"value": "hp_consult", "confidence": 0.91},
            "sections": sections, "entities": entities, "medications": []}


def _full_chart():
    return _chart({"chief_complaint": [{"start": 0, "end": 10, "text": "Chest pain", "confidence": 0.97}],
                   "history_of_present_illness": [{"start": 11, "end": 29, "text": TEXT[11:29],
                                                   "confidence": 0.4}]},
                  {"age": [_mention(TEXT, "45-year-old", 45.0, "years")],
                   "bp_systolic": [_mention(TEXT, "120", 120, "mmHg")],
                   "bp_diastolic": [_mention(TEXT, "80", 80, "mmHg")],
                   "temperature": [_mention(TEXT, "37.0 °C", 37.0, "Cel", confidence=0.3)]})


def test_show_page_has_note_pieces_labels_and_values():
    page = render_html(TEXT, _full_chart())
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    for piece in ["Chest pain", "A ", "man.", "BP ", ", T "]:
        assert piece in page
    for label in [">CC<", ">HPI<", ">Age<", ">BP sys<", ">BP dia<", ">Temp<"]:
        assert label in page
    assert "120/80 mmHg" in page and "37.0 °C" in page and "hp_consult" in page and "liquid-small" in page
    assert "http://" not in page.replace("http-equiv", "") and "<link" not in page


def test_show_marks_low_confidence_values():
    page = render_html(TEXT, _full_chart())
    assert page.count("⚠ low") == 2  # the temperature row and the HPI section row
    assert re.search(r'<mark class="entity low"[^>]*>37\.0 °C<', page)


def test_show_escapes_script_in_note():
    text = 'x <script>alert("hi")</script> & y'
    page = render_html(text, _chart({}, {"medication": [_mention(text, "<script>", "<b>drug</b>")]}))
    assert "<script>" not in page and "<b>drug" not in page
    assert "&lt;script&gt;" in page and "&amp; y" in page and "&lt;b&gt;drug" in page


def test_show_draws_entity_inside_its_section():
    page = render_html(TEXT, _full_chart())
    hpi = page[page.index(">HPI<"):]
    hpi = hpi[:hpi.index("</div></div>")]
    assert re.search(r'<mark class="entity"[^>]*>45-year-old<span class="ent-label">Age</span></mark>', hpi)
    assert hpi.count("A ") == 1 and "man." in hpi


def test_show_rejects_offsets_outside_text_naming_note_id():
    secret = "Patient Jane Roe has chest pain"
    chart = _chart({"plan": [{"start": 20, "end": 99, "text": "", "confidence": None}]}, {})
    with pytest.raises(ValueError, match="n1") as error:
        render_html(secret, chart)
    assert "Jane" not in str(error.value) and "plan" in str(error.value)


def test_show_rejects_overlapping_sections():
    chart = _chart({"plan": [{"start": 0, "end": 12, "text": "", "confidence": None}],
                    "assessment": [{"start": 5, "end": 20, "text": "", "confidence": None}]}, {})
    with pytest.raises(ValueError, match="overlap"):
        render_html(TEXT, chart)


def test_show_unicode_offsets_map_to_the_same_characters():
    text = "Café 😀 patient, T 38.5 °C\nseen"
    chart = _chart({}, {"temperature": [_mention(text, "38.5 °C", 38.5, "Cel")]})
    page = render_html(text, chart)
    assert re.search(r'Café 😀 patient, T <mark class="entity"[^>]*>38\.5 °C<span', page)
    assert "<br>seen" in page


def test_show_empty_chart_renders_the_plain_note():
    text = "Line one\n\nLine <two> three"
    page = render_html(text, {"note_id": "n2", "sections": {}, "entities": {}, "medications": []})
    assert "Line one<br><br>Line &lt;two&gt; three" in page
    assert "<mark" not in page and 'class="sec"' not in page


def test_html_show_refuses_folders_and_unwritable_places_in_one_line(liquid_model, tmp_path):
    from typer.testing import CliRunner

    from chartlnn.cli import app

    note = tmp_path / "note.txt"
    note.write_text("PLAN: Rest.")
    (tmp_path / "a-file").write_text("x")
    for args, message in (([str(tmp_path)], "is a folder"),
                          ([str(note), "-o", str(tmp_path / "a-file" / "page.html")], "cannot write the page there"),
                          ([str(note), "-o", str(tmp_path / "missing" / "page.html")], "cannot write the page there")):
        result = CliRunner().invoke(app, ["show", *args, "-m", str(liquid_model)])
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), args
        assert message in result.output and "Traceback" not in result.output
