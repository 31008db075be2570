from collections import Counter

from chartlnn.preparing.splits import assign_split, dedupe_key


def test_splits_fractions_and_determinism():
    splits = [assign_split(f"p{i}", 13, 0.1, 0.1) for i in range(5000)]
    counts = Counter(splits)
    assert 400 <= counts["test"] <= 600 and 400 <= counts["validation"] <= 600
    assert splits == [assign_split(f"p{i}", 13, 0.1, 0.1) for i in range(5000)]
    assert splits != [assign_split(f"p{i}", 14, 0.1, 0.1) for i in range(5000)]


def test_splits_adding_notes_never_moves_the_test_split():
    before = {g: assign_split(g, 7, 0.1, 0.2) for g in (f"g{i}" for i in range(1000))}
    more_train = {g: assign_split(g, 7, 0.1, 0.2) for g in (f"g{i}" for i in range(3000))}
    assert all(more_train[g] == split for g, split in before.items())


def test_splits_dedupe_key_ignores_case_spacing_punctuation():
    assert dedupe_key("BP 120/80.  Pain!") == dedupe_key("bp 120 80 pain")
    assert dedupe_key("BP 120/80") != dedupe_key("BP 120/81")
