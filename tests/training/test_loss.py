"""The tagging loss: per-tag weights as cross-entropy takes them, reviewed notes weighing more."""

import torch
from torch.nn import functional as F

from chartlnn.training.datamodule import PAD_TAG, collate
from chartlnn.training.modules import _tag_loss


def test_tag_loss_with_unit_note_weights_is_weighted_cross_entropy():
    torch.manual_seed(0)
    logits, tags = torch.randn(2, 5, 4), torch.randint(0, 4, (2, 5))
    tags[1, 3:] = PAD_TAG
    tag_weight = torch.tensor([1.0, 3.0, 2.0, 5.0])
    expected = F.cross_entropy(logits.flatten(0, 1), tags.flatten(), weight=tag_weight,
                               ignore_index=PAD_TAG)
    assert torch.allclose(_tag_loss(logits, tags, torch.ones(2), tag_weight), expected)


def test_a_reviewed_note_counts_as_gold_weight_notes():
    torch.manual_seed(1)
    logits, tags = torch.randn(2, 6, 3), torch.randint(0, 3, (2, 6))
    doubled = _tag_loss(logits, tags, torch.tensor([2.0, 1.0]))
    repeated = _tag_loss(torch.cat([logits[:1], logits]), torch.cat([tags[:1], tags]), torch.ones(3))
    assert torch.allclose(doubled, repeated)


def test_collate_carries_the_reviewed_flag_and_defaults_it_for_older_datasets():
    example = {"input_input_ids": [5, 6], "input_section_tags": [0, 0], "input_entity_tags": [0, 1],
               "note_type": 0}
    batch = collate([{**example, "reviewed": True}, example])
    assert batch["reviewed"].tolist() == [True, False]
