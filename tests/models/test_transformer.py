
import pytest
import torch
import yaml

from chartlnn.models import build_encoder
from chartlnn.models.transformer import TransformerEncoder
from chartlnn.config import shipped_config

CONFIGS = shipped_config("model").parent


def _encoder(window=32):
    torch.manual_seed(0)
    return TransformerEncoder(d_model=16, n_layers=2, n_heads=2, d_ff=32, window=window, dropout=0.1).eval()


def _batch(lengths, d_model=16, seed=0):
    torch.manual_seed(seed)
    steps = max(lengths)
    x = torch.randn(len(lengths), steps, d_model)
    mask = torch.arange(steps)[None, :] < torch.tensor(lengths)[:, None]
    return x, mask


@pytest.mark.parametrize("lengths", [[20, 31], [20, 150]], ids=["plain", "windowed"])
def test_models_transformer_padding_never_reaches_real_tokens(lengths):
    # The second case pads a 20-token note (plain path alone) into a windowed batch: the windowed
    # path gives a note shorter than the window exactly what the plain path gives.
    encoder = _encoder()
    x, mask = _batch(lengths)
    with torch.no_grad():
        alone = encoder(x[:1, :20], mask[:1, :20])
        batched = encoder(x, mask)
        x[0, 20:] = 100 * torch.randn(x.shape[1] - 20, 16)
        repadded = encoder(x, mask)
    torch.testing.assert_close(batched[0, :20], alone[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(repadded[0, :20], alone[0], atol=1e-5, rtol=1e-5)
    assert torch.isfinite(batched).all()


def test_models_transformer_long_note_is_the_same_alone_and_in_a_longer_batch():
    encoder = _encoder()
    x, mask = _batch([110, 190], seed=1)  # 110 tokens: windows start at 0, 24, 48, 72
    with torch.no_grad():
        alone = encoder(x[:1, :110], mask[:1, :110])
        batched = encoder(x, mask)
    torch.testing.assert_close(batched[0, :110], alone[0], atol=1e-5, rtol=1e-5)


def test_models_transformer_each_token_reads_its_most_central_window():
    # window 32, stride 24: windows [0, 32), [24, 56), [48, 80), ... centres 15.5, 39.5, 63.5, ...
    encoder = _encoder()
    x, mask = _batch([160], seed=2)
    with torch.no_grad():
        base = encoder(x, mask)
        assert torch.isfinite(base).all()
        cases = [(10, (0, 32)), (27, (0, 32)), (28, (24, 56)), (52, (48, 80)), (159, (144, 176))]
        for token, window in cases:
            inside, outside = window[0] + (token == window[0]), window[1]  # a token in / just past it
            for other, should_change in [(inside, True), (outside, False), (window[0] - 1, False)]:
                if not 0 <= other < 160 or other == token:
                    continue
                probe = x.clone()
                probe[0, other] += torch.randn(16)  # not a constant shift, which LayerNorm removes
                changed = (encoder(probe, mask)[0, token] - base[0, token]).abs().max() > 1e-6
                assert changed == should_change, (token, other)


def test_models_transformer_shipped_config_builds_and_runs():
    values = yaml.safe_load((CONFIGS / "transformer-small.yaml").read_text())
    encoder = build_encoder(**values).eval()
    x, mask = _batch([9, 4], values["d_model"])
    with torch.no_grad():
        assert encoder(x, mask).shape == x.shape


def test_models_transformer_rejects_bad_sizes():
    with pytest.raises(ValueError, match="multiple of n_heads"):
        TransformerEncoder(d_model=18, n_layers=1, n_heads=4, d_ff=32, window=32, dropout=0.0)
