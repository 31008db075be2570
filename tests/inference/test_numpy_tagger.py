"""The numpy runtime against the torch module it stands in for: logits to float32 rounding for
every liquid configuration, the same charts from a trained model, bad weights refused, and the
choice of runtime."""

import numpy as np
import pytest
import torch

from chartlnn.inference.model import ModelDirError, load
from chartlnn.inference.numpy_tagger import NumpyTagger, WeightsMismatch, check_weights, expected_shapes
from chartlnn.kernels.scan_library import library
from chartlnn.models.tagger import Tagger
from conftest import assert_one_line_failures

needs_compiler = pytest.mark.skipif(library() is None,
                                    reason="no C compiler here: models run in torch only")
VOCAB, HEADS = 50, {"section": 7, "entity": 5, "note_type": 3}


def _tagger(**model):
    torch.manual_seed(0)
    config = {"kind": "liquid", "d_model": 16, "n_layers": 2, "mlp_ratio": 2.0, "dropout": 0.1,
              "chunk": 8} | model
    tagger = Tagger(VOCAB, HEADS["section"], HEADS["entity"], HEADS["note_type"], config).eval()
    with torch.no_grad():  # trained-looking weights: nothing left at its identity start
        for p in tagger.parameters():
            p.add_(0.3 * torch.randn_like(p))
    if tagger.char_embed is not None:
        pieces = [f"[{i}]" if i < 3 else ("##" if i % 4 == 0 else "") + f"w{i}" for i in range(VOCAB)]
        tagger.char_embed.index(pieces)
    return tagger, config


def _batch(lengths, seed=1):
    rng = np.random.default_rng(seed)
    ids = np.zeros((len(lengths), max(lengths)), dtype=np.int64)
    for row, n in enumerate(lengths):
        ids[row, :n] = rng.integers(3, VOCAB, n)
    ids[0, 0] = 4  # a row that starts inside a word (a long note's later window)
    return ids, np.arange(ids.shape[1]) < np.array(lengths)[:, None]


@needs_compiler
@pytest.mark.parametrize("model", [{}, {"char_buckets": 64}, {"window": 3, "char_buckets": 64},
                                   {"n_layers": 1, "mlp_ratio": 1.5}])
def test_numpy_tagger_equals_the_torch_tagger(model):
    tagger, config = _tagger(**model)
    weights = {name: value.numpy() for name, value in tagger.state_dict().items()}
    check_weights(weights, expected_shapes(config, HEADS, VOCAB))
    ids, mask = _batch([37, 5, 60, 1])
    got = NumpyTagger(weights, config, library())(ids, mask)
    with torch.inference_mode():
        want = tagger(torch.from_numpy(ids), torch.from_numpy(mask))
    for name, logits in want.items():
        scale = logits.abs().max().item()
        np.testing.assert_allclose(got[name] / scale, logits.numpy() / scale, atol=2e-6, rtol=0)


@needs_compiler
def test_numpy_tagger_fills_the_blas_buffers_before_its_first_batch_at_each_thread_count():
    tagger, config = _tagger()
    numpy_tagger = NumpyTagger({name: value.numpy() for name, value in tagger.state_dict().items()},
                               config, library())
    assert numpy_tagger.filled_for is None  # loading a model runs no product
    first = numpy_tagger(*_batch([9, 4]))
    assert numpy_tagger.filled_for == 1
    numpy_tagger.threads = 2  # as ChartModel.use_threads sets it
    again = numpy_tagger(*_batch([9, 4]))
    assert numpy_tagger.filled_for == 2
    for name in first:
        assert np.array_equal(first[name], again[name])


@needs_compiler
def test_numpy_tagger_splits_a_batch_over_threads_with_the_same_result():
    tagger, config = _tagger(char_buckets=64)
    weights = {name: value.numpy() for name, value in tagger.state_dict().items()}
    ids, mask = _batch([30, 12, 30, 7, 19])
    one, many = (NumpyTagger(weights, config, library(), threads)(ids, mask) for threads in (1, 3))
    for name in one:
        assert np.array_equal(one[name], many[name])


def test_numpy_tagger_refuses_weights_that_do_not_fit():
    tagger, config = _tagger()
    weights = {name: value.numpy() for name, value in tagger.state_dict().items()}
    shapes = expected_shapes(config, HEADS, VOCAB)
    with pytest.raises(WeightsMismatch):
        check_weights({k: v for k, v in weights.items() if k != "norm.bias"}, shapes)
    with pytest.raises(WeightsMismatch):
        check_weights(weights | {"embed.weight": np.zeros((VOCAB, 8), np.float32)}, shapes)


@needs_compiler
def test_numpy_tagger_charts_a_trained_model_as_torch_does(liquid_model):
    texts = ["Chief complaint: cough.\nMedications: lisinopril 10 mg p.o. daily, aspirin 81 mg.\n"
             "Allergies: penicillin.\nVitals: BP 132/84, pulse 88, temp 98.6 F.",
             "A 54-year-old woman, café-au-lait spots, 𝒙 ünïcode. Metformin 500 mg b.i.d.", ""]
    fast, reference = load(liquid_model), load(liquid_model, runtime="torch")
    assert (fast.runtime, reference.runtime) == ("numpy", "torch")
    got, want = fast.chart_many(texts, ["a", "b", "c"]), reference.chart_many(texts, ["a", "b", "c"])
    assert _without_confidences(got) == _without_confidences(want)
    assert len(_confidences(got)) == len(_confidences(want)) > 0
    assert np.allclose(_confidences(got), _confidences(want), atol=2e-4)  # rounded to 4 places
    assert sum(p.numel() for p in fast.tagger.parameters()) == sum(
        p.numel() for p in reference.tagger.parameters())


def _without_confidences(chart):
    if isinstance(chart, dict):
        return {k: _without_confidences(v) for k, v in chart.items() if k != "confidence"}
    return [_without_confidences(v) for v in chart] if isinstance(chart, list) else chart


def _confidences(chart) -> list[float]:
    if isinstance(chart, list):
        return [c for v in chart for c in _confidences(v)]
    if not isinstance(chart, dict):
        return []
    own = [chart["confidence"]] if chart.get("confidence") is not None else []
    return own + [c for k, v in chart.items() if k != "confidence" for c in _confidences(v)]


def test_numpy_tagger_is_not_chosen_where_it_cannot_run(liquid_model, transformer_model):
    assert load(transformer_model).runtime == "torch"
    assert load(liquid_model, int8=True).runtime == "torch"
    with pytest.raises(ValueError, match="numpy runtime runs liquid models"):
        load(transformer_model, runtime="numpy")
    with pytest.raises(ValueError, match="must be one of auto, numpy, torch"):
        load(liquid_model, runtime="onnx")


def test_numpy_tagger_a_runtime_that_does_not_exist_is_one_line(liquid_model, tmp_path, monkeypatch):
    notes = tmp_path / "notes.jsonl"
    notes.write_text('{"id": "a", "text": "Aspirin 81 mg daily."}\n')
    monkeypatch.setenv("CHARTLNN_RUNTIME", "onnx")
    assert_one_line_failures("chart", [(["-m", str(liquid_model), "-i", str(notes)],
                                        "CHARTLNN_RUNTIME")], tmp_path / "out")


@needs_compiler
def test_numpy_tagger_bad_weights_file_is_one_line(liquid_model, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(liquid_model, broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelDirError, match="not a readable safetensors file"):
        load(broken)
