"""The compiled liquid scan against the torch scan it replaces: values, gradients, padding, the
gate's floor, long notes, threads, and the fallback when it cannot be built."""

import logging

import pytest
import torch

from chartlnn.models import liquid, native_scan
from chartlnn.models.liquid import LiquidLayer

needs_compiler = pytest.mark.skipif(native_scan.library() is None,
                                    reason="no C compiler here: the torch scan runs instead")


def _layers(d_model=32, bias=None):
    """The same layer twice: float64 for the torch scan (the reference), float32 for the C loop."""
    torch.manual_seed(0)
    reference = LiquidLayer(d_model, d_model // 2, chunk=8).double()
    if bias is not None:
        with torch.no_grad():
            reference.proj.bias.view(2, 2, d_model // 2)[:, 0] = bias
    native = LiquidLayer(d_model, d_model // 2, chunk=8)
    native.load_state_dict({k: v.float() for k, v in reference.state_dict().items()})
    return reference, native


def _run(layer, x, mask, grad_out):
    x = x.clone().requires_grad_(True)
    out = layer(x, mask)
    (out * grad_out).sum().backward()
    return out.detach(), [x.grad] + [p.grad for p in layer.parameters()]


def _compare(x, mask, bias=None, monkeypatch=None):
    reference, native = _layers(x.shape[-1], bias)
    grad_out = torch.randn(*x.shape[:2], x.shape[-1], dtype=torch.float64)
    monkeypatch.setenv("CHARTLNN_SCAN", "torch")
    native_scan.library.cache_clear()
    want, want_grads = _run(reference, x, mask, grad_out)
    monkeypatch.delenv("CHARTLNN_SCAN")
    native_scan.library.cache_clear()
    assert native_scan.compiled_scan_runs(torch.zeros(1, dtype=torch.float32))
    got, got_grads = _run(native, x.float(), mask, grad_out.float())
    scale = want.abs().max()
    torch.testing.assert_close(got.double() / scale, want / scale, atol=2e-6, rtol=0)
    for g, w in zip(got_grads, want_grads):
        torch.testing.assert_close(g.double() / w.abs().max(), w / w.abs().max(), atol=2e-5, rtol=0)


@needs_compiler
@pytest.mark.parametrize("lengths", [[1], [45, 12, 30], [7, 7]])
def test_native_scan_equals_the_torch_scan_with_gradients(lengths, monkeypatch):
    steps = max(lengths)
    x = 3 * torch.randn(len(lengths), steps, 32, dtype=torch.float64)
    mask = torch.arange(steps)[None, :] < torch.tensor(lengths)[:, None]
    _compare(x, mask, monkeypatch=monkeypatch)


@needs_compiler
@pytest.mark.parametrize("bias", [-1000.0, liquid.TIME_FLOOR + 0.5, 30.0],
                         ids=["below-floor", "near-floor", "saturated"])
def test_native_scan_equals_the_torch_scan_at_the_gates_extremes(bias, monkeypatch):
    x = torch.randn(2, 40, 32, dtype=torch.float64)
    _compare(x, torch.ones(2, 40, dtype=torch.bool), bias=bias, monkeypatch=monkeypatch)


@needs_compiler
def test_native_scan_padding_never_reaches_real_tokens():
    _, layer = _layers()
    x = torch.randn(2, 50, 32)
    mask = torch.arange(50)[None, :] < torch.tensor([[20], [50]])
    with torch.no_grad():
        batched = layer(x, mask)
        x[0, 20:] = 1e4
        alone = layer(x[:1, :20], mask[:1, :20])
    torch.testing.assert_close(batched[0, :20], alone[0], atol=1e-6, rtol=1e-6)


@needs_compiler
def test_native_scan_is_exact_to_float32_over_a_32k_token_note():
    # Gates near 1 (a slow memory) over 32,768 steps: a float32 running state would drift by
    # thousands of roundings; the state carried in double stays at float32 rounding.
    steps, hidden = 32768, 4
    proj = torch.randn(1, steps, 4 * hidden)
    proj.view(1, steps, 2, 2, hidden)[:, :, :, 0] += 6.0  # a ≈ 0.9975: memories of ~400 tokens
    mask = torch.ones(1, steps, dtype=torch.bool)
    got = native_scan.liquid_states(proj, mask, liquid.TIME_FLOOR)
    p = proj.double().view(1, steps, 2, 2 * hidden)
    p = torch.cat([p[:, :, 0], p[:, :, 1].flip(1)])
    time, target = p.clamp(min=liquid.TIME_FLOOR).split(hidden, -1)
    log_a = torch.nn.functional.logsigmoid(time)
    b = torch.sigmoid(-time) * torch.tanh(p.split(hidden, -1)[1])
    h = liquid.liquid_scan_reference(log_a, b)
    want = torch.cat([h[:1], h[1:].flip(1)], -1)
    torch.testing.assert_close(got.double(), want, atol=1e-6, rtol=1e-6)


@needs_compiler
def test_native_scan_splits_a_batch_over_threads_with_the_same_result():
    proj, mask = torch.randn(5, 33, 16, requires_grad=True), torch.ones(5, 33, dtype=torch.bool)
    threads = torch.get_num_threads()
    results = []
    try:
        for n in (1, 3):
            torch.set_num_threads(n)
            out = native_scan.liquid_states(proj, mask, liquid.TIME_FLOOR)
            results.append((out, torch.autograd.grad(out.sum(), proj)[0]))
    finally:
        torch.set_num_threads(threads)
    for one, many in zip(*results):
        assert torch.equal(one, many)


def test_native_scan_without_a_compiler_falls_back_to_the_torch_scan(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    monkeypatch.setenv("CHARTLNN_CACHE", str(tmp_path / "cache"))
    native_scan.library.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="chartlnn.kernels.scan_library"):
            assert native_scan.library() is None
        assert "torch scan runs instead" in caplog.text
        layer = LiquidLayer(16, 8, chunk=8)
        assert layer(torch.randn(2, 9, 16), torch.ones(2, 9, dtype=torch.bool)).shape == (2, 9, 16)
    finally:
        native_scan.library.cache_clear()


def test_native_scan_an_empty_batch_has_empty_states():
    out = native_scan.liquid_states(torch.zeros(0, 5, 16), torch.zeros(0, 5, dtype=torch.bool), -20.0)
    assert out.shape == (0, 5, 8)
