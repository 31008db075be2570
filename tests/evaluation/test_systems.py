from pathlib import Path

from chartlnn.evaluation.systems import _unique_name


def test_systems_models_of_one_kind_are_told_apart_by_the_end_of_their_path(tmp_path):
    taken = ["liquid-small"]
    assert _unique_name("transformer-tiny", tmp_path / "a", taken) == "transformer-tiny"
    assert _unique_name("liquid-small", tmp_path / "abl" / "mix", taken) == "liquid-small (mix)"
    taken.append("liquid-small (mix)")
    assert _unique_name("liquid-small", tmp_path / "other" / "mix", taken) == "liquid-small (other/mix)"
    assert _unique_name("liquid-small", Path("runs/x"), taken) == "liquid-small (x)"
