import random

import pytest

from chartlnn.notes import Span
from chartlnn.tokenize import (TextEncoder, bio_labels, encode, load_tokenizer, spans_to_tags,
                               tags_to_spans, token_ranges, train_tokenizer)

TEXTS = ["The patient is a 45-year-old male with BP 124/78 and HR 88.\nTakes aspirin 81 mg p.o. daily.",
         "ALLERGIES: NKDA.\nPLAN: Return in 2 weeks; café au lait spots noted.",
         "Temperature 98.6°F, SpO2 97% on room air. Weight 154 lbs."]


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(TEXTS * 5, vocab_size=300, min_frequency=1)


def test_tokenize_keeps_newlines_and_splits_numbers_from_units(tokenizer):
    text = "Aspirin 81mg\nBP 124/78"
    ids, offsets = encode(tokenizer, text)
    pieces = [text[s:e] for s, e in offsets]
    assert "\n" in pieces and "81" in pieces and "124" in pieces and "78" in pieces
    assert len(ids) == len(offsets)


@pytest.mark.parametrize("line_break", ["\r", "\r\n", "\x0c", "\u2028", "\u2029", "\x85"])
def test_tokenize_reads_every_line_break_as_one_newline_with_offsets_kept(tokenizer, line_break):
    text = "ALLERGIES: NKDA.\nPLAN: Rest.\n\nBP 124/78"
    written = text.replace("\n", line_break)
    ids, offsets = encode(tokenizer, written)
    expected = encode(tokenizer, text)
    assert ids == expected[0]  # one newline token per line break, "\r\n" too
    newlines = [a for (a, _), i in zip(offsets, ids) if i == tokenizer.token_to_id("\n")]
    assert [written[a] for a in newlines] == [line_break[-1]] * 3  # offsets into the note as written
    assert TextEncoder(tokenizer)(written) == (ids, offsets)


def test_tokenize_round_trip_spans_tags_spans(tokenizer):
    text = TEXTS[0]
    wanted = [("45-year-old", "age"), ("male", "sex"), ("124", "bp_systolic"), ("78", "bp_diastolic"),
              ("aspirin", "medication"), ("81 mg", "medication_dose"), ("p.o.", "medication_route")]
    spans = [Span(text.index(t), text.index(t) + len(t), label) for t, label in wanted]
    _, offsets = encode(tokenizer, text)
    tags = spans_to_tags(offsets, spans)
    assert tags.count("B-age") == 1 and "I-age" in tags
    assert tags_to_spans(offsets, tags) == [(s.start, s.end, s.label) for s in spans]


def test_tokenize_round_trip_on_random_word_aligned_spans(tokenizer):
    rng = random.Random(0)
    text = " ".join(TEXTS)
    _, offsets = encode(tokenizer, text)
    for _ in range(50):
        i = rng.randrange(len(offsets))
        j = min(len(offsets) - 1, i + rng.randrange(4))
        span = Span(offsets[i][0], offsets[j][1], "plan")
        assert tags_to_spans(offsets, spans_to_tags(offsets, [span])) == [(span.start, span.end, "plan")]


def test_tokenize_unicode_offsets_are_characters(tokenizer):
    text = "naïve café ½ dose: 5 mg"
    _, offsets = encode(tokenizer, text)
    start = text.index("5 mg")
    tags = spans_to_tags(offsets, [Span(start, start + 4, "medication_dose")])
    assert tags_to_spans(offsets, tags) == [(start, start + 4, "medication_dose")]


def test_tokenize_span_inside_a_token_widens_to_the_token(tokenizer):
    text = "aspirin"
    _, offsets = encode(tokenizer, text)
    tags = spans_to_tags(offsets, [Span(2, 4, "medication")])
    ((start, end, label),) = tags_to_spans(offsets, tags)
    assert start <= 2 and end >= 4 and label == "medication"


def test_tokenize_stray_inside_tag_starts_a_span():
    offsets = [(0, 1), (2, 3), (4, 5)]
    assert tags_to_spans(offsets, ["I-age", "I-age", "B-sex"]) == [(0, 3, "age"), (4, 5, "sex")]
    assert tags_to_spans(offsets, ["B-age", "I-sex", "O"]) == [(0, 1, "age"), (2, 3, "sex")]


def test_tokenize_token_ranges_are_the_tokens_wholly_inside_each_range(tokenizer):
    text = TEXTS[1]
    _, offsets = encode(tokenizer, text)
    header = (0, len("ALLERGIES:"))
    plan = (text.index("PLAN:"), text.index("PLAN:") + len("PLAN: "))
    ranges = token_ranges(offsets, [header, plan, (1, 3)])  # (1, 3) holds no whole token
    assert [text[offsets[a][0]:offsets[b - 1][1]] for a, b in ranges] == ["ALLERGIES:", "PLAN:"]


def test_tokenize_bio_labels_order():
    assert bio_labels(["a", "b"]) == ["O", "B-a", "I-a", "B-b", "I-b"]


def test_tokenize_save_and_load(tokenizer, tmp_path):
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    loaded = load_tokenizer(tmp_path)
    assert encode(loaded, TEXTS[1]) == encode(tokenizer, TEXTS[1])
    with pytest.raises(FileNotFoundError, match="no tokenizer.json"):
        load_tokenizer(tmp_path / "missing")


ASCII_CASES = ["", " ", "\n\n", "a\r\nb", "\tx\x0by\x0cz", "x\x00y\x1cz\x7f", "12mg3.5cc",
               "q.4-6h p.r.n.", "[DATE] [MASK] ##ing", "a" * 150 + " " + "9" * 120,
               "".join(chr(c) for c in range(128)), " ".join(chr(c) for c in range(128))]


@pytest.mark.parametrize("text", ASCII_CASES + TEXTS)
def test_tokenize_text_encoder_matches_the_saved_tokenizer(tokenizer, text):
    assert TextEncoder(tokenizer)(text) == encode(tokenizer, text)


def test_tokenize_text_encoder_keeps_a_foreign_tokenizer_as_it_is(tokenizer):
    from tokenizers import Tokenizer, pre_tokenizers

    foreign = Tokenizer.from_str(tokenizer.to_str())
    foreign.pre_tokenizer = pre_tokenizers.Whitespace()
    text = "BP 124/78\nHR 88"
    assert TextEncoder(foreign)(text) == encode(foreign, text)
    assert TextEncoder(foreign)(text) != encode(tokenizer, text)


def test_tokenize_text_encoder_matches_on_real_notes(mtsamples_texts):
    texts = mtsamples_texts
    tokenizer = train_tokenizer(texts[:200], vocab_size=2000)
    fast = TextEncoder(tokenizer)
    assert sum(text.isascii() for text in texts) > 0.9 * len(texts)
    for text in texts:
        assert fast(text) == encode(tokenizer, text)
