from collections import Counter
from pathlib import Path

import pytest

from chartlnn.evaluation.metrics import NoteScore
from chartlnn.evaluation.systems import ViewScores, _by_note_type, _unique_name


def test_systems_models_of_one_kind_are_told_apart_by_the_end_of_their_path(tmp_path):
    taken = ["liquid-small"]
    assert _unique_name("transformer-tiny", tmp_path / "a", taken) == "transformer-tiny"
    assert _unique_name("liquid-small", tmp_path / "abl" / "mix", taken) == "liquid-small (mix)"
    taken.append("liquid-small (mix)")
    assert _unique_name("liquid-small", tmp_path / "other" / "mix", taken) == "liquid-small (other/mix)"
    assert _unique_name("liquid-small", Path("runs/x"), taken) == "liquid-small (x)"


def test_systems_scores_per_note_type_pool_only_that_types_notes():
    def note(section, entity):
        return NoteScore({"section_token": {"plan": section}, "entity_value": {"age": entity}},
                         exact_match=False, section_confusion=Counter())

    scores = ViewScores(
        notes=[note([8, 0, 2], [1, 0, 0]), note([2, 2, 0], [0, 1, 1]), note([5, 0, 5], [3, 1, 0]),
               note([9, 9, 9], [9, 9, 9])],
        gold_types=["discharge_summary", "discharge_summary", "radiology", None],
        predicted_types=[None] * 4,
        skipped=Counter())
    by_type = _by_note_type(scores)
    assert list(by_type) == ["discharge_summary", "radiology"]  # most notes first; untyped left out
    discharge = by_type["discharge_summary"]
    assert discharge["notes"] == 2
    assert discharge["section_token"] == pytest.approx(2 * 10 / (2 * 10 + 2 + 2))  # tp 10, fp 2, fn 2
    assert discharge["entity_value"] == pytest.approx(2 / (2 + 1 + 1))
    assert by_type["radiology"]["section_token"] == pytest.approx(10 / 15)
