
import pytest
import torch
import yaml
from ncps.torch import CfC

from chartlnn.models import ENCODERS, build_encoder, liquid, native_scan
from chartlnn.models.liquid import BiCfC, CfCEncoder, LiquidEncoder, liquid_scan, liquid_scan_reference
from chartlnn.config import shipped_config

CONFIGS = shipped_config("model").parent


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def torch_scan(monkeypatch):
    """The layer runs the torch scan (what the compiled one is checked against), not the C loop."""
    monkeypatch.setenv("CHARTLNN_SCAN", "torch")
    native_scan.library.cache_clear()
    yield
    native_scan.library.cache_clear()


def _batch(lengths, d_model, seed=0):
    """Random embeddings (B, T, d_model) and a right-padded mask for notes of these lengths."""
    torch.manual_seed(seed)
    steps = max(lengths)
    x = torch.randn(len(lengths), steps, d_model)
    mask = torch.arange(steps)[None, :] < torch.tensor(lengths)[:, None]
    return x, mask


def _grads(module, x, mask):
    """Output, and gradients of a fixed loss on real positions w.r.t. the input and every parameter."""
    x = x.clone().requires_grad_(True)
    y = module(x, mask)
    weights = torch.linspace(-1, 1, y.shape[-1])
    (y * weights * mask[..., None]).sum().backward()
    grads = [x.grad] + [p.grad.clone() for p in module.parameters()]
    module.zero_grad()
    return y.detach(), grads


@pytest.mark.parametrize("block", [1, 2 * 3 * 8 * 5, liquid.SCAN_BLOCK], ids=["1chunk", "2chunks", "whole"])
def test_models_liquid_scan_equals_loop_forward_and_backward(block, monkeypatch):
    monkeypatch.setattr(liquid, "SCAN_BLOCK", block)  # blocks of 1 chunk, 2 chunks, the whole note
    steps, chunk = 45, 8  # not a multiple of the chunk
    log_a = torch.nn.functional.logsigmoid(3 * torch.randn(3, steps, 5)).requires_grad_(True)
    b = torch.randn(3, steps, 5).requires_grad_(True)
    out = liquid_scan(log_a, b, chunk)
    grad_out = torch.randn_like(out)
    got = torch.autograd.grad(out, (log_a, b), grad_out)
    ref = liquid_scan_reference(log_a, b)
    want = torch.autograd.grad(ref, (log_a, b), grad_out)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-5)


def test_models_liquid_scan_survives_the_strongest_forgetting():
    # Every step at the floor: -cumsum(log a) reaches chunk * 20 = 640, past float32's exp range.
    log_a = torch.full((2, 70, 3), liquid.TIME_FLOOR)
    b = torch.rand(2, 70, 3)
    out = liquid_scan(log_a, b, liquid.MAX_CHUNK)
    torch.testing.assert_close(out, liquid_scan_reference(log_a, b), atol=1e-6, rtol=1e-5)


def test_models_liquid_scan_gradients_stay_finite_at_the_floor():
    # A whole chunk of gates just above the floor: exp(-L) near e^640, and its square (what the
    # gradient of a reciprocal would hold) past float64's range.
    log_a = torch.full((1, 64, 4), liquid.TIME_FLOOR + 0.1, dtype=torch.float32, requires_grad=True)
    b = torch.rand(1, 64, 4, requires_grad=True)
    liquid_scan(log_a, b, liquid.MAX_CHUNK).sum().backward()
    assert torch.isfinite(log_a.grad).all() and torch.isfinite(b.grad).all()


def test_models_liquid_layer_floors_the_time_gate(monkeypatch, torch_scan):
    encoder = LiquidEncoder(d_model=16, n_layers=1, mlp_ratio=2.0, dropout=0.0, chunk=32).eval()
    with torch.no_grad():
        encoder.blocks[0].liquid.proj.bias.view(2, 2, 8)[:, 0] = -1000.0  # a_t = sigmoid(-1000)
    x, mask = _batch([70], 16)
    with torch.no_grad():
        y_scan = encoder(x, mask)
        monkeypatch.setattr(liquid, "liquid_scan", lambda log_a, b, chunk: liquid_scan_reference(log_a, b))
        y_loop = encoder(x, mask)
    assert torch.isfinite(y_scan).all()
    torch.testing.assert_close(y_scan, y_loop, atol=1e-5, rtol=1e-5)


def test_models_liquid_encoder_scan_equals_loop_with_gradients(monkeypatch, torch_scan):
    encoder = LiquidEncoder(d_model=16, n_layers=2, mlp_ratio=2.0, dropout=0.0, chunk=8)
    x, mask = _batch([37, 21, 37], 16)
    y_scan, g_scan = _grads(encoder, x, mask)
    monkeypatch.setattr(liquid, "liquid_scan", lambda log_a, b, chunk: liquid_scan_reference(log_a, b))
    y_loop, g_loop = _grads(encoder, x, mask)
    torch.testing.assert_close(y_scan, y_loop, atol=1e-5, rtol=1e-5)
    assert len(g_scan) == len(g_loop) > 10
    for g, w in zip(g_scan, g_loop):
        torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("make", [
    lambda: LiquidEncoder(d_model=16, n_layers=2, mlp_ratio=2.0, dropout=0.1, chunk=8),
    lambda: _windowed(LiquidEncoder(d_model=16, n_layers=2, mlp_ratio=2.0, dropout=0.1, chunk=8, window=5)),
    lambda: CfCEncoder(d_model=16, n_layers=2, backbone_units=24, backbone_layers=2, dropout=0.1),
], ids=["liquid", "liquid-window", "cfc"])
def test_models_liquid_padding_never_reaches_real_tokens(make):
    torch.manual_seed(1)
    encoder = make().eval()
    x, mask = _batch([29, 61], 16)
    with torch.no_grad():
        batched = encoder(x, mask)
        alone = encoder(x[:1, :29], mask[:1, :29])
        x[0, 29:] = 100 * torch.randn(32, 16)  # whatever sits in the padding
        repadded = encoder(x, mask)
    torch.testing.assert_close(batched[0, :29], alone[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(repadded[0, :29], alone[0], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(batched[0, :29], batched[1, :29], atol=1e-3)  # the notes differ


def _windowed(encoder):
    """An encoder whose token windows mix their neighbours (they start as the identity)."""
    with torch.no_grad():
        for block in encoder.blocks:
            block.liquid.window.weight.normal_()
    return encoder


def test_models_liquid_token_window_is_a_zero_padded_depthwise_convolution():
    window = liquid.TokenWindow(6, 3)
    torch.nn.init.normal_(window.weight)
    x, mask = _batch([11, 7], 6)
    masked = x * mask[..., None]
    reference = torch.nn.functional.conv1d(masked.transpose(1, 2), window.weight.T.unsqueeze(1),
                                           padding=1, groups=6).transpose(1, 2)
    torch.testing.assert_close(window(x, mask), reference)
    assert window.flops_per_token() == 5 * 6


@pytest.mark.parametrize("width", [0, 2, 4])
def test_models_liquid_token_window_must_be_odd(width):
    with pytest.raises(ValueError, match="odd"):
        LiquidEncoder(d_model=8, n_layers=1, mlp_ratio=2.0, dropout=0.0, window=width)


def test_models_liquid_token_window_starts_as_the_identity():
    plain = LiquidEncoder(d_model=16, n_layers=2, mlp_ratio=2.0, dropout=0.0, chunk=8).eval()
    windowed = LiquidEncoder(d_model=16, n_layers=2, mlp_ratio=2.0, dropout=0.0, chunk=8, window=3).eval()
    windowed.load_state_dict(plain.state_dict(), strict=False)
    x, mask = _batch([20, 13], 16)
    with torch.no_grad():
        torch.testing.assert_close(windowed(x, mask), plain(x, mask))
    assert (windowed.recurrence_flops_per_token() - plain.recurrence_flops_per_token()
            == 2 * 5 * 16)


def test_models_liquid_output_depends_on_both_directions():
    encoder = LiquidEncoder(d_model=16, n_layers=1, mlp_ratio=2.0, dropout=0.0, chunk=8).eval()
    x, mask = _batch([50], 16)
    with torch.no_grad():
        before = encoder(x, mask)
        x[0, 25] += torch.randn(16)  # not a constant shift, which LayerNorm would remove
        after = encoder(x, mask)
    changed = (before - after).abs().amax(-1)[0] > 1e-6  # (T,)
    assert changed[:25].all() and changed[26:].all()


def _ncps_twin(cell, input_size, hidden, backbone_units, backbone_layers):
    """ncps's CfC with the weights of one of our cells."""
    ref = CfC(input_size, hidden, backbone_units=backbone_units, backbone_layers=backbone_layers,
              mode="default")
    theirs = [m for m in ref.rnn_cell.backbone if isinstance(m, torch.nn.Linear)]
    assert len(theirs) == len(cell.backbone)
    pairs = list(zip(theirs, cell.backbone)) + [(getattr(ref.rnn_cell, n), getattr(cell, n))
                                                for n in ("ff1", "ff2", "time_a", "time_b")]
    for their, our in pairs:
        their.load_state_dict(our.state_dict())
    return ref


@pytest.mark.parametrize("backbone_layers", [1, 2])
def test_models_liquid_cfc_matches_ncps_reference(backbone_layers):
    torch.manual_seed(2)
    layer = BiCfC(d_model=12, backbone_units=20, backbone_layers=backbone_layers, dropout=0.0)
    for p in layer.parameters():  # ncps's init, plus non-zero biases so a swapped or missing one shows
        if p.dim() == 1:
            torch.nn.init.normal_(p, std=0.3)
    x, mask = _batch([23, 23], 12, seed=3)
    with torch.no_grad():
        ours = layer(x, mask)  # (B, T, 12): forward | backward states
        fwd, _ = _ncps_twin(layer.fwd, 12, 6, 20, backbone_layers)(x)
        bwd, _ = _ncps_twin(layer.bwd, 12, 6, 20, backbone_layers)(x.flip(1))
    torch.testing.assert_close(ours[..., :6], fwd, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours[..., 6:], bwd.flip(1), atol=1e-5, rtol=1e-5)


def test_models_liquid_cfc_trains():
    encoder = CfCEncoder(d_model=16, n_layers=1, backbone_units=16, backbone_layers=2, dropout=0.1)
    x, mask = _batch([12, 7], 16)
    _, grads = _grads(encoder, x, mask)
    assert all(torch.isfinite(g).all() for g in grads)
    assert all(g.abs().sum() > 0 for g in grads)


def test_models_liquid_has_no_length_cap():
    encoder = LiquidEncoder(d_model=16, n_layers=1, mlp_ratio=1.0, dropout=0.0, chunk=32).eval()
    x, mask = _batch([3000], 16)
    with torch.no_grad():
        assert torch.isfinite(encoder(x, mask)).all()


@pytest.mark.parametrize("name", ["liquid-small", "cfc-small"])
def test_models_liquid_shipped_configs_build_and_run(name):
    values = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
    values.pop("char_buckets", None)  # the trunk's input option, not the encoder's
    encoder = build_encoder(**values).eval()
    x, mask = _batch([9, 4], values["d_model"])
    with torch.no_grad():
        assert encoder(x, mask).shape == x.shape


def test_models_liquid_build_encoder_names_the_choices():
    assert ENCODERS[0] == "liquid" and set(ENCODERS) == {"liquid", "cfc", "transformer"}
    with pytest.raises(ValueError, match="liquid, cfc, transformer"):
        build_encoder("lstm", d_model=16)
    with pytest.raises(ValueError, match="mlp_ratio"):
        build_encoder("liquid", d_model=16, n_layers=1, dropout=0.0, heads=2)
    with pytest.raises(ValueError, match="chunk must be between 1 and 32"):
        LiquidEncoder(d_model=16, n_layers=1, mlp_ratio=2.0, dropout=0.0, chunk=64)
