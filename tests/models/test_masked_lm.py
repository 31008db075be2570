import torch

from chartlnn.models.masked_lm import MaskedLM, mask_tokens


def test_models_masked_lm_scores_only_the_masked_positions_it_is_given():
    torch.manual_seed(0)
    model = MaskedLM(50, {"kind": "liquid", "d_model": 16, "n_layers": 1, "mlp_ratio": 2.0,
                          "dropout": 0.0, "chunk": 8}).eval()
    ids = torch.randint(5, 50, (2, 30))
    mask = torch.arange(30)[None, :] < torch.tensor([30, 21])[:, None]
    corrupted, targets = mask_tokens(ids, mask, 50, rate=0.3)
    chosen = targets != -100
    assert chosen.any() and not (chosen & ~mask).any()
    with torch.no_grad():
        every = model(corrupted, mask)  # (B, T, V)
        some = model(corrupted, mask, at=chosen)  # (N, V)
    assert some.shape == (int(chosen.sum()), 50)
    torch.testing.assert_close(some, every[chosen])
