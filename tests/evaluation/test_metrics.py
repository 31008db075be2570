import pytest

from chartlnn.inference.decode import FieldSpan, build_chart, model_info
from chartlnn.evaluation.metrics import (bootstrap_f1, char_span_counts, gold_entities, score_chart,
                                         summarize, value_counts)


def test_evaluate_value_counts_are_multisets_and_skip_unreadable_values():
    gold = [("heart_rate", 88), ("heart_rate", 88), ("heart_rate", 90), ("age", None)]
    pred = [("heart_rate", 88), ("heart_rate", 72), ("age", 45.0),
            ("medication_dose", {"unit": "mg", "amount": 5.0})]
    assert value_counts(gold, pred) == {"age": [0, 1, 0], "heart_rate": [1, 1, 2],
                                        "medication_dose": [0, 1, 0]}


def test_evaluate_values_match_whether_whole_numbers_are_written_as_int_or_float():
    gold = [("bp_systolic", 120.0), ("medication_dose", {"amount": 5, "unit": "mg"}), ("sex", "male")]
    pred = [("bp_systolic", 120), ("medication_dose", {"unit": "mg", "amount": 5.0}), ("sex", "male")]
    assert value_counts(gold, pred) == {"bp_systolic": [1, 0, 0], "medication_dose": [1, 0, 0],
                                        "sex": [1, 0, 0]}
    assert value_counts([("heart_rate", 72)], [("heart_rate", 72.5)]) == {"heart_rate": [0, 1, 1]}


def test_evaluate_char_spans_strict_and_partial_overlap():
    gold = [(0, 10, "age"), (20, 30, "age"), (40, 45, "sex")]
    pred = [(0, 10, "age"), (22, 35, "age"), (25, 28, "age"), (40, 45, "age")]
    assert char_span_counts(gold, pred) == {"age": [1, 3, 1], "sex": [0, 0, 1]}
    # partial: (22, 35) takes the second gold span, (25, 28) finds it already matched
    assert char_span_counts(gold, pred, partial=True) == {"age": [2, 2, 0], "sex": [0, 0, 1]}
    assert char_span_counts(gold, []) == {"age": [0, 0, 2], "sex": [0, 0, 1]}


def test_evaluate_summarize_micro_and_macro_by_hand():
    notes = [{"age": [1, 0, 1], "sex": [0, 1, 0]}, {"age": [2, 0, 0]}]
    summary = summarize(notes)
    assert summary["per_field"]["age"]["f1"] == pytest.approx(2 * 3 / (2 * 3 + 0 + 1))
    assert summary["per_field"]["sex"]["support"] == 0
    assert summary["micro"]["f1"] == pytest.approx(6 / (6 + 1 + 1))
    assert summary["macro_f1"] == pytest.approx(6 / 7)  # sex has no gold: not in the macro


def test_evaluate_bootstrap_interval_and_paired_difference():
    notes = [{"age": [1, 0, 0]}, {"age": [0, 1, 1]}, {"age": [3, 0, 1]}, {"age": [2, 1, 0]}]
    result = bootstrap_f1(notes, resamples=300, seed=1, baseline=notes)
    assert result["ci95"][0] <= result["f1"] <= result["ci95"][1]
    assert result["f1"] == pytest.approx(2 * 6 / (2 * 6 + 2 + 2))
    assert result["difference_ci95"] == [0.0, 0.0]
    worse = [{"age": [0, 1, 1]} for _ in notes]
    assert bootstrap_f1(notes, 300, 1, baseline=worse)["difference_ci95"][0] > 0


def test_evaluate_score_chart_against_gold():
    text = "45 yo male. HR 88.\nPlan: rest"
    spans = [{"start": 0, "end": 5, "label": "age", "attrs": '{"value": 45.0}'},
             {"start": 6, "end": 10, "label": "sex", "attrs": "{}"},
             {"start": 15, "end": 17, "label": "heart_rate", "attrs": '{"value": 88}'},
             {"start": 19, "end": 29, "label": "plan", "attrs": "{}"}]
    gold = gold_entities(text, spans, ["age", "sex", "heart_rate"])
    assert gold == [(0, 5, "age", 45.0), (6, 10, "sex", "male"), (15, 17, "heart_rate", 88)]
    offsets = [(0, 2), (3, 5), (6, 10), (10, 11), (12, 14), (15, 17), (17, 18), (18, 19), (19, 23),
               (23, 24), (25, 29)]
    tags = ["O"] * 8 + ["B-plan", "I-plan", "I-plan"]
    chart = build_chart(text, [FieldSpan(23, 29, "plan")],
                        [FieldSpan(0, 2, "age"), FieldSpan(6, 10, "sex"), FieldSpan(15, 17, "heart_rate")],
                        units={}, model=model_info("m", "liquid", "default"))
    score = score_chart(chart, gold, tags, offsets)
    assert score.exact_match  # "45" and "45 yo" both read 45.0
    assert score.counts["entity_span_strict"]["age"] == [0, 1, 1]
    assert score.counts["entity_span_partial"]["age"] == [1, 0, 0]
    assert score.counts["section_token"]["plan"] == [2, 0, 1]
    assert score.counts["section_span"]["plan"] == [0, 1, 1]
    assert score.section_confusion[("plan", "none")] == 1
    empty = build_chart(text, [], [], units={}, model=model_info("m", "liquid", "default"))
    nothing = score_chart(empty, gold, tags, offsets)
    assert not nothing.exact_match and nothing.counts["entity_value"]["heart_rate"] == [0, 0, 1]
