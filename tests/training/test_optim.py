import time

from torch import nn

from chartlnn.training.optim import adamw_warmup_cosine


def _lr_after(schedule) -> float:
    schedule["lr_scheduler"]["scheduler"].step()
    return schedule["optimizer"].param_groups[0]["lr"]


def test_optim_steps_alone_warm_up_then_decay():
    schedule = adamw_warmup_cosine(nn.Linear(4, 4), 1.0, 0.01, warmup_ratio=0.1, total_steps=100)
    lrs = [_lr_after(schedule) for _ in range(100)]
    assert lrs[0] < lrs[5] < lrs[9] <= 1.0  # warm-up over the first 10 steps
    assert lrs[10] > lrs[50] > lrs[98] >= 0.05  # cosine down to 5% of the peak


def test_optim_a_short_budget_ends_the_warm_up_and_the_cosine_on_time():
    # 100,000 planned steps (a large max_epochs) but a 1-second budget: after 0.1 s the warm-up
    # (5% of the budget) is over, whatever the step count says.
    schedule = adamw_warmup_cosine(nn.Linear(4, 4), 1.0, 0.01, warmup_ratio=0.05,
                                   total_steps=100_000, budget_seconds=1.0)
    assert _lr_after(schedule) < 0.01  # step 1 of a 5,000-step warm-up
    time.sleep(0.1)
    assert _lr_after(schedule) > 0.8
    time.sleep(1.0)
    assert abs(_lr_after(schedule) - 0.05) < 1e-6


def test_optim_heads_learn_at_their_scale_and_only_matrices_decay():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(10, 4)
            self.trunk = nn.Linear(4, 4)
            self.entity_head = nn.Linear(4, 3)

    net = Net()
    optimizer = adamw_warmup_cosine(net, 0.002, 0.05, warmup_ratio=0.0, total_steps=10,
                                    head_lr_scale=3.0)["optimizer"]
    settings = {id(p): (group["lr"], group["weight_decay"])
                for group in optimizer.param_groups for p in group["params"]}
    assert settings[id(net.entity_head.weight)] == (0.006, 0.05)
    assert settings[id(net.entity_head.bias)] == (0.006, 0.0)
    assert settings[id(net.trunk.weight)] == (0.002, 0.05)
    assert settings[id(net.trunk.bias)] == (0.002, 0.0)
    assert settings[id(net.embed.weight)] == (0.002, 0.0)
    assert len(settings) == len(list(net.parameters()))
