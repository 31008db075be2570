import pytest
import torch

from chartlnn.models.dropout import ByteDropout


def test_byte_dropout_drops_at_its_rate_and_keeps_the_expected_value():
    torch.manual_seed(0)
    drop = ByteDropout(0.1).train()
    x = torch.ones(400, 1000)
    y = drop(x)
    dropped = (y == 0).float().mean().item()
    assert abs(dropped - 26 / 256) < 0.003  # 0.1 to the nearest 1/256
    assert abs(y.mean().item() - 1.0) < 0.005
    assert torch.equal(torch.unique(y), torch.tensor([0.0, 256 / 230]))


def test_byte_dropout_is_the_identity_in_eval_and_at_zero():
    x = torch.randn(3, 5)
    assert ByteDropout(0.3).eval()(x) is x
    assert ByteDropout(0.0).train()(x) is x


def test_byte_dropout_gradient_flows_through_the_kept_elements_only():
    torch.manual_seed(1)
    x = torch.randn(7, 33, requires_grad=True)  # not a multiple of 8 elements
    y = ByteDropout(0.5).train()(x)
    y.sum().backward()
    kept = y.detach() != 0
    assert torch.allclose(x.grad[kept], torch.full_like(x.grad[kept], 256 / 128))
    assert (x.grad[~kept] == 0).all()


def test_byte_dropout_draws_a_new_mask_each_call():
    drop = ByteDropout(0.5).train()
    x = torch.ones(64, 64)
    assert not torch.equal(drop(x), drop(x))


@pytest.mark.parametrize("p", [-0.1, 1.0])
def test_byte_dropout_rejects_a_rate_outside_zero_to_one(p):
    with pytest.raises(ValueError, match="dropout"):
        ByteDropout(p)
