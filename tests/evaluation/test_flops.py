import pytest
import torch

from chartlnn.evaluation.flops import forward_flops
from chartlnn.models.tagger import Tagger

D = 8  # d_model of every tiny tagger here
HEADS = 2 * D * (3 + 3)  # section + entity heads, per token
NOTE_TYPE = 2 * D * 2  # the note-type head, once per note


def _tagger(**encoder):
    torch.manual_seed(0)
    return Tagger(vocab_size=50, n_section_tags=3, n_entity_tags=3, n_note_types=2,
                  encoder={"d_model": D, "dropout": 0.0, **encoder}).eval()


def test_flops_liquid_counts_matmuls_and_scan_by_hand():
    tagger = _tagger(kind="liquid", n_layers=2, mlp_ratio=2.0, chunk=4)
    h, d_mlp = D // 2, 2 * D  # state channels per direction, MLP width
    per_layer = 2 * (D * 4 * h + 2 * h * D + D * d_mlp + d_mlp * D)  # proj, out, MLP in, MLP out
    assert per_layer == 896
    flops = forward_flops(tagger, 10)
    assert flops["counted"] == 10 * (2 * per_layer + HEADS) + NOTE_TYPE
    assert flops["recurrence"] == 10 * 2 * 2 * h * 11  # tokens × layers × directions × channels × 11
    assert flops["total"] == flops["counted"] + flops["recurrence"]


def test_flops_cfc_counts_steps_and_cell_by_hand():
    tagger = _tagger(kind="cfc", n_layers=1, backbone_units=6, backbone_layers=2)
    h, u = D // 2, 6
    per_direction = 2 * (D * u + h * u + u * u + u * 4 * h)  # x part, h part, 2nd backbone, 4 heads
    flops = forward_flops(tagger, 5)
    assert flops["counted"] == 5 * (2 * per_direction + HEADS) + NOTE_TYPE
    assert flops["recurrence"] == 5 * 2 * (8 * h + 3 * u * 2)  # cell per channel, lecun_tanh per unit


def test_flops_transformer_grows_quadratically_and_liquid_linearly():
    transformer = _tagger(kind="transformer", n_layers=1, n_heads=2, d_ff=32, window=64)
    liquid = _tagger(kind="liquid", n_layers=1, mlp_ratio=2.0, chunk=4)

    def second_difference(tagger, n):
        f = [forward_flops(tagger, k * n)["total"] for k in (1, 2, 3)]
        return f[2] - 2 * f[1] + f[0]

    # attention's two matmuls are 4 · d · T² per layer: second difference 4 · d · 2 · n²
    assert second_difference(transformer, 16) == 4 * D * 2 * 16**2
    assert second_difference(liquid, 16) == 0
    assert forward_flops(transformer, 16)["recurrence"] == 0


def test_flops_rejects_an_empty_note():
    with pytest.raises(ValueError, match="n_tokens"):
        forward_flops(_tagger(kind="liquid", n_layers=1, mlp_ratio=2.0), 0)
