"""Tags → spans → Chart: offsets on the original text, normalized values, linking, confidences."""

import numpy as np
import pytest

from chartlnn.inference.decode import (SECTION_GAP_TOKENS, SECTION_ISLAND_TOKENS, ChartDecoder, Encoded,
                                       FieldSpan, Tagged, build_chart, model_info, run_in_start,
                                       section_breaks, section_runs, trim_newlines, valid_bio,
                                       whole_lines, word_bio)
from chartlnn.schema import ChartInvalid, validate_chart
from chartlnn.tokenize import bio_labels

UNITS = {"age": "years", "temperature": "Cel", "medication": None, "medication_dose": None,
         "medication_route": None, "medication_frequency": None, "allergen": None}
MODEL = model_info("tiny", "liquid", "default")


def _chart(text, sections=(), entities=()):
    return build_chart(text, sections, entities, units=UNITS, model=MODEL, note_id="n1")


def test_decode_offsets_index_the_text_with_unicode_before_the_spans():
    text = "Café 😀 visit. 45-year-old with T 101.3 F."
    start = text.index("45-year-old")
    temp = text.index("101.3 F")
    chart = _chart(text, entities=[FieldSpan(start, start + 11, "age", 0.9),
                                   FieldSpan(temp, temp + 7, "temperature", 0.8)])
    age = chart["entities"]["age"][0]
    assert text[age["start"]:age["end"]] == "45-year-old" == age["text"]
    assert age["value"] == 45.0 and age["unit"] == "years"
    assert chart["entities"]["temperature"][0]["value"] == 38.5  # (101.3 - 32) * 5 / 9
    validate_chart(chart)


def test_decode_links_medication_parts_on_the_same_line_only():
    text = "Lisinopril 10 mg p.o. daily\n20 mg\nAspirin"
    spans = [FieldSpan(0, 10, "medication"), FieldSpan(11, 16, "medication_dose"),
             FieldSpan(17, 21, "medication_route"), FieldSpan(22, 27, "medication_frequency"),
             FieldSpan(28, 33, "medication_dose"), FieldSpan(34, 41, "medication")]
    chart = _chart(text, entities=spans)
    first, second = chart["medications"]
    assert first == {"name": "lisinopril", "dose": {"amount": 10.0, "unit": "mg"}, "route": "oral",
                     "frequency": "once daily", "start": 0, "end": 27, "confidence": None}
    assert second["name"] == "aspirin" and second["dose"] is None
    assert len(chart["entities"]["medication_dose"]) == 2  # the stray dose stays an entity mention
    validate_chart(chart)


def test_decode_sections_keep_text_and_order():
    text = "chest pain\nstarted today"
    chart = _chart(text, sections=[FieldSpan(11, 24, "history_of_present_illness", 0.7),
                                   FieldSpan(0, 10, "chief_complaint", 0.91234)])
    assert list(chart["sections"]) == ["chief_complaint", "history_of_present_illness"]
    assert chart["sections"]["chief_complaint"][0] == {"start": 0, "end": 10, "text": "chest pain",
                                                       "confidence": 0.9123}


def test_decode_confidence_is_the_mean_tag_probability_of_the_span():
    sections, entities = bio_labels(["plan"]), bio_labels(["age", "allergen"])
    decoder = ChartDecoder(sections, entities, ["a", "b"], UNITS, MODEL)
    text = "aged 45 yrs NKDA"
    encoded = Encoded([5, 6, 7, 8], [(0, 4), (5, 7), (8, 11), (12, 16)])
    tagged = Tagged(section=np.array([0, 0, 0, 0]), section_prob=np.full(4, 0.9, dtype=np.float32),
                    entity=np.array([0, 1, 2, 3]),
                    entity_prob=np.array([0.99, 0.9, 0.7, 0.5], dtype=np.float32),
                    note_type=1, note_type_prob=0.75)
    chart = decoder.decode(text, encoded, tagged, note_id="x")
    (age,) = chart["entities"]["age"]
    assert (age["text"], age["value"], age["confidence"]) == ("45 yrs", 45.0, pytest.approx(0.8))
    assert chart["entities"]["allergen"][0]["value"] == "no known allergies"
    assert chart["note_type"] == {"value": "b", "confidence": 0.75}
    assert chart["sections"] == {}
    validate_chart(chart)


def test_decode_empty_note_gives_an_empty_valid_chart():
    decoder = ChartDecoder(["O"], ["O"], ["a", "b"], UNITS, MODEL)
    empty = np.zeros(0, dtype=np.int64)
    chart = decoder.decode("", Encoded([], []), Tagged(empty, empty, empty, empty, 0, 0.0))
    assert chart["note_type"] is None and chart["entities"] == {} and chart["medications"] == []
    validate_chart(chart)


def test_decode_unknown_field_value_is_its_text():
    chart = build_chart("smoker: yes ", [], [FieldSpan(8, 12, "smoking")], units={}, model=MODEL)
    assert chart["entities"]["smoking"][0]["value"] == "yes"


def test_decode_invalid_chart_error_names_the_path_not_the_text():
    chart = _chart("secret words here", sections=[FieldSpan(0, 6, "plan", 0.5)])
    chart["sections"]["plan"][0]["confidence"] = "secret"
    with pytest.raises(ChartInvalid) as error:
        validate_chart(chart)
    assert "sections/plan/0/confidence" in str(error.value) and "secret" not in str(error.value)


def test_decode_whole_words_widens_spans_cut_inside_a_word():
    from chartlnn.inference.decode import whole_words

    text = "29-year-old on Lortab, BP 120/80, Tylenol"
    spans = [FieldSpan(2, 11, "age"), FieldSpan(16, 21, "medication"),
             FieldSpan(26, 29, "bp_systolic"), FieldSpan(30, 32, "bp_diastolic"),
             FieldSpan(34, 38, "medication"), FieldSpan(38, 41, "medication")]
    widened = whole_words(text, spans)
    assert [text[s.start:s.end] for s in widened] == ["29-year-old", "Lortab", "120", "80", "Tyle", "nol"]


def test_decode_whole_words_never_cuts_a_decimal_number():
    from chartlnn.inference.decode import whole_words

    text = "T 97.5, Ogen 0.625 mg daily. 2. Aspirin, BP 120/80. Next"
    spans = [FieldSpan(2, 4, "temperature"), FieldSpan(15, 21, "medication_dose"),
             FieldSpan(29, 30, "medication"), FieldSpan(44, 47, "bp_systolic"),
             FieldSpan(48, 50, "bp_diastolic")]
    widened = whole_words(text, spans)
    assert [text[s.start:s.end] for s in widened] == ["97.5", "0.625 mg", "2", "120", "80"]


def test_decode_blood_pressure_halves_become_whole_readings():
    from chartlnn.inference.decode import paired_pressures

    text = ("Her age is 81. Right arm 148/60, left 136/58. Flexion 60/60. Seen 12/10/2020. "
            "BP 120 over 80. Aspirin")

    def at(mention, field, confidence, nth=0):
        start = [i for i in range(len(text)) if text.startswith(mention, i)][nth]
        return FieldSpan(start, start + len(mention), field, confidence)

    entities = [at("81", "bp_diastolic", 0.9), at("60", "bp_diastolic", 0.8),
                at("136", "bp_systolic", 0.6), at("58", "bp_diastolic", 0.4),
                at("60", "bp_diastolic", 0.9, nth=1), at("10", "bp_systolic", 0.9),
                at("120", "bp_systolic", 0.7), at("80", "bp_diastolic", None),
                at("Aspirin", "medication", 0.5)]
    paired = paired_pressures(text, entities)
    assert [(text[s.start:s.end], s.field, s.confidence) for s in paired] == [
        ("148", "bp_systolic", 0.8), ("60", "bp_diastolic", 0.8),
        ("136", "bp_systolic", pytest.approx(0.5)), ("58", "bp_diastolic", pytest.approx(0.5)),
        ("120", "bp_systolic", 0.7), ("80", "bp_diastolic", 0.7),
        ("Aspirin", "medication", 0.5)]
    assert paired_pressures(text, []) == []
    taken = [at("60", "bp_diastolic", 0.8), at("148", "medication_dose", 0.6)]
    # the other number of "148/60" is another field's mention: the halves stay as tagged
    assert paired_pressures(text, taken) == sorted(taken)


def test_decode_tidy_mentions_trims_separators_and_joins_hyphenated_names():
    from chartlnn.inference.decode import tidy_mentions

    text = "4. Hydralazine - 10 mg; Depo-Provera, BP 120/80 - aspirin-81"
    spans = [FieldSpan(3, 16, "medication", 0.9), FieldSpan(24, 28, "medication", 0.8),
             FieldSpan(29, 37, "medication", 0.6), FieldSpan(41, 45, "bp_systolic"),
             FieldSpan(45, 47, "bp_diastolic"), FieldSpan(48, 49, "medication"),
             FieldSpan(50, 58, "medication"), FieldSpan(58, 60, "medication_dose")]
    tidy = tidy_mentions(text, spans)
    assert [(text[s.start:s.end], s.field) for s in tidy] == [
        ("Hydralazine", "medication"), ("Depo-Provera", "medication"), ("120", "bp_systolic"),
        ("80", "bp_diastolic"), ("aspirin", "medication"), ("81", "medication_dose")]
    assert tidy[1].confidence == pytest.approx(0.7) and tidy[2].confidence is None


def test_decode_drugs_listed_in_an_allergies_section_are_allergens_unless_taken():
    from chartlnn.inference.decode import listed_allergens

    text = "Sulfa, morphine.\nKeppra 500 mg daily, Lasix\nAspirin 81 mg"
    found = {name: (text.index(name), text.index(name) + len(name))
             for name in ("Sulfa", "morphine", "Keppra", "500 mg", "Lasix", "Aspirin", "81 mg")}
    entities = [FieldSpan(*found[n], "medication_dose" if "mg" in n else "medication")
                for n in found]
    allergies = FieldSpan(0, text.index("Aspirin") - 1, "allergies")
    relabeled = {text[s.start:s.end]: s.field for s in listed_allergens(text, [allergies], entities)}
    assert relabeled == {"Sulfa": "allergen", "morphine": "allergen", "Keppra": "medication",
                         "500 mg": "medication_dose", "Lasix": "allergen",
                         "Aspirin": "medication", "81 mg": "medication_dose"}
    assert listed_allergens(text, [], entities) == entities  # no allergies section: as tagged


def test_decode_sections_come_out_as_runs_not_fragments():
    fields = ["plan", "plan", "", "", "plan", "assessment", "plan", "plan", "", "exam", "exam"]
    assert section_runs(fields) == [(0, 8, "plan"), (9, 11, "exam")]
    long_gap = ["plan"] + [""] * (SECTION_GAP_TOKENS + 1) + ["plan"]
    assert section_runs(long_gap) == [(0, 1, "plan"), (SECTION_GAP_TOKENS + 2, SECTION_GAP_TOKENS + 3, "plan")]
    long_island = ["a"] * 3 + ["b"] * SECTION_ISLAND_TOKENS + ["a"] * 3
    assert [run[2] for run in section_runs(long_island)] == ["a", "b", "a"]
    assert section_runs([]) == [] and section_runs(["", ""]) == []


def test_decode_a_section_begun_at_a_line_start_is_a_span_of_its_own():
    # "Appendicitis.\nSame." after both diagnosis headers were dropped: two assessments in a row.
    tags = ["B-assessment", "I-assessment", "I-assessment", "B-assessment", "I-assessment",
            "I-assessment", "B-assessment", "I-assessment"]
    newline = [False, False, True, False, False, False, False, False]
    breaks = section_breaks(tags, newline, lambda token: False)
    assert breaks == {0, 3}  # a B- inside a line (token 6), after no sentence end, opens nothing
    fields = [t.partition("-")[2] for t in tags]
    assert section_runs(fields, breaks) == [(0, 3, "assessment"), (3, 8, "assessment")]
    assert section_runs(fields) == [(0, 8, "assessment")]
    assert trim_newlines(section_runs(fields, breaks), newline) == [
        (0, 2, "assessment"), (3, 8, "assessment")]  # the first ends on its line, not the newline


def test_decode_run_in_starts_follow_a_sentence_end_or_a_colon_and_a_blank_on_the_line():
    text = "No fever. Lungs clear! Dose 2.5 mg b.i.d., then?\nAbdomen: soft"
    words = ["No", "fever", ".", "Lungs", "clear", "!", "Dose", "2", ".", "5", "mg", "b", ".", "i",
             ".", "d", ".", ",", "then", "?", "\n", "Abdomen", ":", "soft"]
    offsets, at = [], 0
    for word in words:
        at = text.index(word, at)
        offsets.append((at, at + len(word)))
        at += len(word)
    opens = {words[i] for i in range(len(words)) if run_in_start(text, offsets, i)}
    assert opens == {"Lungs", "Dose", "soft"}  # not "5" of 2.5, "," after b.i.d., the newline


def test_decode_a_section_begun_after_a_sentence_inside_a_line_splits_the_line():
    # "Cough for a week. Lungs are clear." dictated as one line: hpi, then exam from "Lungs".
    tags = ["B-hpi", "I-hpi", "I-hpi", "I-hpi", "I-hpi", "B-exam", "I-exam", "I-exam", "I-hpi"]
    newline = [False] * len(tags)
    breaks = section_breaks(tags, newline, lambda token: token == 5)
    assert breaks == {0, 5}
    fields = [t.partition("-")[2] for t in tags]
    assert whole_lines(fields, newline) == ["hpi"] * 9  # one vote for the line: exam is lost
    voted = whole_lines(fields, newline, breaks)  # the second sentence votes alone
    assert voted == ["hpi"] * 5 + ["exam"] * 4
    assert section_runs(voted, breaks) == [(0, 5, "hpi"), (5, 9, "exam")]
    # the same B- after no sentence end or colon splits nothing
    assert section_breaks(tags, newline, lambda token: False) == {0}


def test_decode_a_note_in_one_paragraph_keeps_its_sections_apart():
    sections = bio_labels(["history_of_present_illness", "physical_exam"])  # O, B-/I- each
    decoder = ChartDecoder(sections, ["O"], ["a"], UNITS, MODEL)
    text = "Cough for a week. EXAM: Lungs clear."
    words = ["Cough", "for", "a", "week", ".", "EXAM", ":", "Lungs", "clear", "."]
    offsets, at = [], 0
    for word in words:
        at = text.index(word, at)
        offsets.append((at, at + len(word)))
        at += len(word)
    count = len(words)
    ones = np.ones(count, dtype=np.float32)
    tagged = Tagged(section=np.array([1, 2, 2, 2, 2, 0, 0, 3, 4, 4]),  # the header untagged
                    section_prob=ones, entity=np.zeros(count, dtype=np.int64), entity_prob=ones,
                    note_type=0, note_type_prob=1.0)
    chart = decoder.decode(text, Encoded(list(range(count)), offsets), tagged)
    assert {field: [s["text"] for s in spans] for field, spans in chart["sections"].items()} == {
        "history_of_present_illness": ["Cough for a week."], "physical_exam": ["Lungs clear."]}


def test_decode_no_gap_is_filled_up_to_a_section_begun_at_a_line_start():
    # "Same.\nGeneral.\nNone." with the second line untagged (it was under ANESTHESIA:).
    fields = ["assessment", "", "", "", "assessment"]
    assert section_runs(fields) == [(0, 5, "assessment")]
    assert section_runs(fields, {4}) == [(0, 1, "assessment"), (4, 5, "assessment")]


def _valid(tags):
    previous = 0
    for tag in tags:
        if tag % 2 == 0 and tag and previous not in (tag - 1, tag):
            return False
        previous = tag
    return True


def test_decode_entity_tags_are_the_best_valid_bio_sequence():
    """Against brute force over every valid sequence (O, B-a, I-a, B-b, I-b)."""
    import itertools

    rng = np.random.default_rng(0)
    for _ in range(200):
        logits = rng.normal(size=(int(rng.integers(1, 6)), 5)) * 2
        logits[:, 0] += rng.choice([0.0, 3.0], size=len(logits))
        log_probs = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        best = max((seq for seq in itertools.product(range(5), repeat=len(log_probs)) if _valid(seq)),
                   key=lambda seq: sum(log_probs[i, t] for i, t in enumerate(seq)))
        assert valid_bio(log_probs, log_probs.argmax(-1)).tolist() == list(best)
    stray = np.log(np.array([[0.9, 0.04, 0.02, 0.02, 0.02], [0.1, 0.05, 0.5, 0.3, 0.05]]))
    assert stray.argmax(-1).tolist() == [0, 2]  # argmax: an I-a after O
    assert valid_bio(stray, stray.argmax(-1)).tolist() == [0, 3]  # B-b, the best valid start


def test_decode_word_bio_is_the_best_sequence_that_tags_each_word_as_one():
    """Against brute force over every valid sequence in which a word's later pieces continue its
    first piece's mention (O stays O, B-x and I-x go on as I-x)."""
    import itertools

    rng = np.random.default_rng(1)
    for _ in range(200):
        length = int(rng.integers(1, 6))
        logits = rng.normal(size=(length, 5)) * 2
        log_probs = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        continues = rng.random(length) < 0.4

        def whole_words(seq):
            return all(not continues[i] or i == 0 or seq[i] == (0 if seq[i - 1] == 0 else
                                                               seq[i - 1] + (seq[i - 1] % 2))
                       for i in range(length))

        best = max((seq for seq in itertools.product(range(5), repeat=length)
                    if _valid(seq) and whole_words(seq)),
                   key=lambda seq: sum(log_probs[i, t] for i, t in enumerate(seq)))
        assert word_bio(log_probs, continues).tolist() == list(best)
    split = np.log(np.array([[0.1, 0.6, 0.1, 0.1, 0.1], [0.5, 0.1, 0.2, 0.1, 0.1],
                             [0.1, 0.6, 0.1, 0.1, 0.1]]))  # "Om ##ni ##cef": B-a, O, B-a
    assert valid_bio(split, split.argmax(-1)).tolist() == [1, 0, 1]
    assert word_bio(split, np.array([False, True, True])).tolist() == [1, 2, 2]


def test_decode_a_long_note_read_in_windows_tags_like_one_pass(liquid_model):
    """Windows read with 256 tokens of context each side give nearly the tags of one pass (the
    recurrence's memory can reach past the overlap, so not always exactly), with exact offsets."""
    from chartlnn.inference.model import load

    model = load(liquid_model)
    text = " ".join(f"BP {120 + i % 30}/{70 + i % 20}, HR {60 + i % 40}. Lisinopril {i % 9 + 1} mg daily."
                    for i in range(300))
    note = model.encode(text)
    assert len(note.ids) > 3000
    whole = model.tag([note])[0]
    windowed = model.tag_long(note, 1024)
    assert len(windowed.entity) == len(note.ids)
    agree = (whole.entity == windowed.entity).mean(), (whole.section == windowed.section).mean()
    assert min(agree) > 0.95, agree  # 0.973-0.995 over five fixture trainings (two threads sum
    # in varying order, so the tiny model differs from run to run)
    chart = model.chart_many([text], max_batch_tokens=1024)[0]
    assert all(text[m["start"]:m["end"]] == m["text"] for ms in chart["entities"].values() for m in ms)


def test_decode_a_note_with_carriage_return_line_ends_charts_as_with_newlines(liquid_model):
    from chartlnn.inference.model import load

    model = load(liquid_model)
    text = ("CHIEF COMPLAINT: Cough.\nMEDICATIONS: Aspirin 81 mg p.o. daily.\n"
            "Lisinopril 10 mg daily.\nALLERGIES: Penicillin.\n\nPLAN: Rest. BP 124/78, HR 88.")
    written = text.replace("\n", "\r")
    with_newlines, with_returns = model.chart_many([text, written])
    assert with_newlines["sections"] and with_newlines["entities"]
    for family in ("sections", "entities"):
        for field, spans in with_returns[family].items():
            assert all(written[s["start"]:s["end"]] == s["text"] for s in spans)
            assert [(s["start"], s["end"], s.get("value")) for s in spans] == [
                (s["start"], s["end"], s.get("value")) for s in with_newlines[family][field]]
        assert with_returns[family].keys() == with_newlines[family].keys()
    assert with_returns["medications"] == with_newlines["medications"]


def test_decode_whole_lines_vote_per_line_and_newlines_join_only_a_shared_section():
    # line 1: plan plan exam | line 2: plan "" | blank line | line 3: exam exam
    fields = ["plan", "plan", "exam", "", "plan", "", "plan", "plan", "exam", "exam"]
    newline = [False, False, False, True, False, False, True, True, False, False]
    assert whole_lines(fields, newline) == ["plan", "plan", "plan", "plan", "plan", "plan",
                                            "", "", "exam", "exam"]
    # a newline before the first line or after the last belongs to no section
    assert whole_lines(["plan", "plan", "plan"], [True, False, True]) == ["", "plan", ""]
    assert whole_lines([], []) == [] and whole_lines(["x"], [True]) == [""]
