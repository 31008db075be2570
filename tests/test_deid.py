"""Tests for the residual-PHI guard: what each kind must catch, what it must leave alone, and
exact offset mapping through masking. All identifiers below are invented."""

from __future__ import annotations

import time

import pytest

from chartlnn.deid import PHI_KINDS, PhiHit, mask, scan


def found(text: str) -> list[tuple[str, str]]:
    """(kind, matched text) for every hit, in order."""
    return [(h.kind, text[h.start:h.end]) for h in scan(text)]


CAUGHT = {
    "SSN": ["123-45-6789", "SSN 123456789", "SSN: 123 45 6789", "social security number 987654321"],
    "PHONE": ["(555) 123-4567", "(555)123-4567", "555-123-4567", "555.123.4567",
              "+1 555 123 4567", "1-800-555-0199", "#555-010-0199"],
    "EMAIL": ["jane.doe+clinic@example-hospital.org", "a_b@mail.example.co.uk"],
    "URL": ["http://example.org/patient?id=7", "https://portal.example.com", "www.example.com/x"],
    "MRN": ["12345678", "0123456789012"],
    "DATE": ["01/15/2020", "1/5/20", "15/01/2020", "2020-01-15", "2020/1/5", "01-15-2020",
             "January 15, 2020", "Jan 15 2020", "Jan. 15, 2020", "Sept 3, 1999", "JANUARY 15, 2020",
             "15 January 2020", "15-Jan-2020", "the 4th of March 2011"],
    "ADDRESS": ["123 Main Street", "4500 N. Oak Ave", "12 Elm St., Apt 4", "77 Lake Shore Dr",
                "9 Rose Ct", "1600 Pennsylvania Avenue", "31 Birchwood Place", "88 Old Mill Rd.",
                "200 MAIN STREET"],
}


@pytest.mark.parametrize("kind,value", [(k, v) for k, vs in CAUGHT.items() for v in vs])
def test_deid_catches(kind: str, value: str) -> None:
    text = f"Seen today, see {value}, then follow up."
    hits = found(text)
    assert len(hits) == 1 and hits[0][0] == kind
    # Labels stay readable; the hit is the identifier itself (and "the" is not part of a date).
    assert hits[0][1] in value and hits[0][1].strip() == hits[0][1]


def test_deid_address_ends_at_the_street() -> None:
    text = "Lives at 123 Main Street. Moved to 77 Lake Shore Dr\nChicago last year."
    assert found(text) == [("ADDRESS", "123 Main Street"), ("ADDRESS", "77 Lake Shore Dr")]


@pytest.mark.parametrize("label", ["MRN", "MRN:", "MR#", "MR #", "Medical record number",
                                   "record #", "Acct", "account no.", "Account #"])
def test_deid_mrn_after_label(label: str) -> None:
    text = f"{label} 123456 on file"
    assert found(text) == [("MRN", "123456")]


@pytest.mark.parametrize("text", [
    # clinical numbers: vitals, ranges, doses, ratios, labs, counts
    "BP 124/78, HR 88, RR 16, T 37.2, SpO2 98% on RA.",
    "A 1-2 cm lesion; take 5-10 mg 3-4 times a day for 2-3 days.",
    "Strength 5/5 in all extremities; 20/20 vision; reflexes 2+/4.",
    "ABG 7.35/48/72/95 and ABG 7.4/12/80 on room air.",
    "PA pressures 25/10/15 mmHg; PCWP 12/8/10 mmHg; grip 38/36/35 pounds; PA 30/12/18, RV 30/5.",
    "Platelets 233,000; WBC 1,000; INR 2.5; epinephrine 1:100000; 0.12345678 g.",
    "Na 135 K 4.1 Cl 101 CO2 24 BUN 18 Cr 1.1 Glu 110.",
    "Model 5076-52 cm lead, lens 23.5 diopters, lot 731.042.",
    # partial dates and years are not full dates
    "Seen 01/15 and again in 2019; last visit in March 2020; born in the 1950s.",
    "ICD-10 I10; CPT 99213; C5-6 disc; L4-L5; 3 x 10 cm.",
    # placeholders left by de-identification
    "DATE OF SERVICE: MM/DD/YYYY. DOB: XX/XX/XXXX. Seen mm/dd/yy by Dr. XYZ.",
    # addresses: numbers before capitalised words without a street
    "Gave 2 Tylenol tablets. 3 Dr. visits this year. Admitted to 5 East wing.",
    "Level 2 Trauma Center Dr. Smith saw him; 2 Medtronic St. Jude leads.",
    "4. Place the patient supine. Dr. Jones, 2008 Dr. Lee.",
    # text that merely looks like other kinds
    "Mixed 1 mg @ 2 mL/h; Tdap #2 today; medical records reviewed; account for 3 units.",
    "The website is down; contact the clinic.",
])
def test_deid_leaves_clinical_text_alone(text: str) -> None:
    assert scan(text) == []


def test_deid_scan_sorted_non_overlapping_longer_wins() -> None:
    text = "SSN 123456789, call 555-123-4567 on 01/15/2020; MRN 87654321."
    hits = scan(text)
    assert [h.kind for h in hits] == ["SSN", "PHONE", "DATE", "MRN"]
    assert all(a.end <= b.start for a, b in zip(hits, hits[1:]))
    # The longer of two overlapping hits wins even when the shorter starts first.
    assert found("moved Jan 5 2020 Main Street") == [("ADDRESS", "2020 Main Street")]
    # A URL that contains a date is one URL hit, not a URL and a date.
    url = "https://example.org/2020-01-15/report"
    assert found(f"see {url} now") == [("URL", url)]


def test_deid_mask_replaces_hits_and_counts() -> None:
    text = "Call 555-123-4567 or 555.987.6543 before 01/15/2020."
    result = mask(text, scan(text))
    assert result.text == "Call [PHONE] or [PHONE] before [DATE]."
    assert result.counts == {"PHONE": 2, "DATE": 1}
    assert [h.kind for h in result.hits] == ["PHONE", "PHONE", "DATE"]


def test_deid_map_span_is_exact() -> None:
    text = "Héllo ✓ naïve. Seen 01/15/2020 for cough; call 555-123-4567 if worse."
    result = mask(text, scan(text))
    assert result.text == "Héllo ✓ naïve. Seen [DATE] for cough; call [PHONE] if worse."
    for word in ("Héllo ✓", "naïve", "Seen", "for cough", "call", "if worse."):
        start = text.index(word)
        mapped = result.map_span(start, start + len(word))
        assert mapped is not None and result.text[mapped[0]:mapped[1]] == word
    # Spans that end exactly where a hit starts, or start exactly where it ends, are outside it.
    date = scan(text)[0]
    assert result.map_span(0, date.start) == (0, date.start)
    after = result.map_span(date.end, date.end + 4)
    assert after is not None and result.text[after[0]:after[1]] == " for"


@pytest.mark.parametrize("part", ["01/15/2020", "15/2020 for", "Seen 01", "0",
                                  "Seen 01/15/2020 for"])
def test_deid_map_span_overlapping_hit_is_none(part: str) -> None:
    text = "Seen 01/15/2020 for cough."
    result = mask(text, scan(text))
    start = text.index(part)
    assert result.map_span(start, start + len(part)) is None


def test_deid_no_hits_is_identity() -> None:
    text = "No identifiers here."
    result = mask(text, scan(text))
    assert result.text == text and result.counts == {} and result.map_span(3, 14) == (3, 14)


SECRET = "Jane Q. Patient lives at 12 Hidden Lane, phone 555-123-4567"


@pytest.mark.parametrize("call", [
    lambda: mask(SECRET, [PhiHit(30, 40, "PHONE"), PhiHit(10, 35, "DATE")]),
    lambda: mask(SECRET, [PhiHit(50, len(SECRET) + 5, "PHONE")]),
    lambda: mask(SECRET, scan(SECRET)).map_span(-1, 3),
    lambda: mask(SECRET, scan(SECRET)).map_span(0, len(SECRET) + 1),
    lambda: PhiHit(5, 2, "PHONE"),
    lambda: PhiHit(0, 4, "NAME"),
    lambda: scan(SECRET.encode()),
])
def test_deid_errors_never_quote_the_note(call) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    message = str(info.value) + repr(info.value)
    for fragment in ("Jane", "Patient", "Hidden", "555-123"):
        assert fragment not in message


def test_deid_reprs_never_quote_the_note() -> None:
    result = mask(SECRET, scan(SECRET))
    assert set(result.counts) == {"ADDRESS", "PHONE"}
    shown = repr(result) + repr(result.hits)
    for fragment in ("Jane", "Patient", "Hidden", "lives", "555-123"):
        assert fragment not in shown


def test_deid_kinds_are_the_placeholders() -> None:
    assert PHI_KINDS == ("SSN", "PHONE", "EMAIL", "URL", "MRN", "DATE", "ADDRESS")
    for kind in PHI_KINDS:
        assert mask("x" * 12, [PhiHit(2, 5, kind)]).text == f"xx[{kind}]" + "x" * 7


def test_deid_scan_is_linear_on_long_tokens() -> None:
    # A pasted blob is one huge token; a quadratic pattern would take minutes here.
    blob = "www." * 50_000 + " " + "1-" * 50_000 + " " + "a" * 200_000
    started = time.perf_counter()
    scan(blob)
    assert time.perf_counter() - started < 2.0


def test_deid_masked_offsets_map_back_onto_the_original():
    import random

    text = "Seen on 03/14/2021 by Dr. X. Call 555-123-4567 or mail a@b.com today. BP 120/80."
    masked = mask(text, scan(text))
    assert masked.to_original(0, len(masked.text)) == (0, len(text))
    date = masked.text.index("[DATE]")
    assert masked.to_original(date, date + 6) == (8, 18)  # a placeholder takes in the whole hit
    assert masked.to_original(date + 2, date + 3) == (8, 18)
    rng = random.Random(0)
    for _ in range(2000):
        start = rng.randrange(len(masked.text) + 1)
        end = rng.randrange(start, len(masked.text) + 1)
        first, last = masked.to_original(start, end)
        assert 0 <= first <= last <= len(text)
        if masked.map_span(first, last) is not None:  # no PHI inside: an exact round trip
            assert masked.map_span(first, last) == (start, end)


def _matches_without_their_needle(text: str) -> list[str]:
    """Kinds of the pattern matches in ``text`` that lack their pattern's needle: a needle is
    what lets scan skip a pattern, so each must be in every match."""
    from chartlnn.deid import _PATTERNS

    return [kind for kind, pattern, needle in _PATTERNS for match in pattern.finditer(text)
            if not needle.search(match.group(0))]


def test_deid_every_match_holds_its_needle() -> None:
    texts = [f"{prefix}{value}{suffix}" for values in CAUGHT.values() for value in values
             for prefix, suffix in [("", ""), ("see ", "."), ("(", ")"), ("\n", ",\n")]]
    texts += ["MR # 1234567 and SS# 123 45 6789 on 3rd of Sept, 2001; 4-5-2020; 12B West Elm Road"]
    assert sum(len(scan(text)) for text in texts) >= len(texts)
    assert [kind for text in texts for kind in _matches_without_their_needle(text)] == []


def test_deid_every_match_in_real_notes_holds_its_needle(mtsamples_texts) -> None:
    assert sum(len(scan(text)) for text in mtsamples_texts) > 0
    assert [kind for text in mtsamples_texts for kind in _matches_without_their_needle(text)] == []
