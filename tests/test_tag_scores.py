import pytest

from chartlnn.tag_scores import bio_spans, field_f1, micro_f1, span_scores, token_scores


def test_tag_scores_bio_spans():
    assert bio_spans(["B-a", "I-a", "O", "I-b", "B-b", "I-a"]) == {(0, 2, "a"), (3, 4, "b"), (4, 5, "b"),
                                                                  (5, 6, "a")}
    assert bio_spans([]) == set()


def test_tag_scores_span_scores_hand_computed():
    gold = [["B-age", "I-age", "O", "B-sex"], ["B-age", "O"]]
    pred = [["B-age", "I-age", "O", "O"], ["B-age", "B-sex"]]
    scores = span_scores(gold, pred)
    assert scores["age"]["f1"] == 1.0 and scores["age"]["support"] == 2
    assert scores["sex"] == pytest.approx({"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1,
                                           "tp": 0, "fp": 1, "fn": 1})
    assert micro_f1(scores) == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))


def test_tag_scores_token_scores_partial_section():
    gold = [["B-plan", "I-plan", "I-plan", "I-plan"]]
    pred = [["O", "B-plan", "I-plan", "B-assessment"]]
    scores = token_scores(gold, pred)
    assert scores["plan"]["precision"] == 1.0 and scores["plan"]["recall"] == 0.5
    assert scores["assessment"]["fp"] == 1 and scores["assessment"]["support"] == 0


def test_tag_scores_field_f1_macro_over_present_fields():
    summary = field_f1([["B-plan", "I-plan"]], [["B-plan", "I-plan"]],
                       [["B-age", "O"]], [["O", "B-sex"]])
    assert summary["section/plan"] == 1.0 and summary["entity/age"] == 0.0
    assert "entity/sex" not in summary
    assert summary["field_f1"] == 0.5
    assert summary["entity_f1"] == 0.0 and summary["section_token_f1"] == 1.0
