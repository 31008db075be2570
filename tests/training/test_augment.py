"""Training augmentation: drug and allergen mentions replaced by lexicon names, routes and
frequencies by other forms the normalizer reads, sections replaced by other notes' sections, tags
kept consistent; validation untouched."""

import numpy as np
import pytest
import torch

from chartlnn.config import ConfigError, load_config
from chartlnn.normalize import frequency, route
from chartlnn.preparing.dataset import load_prepared
from chartlnn.preparing.entity_patterns import load_lexicon
from chartlnn.tokenize import token_spans
from chartlnn.training.augment import (CaseSwap, LineJoin, MentionMask, MentionSwap, SectionSwap,
                                      sig_forms)
from chartlnn.training.datamodule import TaggingDataModule
from chartlnn.training.train import TrainConfig


def _swap(data, rate):
    features = data.splits["train"].features
    return MentionSwap.for_dataset(data.tokenizer, features["input_section_tags"].feature.names,
                                   features["input_entity_tags"].feature.names, rate)


def _with_tag_names(dataset):
    """The prepared dataset and its section and entity tag names."""
    data = load_prepared(dataset)
    features = data.splits["train"].features
    return (data, features["input_section_tags"].feature.names,
            features["input_entity_tags"].feature.names)


def _mentions(entity_names, ids, tags, tokenizer):
    """(field, text) of every entity mention in one note's tokens."""
    return [(field, tokenizer.decode(ids[first:stop]))
            for first, stop, field in token_spans([entity_names[t] for t in tags])]


def test_swap_replaces_every_drug_by_a_lexicon_name_at_rate_one(dataset):
    data = load_prepared(dataset)
    swap = _swap(data, 1.0)
    features = data.splits["train"].features
    entity_names = features["input_entity_tags"].feature.names
    section_names = features["input_section_tags"].feature.names
    spelled = lambda text: text.lower().replace(" ", "")
    drugs = {spelled(name) for name in load_lexicon("medications.txt")}
    torch.manual_seed(0)
    swapped_any = False
    for ex in data.splits["train"]:
        ids, sections, entities = ex["input_input_ids"], ex["input_section_tags"], ex["input_entity_tags"]
        new_ids, new_sections, new_entities = swap(ids, sections, entities, "input")
        assert len(new_ids) == len(new_sections) == len(new_entities)
        before = _mentions(entity_names, ids, entities, data.tokenizer)
        after = _mentions(entity_names, new_ids, new_entities, data.tokenizer)
        assert [f for f, _ in before] == [f for f, _ in after]  # same mentions, same order
        for (field, old), (_, new) in zip(before, after):
            if field == "medication":
                assert spelled(new) in drugs, new
                swapped_any |= new != old
            elif field not in ("allergen",):
                assert new == old  # other fields are never touched
        # every token keeps a section tag of the field it was in: B- only where a section starts
        fields = lambda tags: [section_names[t][2:] if t else "O" for t in tags]
        assert set(fields(new_sections)) == set(fields(sections))
        assert sum(section_names[t].startswith("B-") for t in new_sections) == \
            sum(section_names[t].startswith("B-") for t in sections)
    assert swapped_any


def test_swap_is_off_at_rate_zero_and_leaves_the_input_alone(dataset):
    data = load_prepared(dataset)
    assert _swap(data, 0.0) is None
    example = data.splits["train"][0]
    ids = list(example["input_input_ids"])
    _swap(data, 1.0)(example["input_input_ids"], example["input_section_tags"],
                     example["input_entity_tags"], "input")
    assert example["input_input_ids"] == ids


def test_swap_needs_a_lexicon_field_in_the_schema(dataset):
    data = load_prepared(dataset)
    assert MentionSwap.for_dataset(data.tokenizer, ["O"], ["O", "B-age", "I-age"], 0.5) is None


def test_datamodule_swaps_in_training_batches_and_never_in_validation(dataset):
    modules = {rate: TaggingDataModule(dataset, batch_size=64, mention_swap=rate) for rate in (0.0, 1.0)}
    for module in modules.values():
        module.setup()
    assert modules[0.0].augment == [] and len(modules[1.0].augment) == 1
    torch.manual_seed(0)
    plain = next(iter(modules[0.0].train_dataloader()))["input_ids"]
    torch.manual_seed(0)
    swapped = next(iter(modules[1.0].train_dataloader()))["input_ids"]
    assert plain.shape != swapped.shape or not torch.equal(plain, swapped)
    validation = [next(iter(m.val_dataloader()))["input_ids"] for m in modules.values()]
    assert torch.equal(*validation)
    for name in ("mention_swap", "sig_swap", "case_swap", "line_join", "mention_mask",
                 "section_swap"):
        with pytest.raises(ConfigError, match=name):
            load_config(TrainConfig, overrides={name: 1.5})


def test_every_sig_form_swapped_in_reads_as_a_route_or_frequency():
    forms = sig_forms()
    unread = ([form for form in forms["medication_route"] if route(form) is None]
              + [form for form in forms["medication_frequency"] if frequency(form) is None])
    assert unread == []
    assert {"PO", "p.o.", "by mouth"} <= set(forms["medication_route"])
    assert {"b.i.d.", "BID", "twice a day", "q6h", "q.4h. as needed", "p.r.n."} <= \
        set(forms["medication_frequency"])
    assert "on" not in forms["medication_frequency"]  # a frequency only after a drug


def test_sig_swap_rewrites_every_route_and_frequency_and_nothing_else(dataset):
    data = load_prepared(dataset)
    features = data.splits["train"].features
    entity_names = features["input_entity_tags"].feature.names
    swap = MentionSwap.for_sigs(data.tokenizer, features["input_section_tags"].feature.names,
                                entity_names, 1.0)
    assert MentionSwap.for_sigs(data.tokenizer, ["O"], entity_names, 0.0) is None
    assert MentionSwap.for_sigs(data.tokenizer, ["O"], ["O", "B-age", "I-age"], 1.0) is None
    spelled = lambda text: text.lower().replace(" ", "")
    allowed = {field: {spelled(form) for form in forms} for field, forms in sig_forms().items()}
    torch.manual_seed(0)
    rewritten = set()
    for ex in data.splits["train"]:
        ids, sections, entities = ex["input_input_ids"], ex["input_section_tags"], ex["input_entity_tags"]
        new_ids, _, new_entities = swap(ids, sections, entities, "input")
        before = _mentions(entity_names, ids, entities, data.tokenizer)
        after = _mentions(entity_names, new_ids, new_entities, data.tokenizer)
        assert [f for f, _ in before] == [f for f, _ in after]
        for (field, old), (_, new) in zip(before, after):
            if field in allowed:
                assert spelled(new) in allowed[field], new
                if new != old:
                    rewritten.add(field)
            else:
                assert new == old
    assert rewritten == {"medication_route", "medication_frequency"}


def test_case_swap_reads_a_note_as_the_tokenizer_spells_it_in_one_case(dataset):
    """At rate 1 a note comes out as its text in one case tokenized afresh (a word the tiny test
    vocabulary cannot spell in that case stays as it was): the same tokens as encoding the
    re-cased note, every mention and section in its place with its field."""
    data, section_names, entity_names = _with_tag_names(dataset)
    swap = CaseSwap.for_dataset(data.tokenizer, section_names, entity_names, 1.0)
    assert CaseSwap.for_dataset(data.tokenizer, section_names, entity_names, 0.0) is None
    torch.manual_seed(0)
    cases, exact = set(), 0
    for ex in list(data.splits["train"])[:40]:
        ids, sections, entities = ex["input_input_ids"], ex["input_section_tags"], ex["input_entity_tags"]
        new_ids, new_sections, new_entities = swap(ids, sections, entities, "input")
        text = data.tokenizer.decode(ids)
        new_text = data.tokenizer.decode(new_ids)
        upper = sum(a != b and a == b.upper() for a, b in zip(new_text.split(), text.split())) > \
            sum(a != b and a == b.lower() for a, b in zip(new_text.split(), text.split()))
        recase = str.upper if upper else str.lower
        kept = [b for a, b in zip(new_text.split(), text.split()) if a != recase(b)]
        assert len(new_text.split()) == len(text.split())
        assert all(a in (b, recase(b)) for a, b in zip(new_text.split(), text.split()))
        assert len(kept) <= len(text.split()) // 10
        cases.add(upper)
        if not kept:
            exact += 1
            assert new_ids == data.tokenizer.encode(recase(text), add_special_tokens=False).ids
        before = _mentions(entity_names, ids, entities, data.tokenizer)
        after = _mentions(entity_names, new_ids, new_entities, data.tokenizer)
        assert [(f, t.upper()) for f, t in before] == [(f, t.upper()) for f, t in after]
        assert [f for _, _, f in token_spans([section_names[t] for t in sections])] == \
            [f for _, _, f in token_spans([section_names[t] for t in new_sections])]
    assert cases == {True, False} and exact  # both cases drawn
    torch.manual_seed(0)
    off = CaseSwap.for_dataset(data.tokenizer, section_names, entity_names, 1e-9)
    ex = data.splits["train"][0]
    assert off(ex["input_input_ids"], ex["input_section_tags"], ex["input_entity_tags"], "input")[0] \
        == ex["input_input_ids"]


def test_line_join_reads_a_note_as_one_paragraph_with_its_mentions_and_sections(dataset):
    """At rate 1 a note loses its newline tokens and nothing else: the other tokens in order, the
    same mentions and sections in the same order, the tags BIO-valid."""
    data, section_names, entity_names = _with_tag_names(dataset)
    join = LineJoin.for_dataset(data.tokenizer, section_names, entity_names, 1.0)
    assert LineJoin.for_dataset(data.tokenizer, section_names, entity_names, 0.0) is None
    newline = data.tokenizer.token_to_id("\n")
    joined_notes, notes_of_lines = 0, 0
    for ex in list(data.splits["train"])[:40]:
        ids, sections, entities = (ex["full_input_ids"], ex["full_section_tags"],
                                   ex["full_entity_tags"])
        new_ids, new_sections, new_entities = join(ids, sections, entities, "full")
        assert new_ids == [i for i in ids if i != newline]
        joined_notes += len(new_ids) < len(ids)
        notes_of_lines += newline in ids
        for names, old, new in ((section_names, sections, new_sections),
                                (entity_names, entities, new_entities)):
            assert len(new) == len(new_ids)
            assert [f for _, _, f in token_spans([names[t] for t in old])] == \
                [f for _, _, f in token_spans([names[t] for t in new])]
            assert all(not names[t].startswith("I-")
                       or (i and names[new[i - 1]][2:] == names[t][2:]) for i, t in enumerate(new))
        assert ex["full_input_ids"] == ids  # the input is kept
    assert joined_notes == notes_of_lines > 10


def test_mention_mask_hides_whole_mentions_and_keeps_every_tag(dataset):
    data = load_prepared(dataset)
    entity_names = data.splits["train"].features["input_entity_tags"].feature.names
    assert MentionMask.for_dataset(data.tokenizer, entity_names, 0.0) is None
    mask = MentionMask.for_dataset(data.tokenizer, entity_names, 1.0)
    mask_id = data.tokenizer.token_to_id("[MASK]")
    masked_any = False
    for ex in data.splits["train"]:
        ids, sections, entities = ex["input_input_ids"], ex["input_section_tags"], ex["input_entity_tags"]
        new_ids, new_sections, new_entities = mask(ids, sections, entities, "input")
        assert (new_sections, new_entities) == (sections, entities)
        inside = [t != 0 for t in entities]
        assert all((new == mask_id) == hidden or old == new == mask_id
                   for old, new, hidden in zip(ids, new_ids, inside))
        masked_any |= any(inside)
    assert masked_any


def test_section_swap_replaces_each_section_from_its_begin_tag_whole():
    names = ["O", "B-a", "I-a", "B-b", "I-b"]
    tags = [0, 1, 2, 2, 0, 3, 4, 1, 1, 2, 3]  # sections (1, 4), (5, 7), (7, 8), (8, 10), (10, 11)
    pools = {"input": {"a": [np.array([[90, 91], [1, 2], [0, 0]])], "b": [np.array([[80], [3], [0]])]}}
    swap = SectionSwap(pools, names, 1.0)
    ids, sections, entities = swap(list(range(len(tags))), tags, [0] * len(tags), "input")
    assert ids == [0, 90, 91, 4, 80, 90, 91, 90, 91, 80]
    assert sections == [0, 1, 2, 0, 3, 1, 2, 1, 2, 3] and entities == [0] * len(ids)
    assert swap([], [], [], "input") == ([], [], [])


def test_section_swap_prefers_replacements_of_the_same_length():
    names = ["O", "B-a", "I-a"]
    short, long = np.array([[90, 91], [1, 2], [0, 0]]), np.full((3, 30), 2)
    long[:, 0] = (80, 1, 0)
    swap = SectionSwap({"input": {"a": [short, long]}}, names, 1.0)
    torch.manual_seed(0)
    lengths = [len(swap([5, 6], [1, 2], [0, 0], "input")[0]) for _ in range(200)]
    assert set(lengths) == {2, 30}  # both are drawn...
    assert lengths.count(2) > 170  # ...the short one unless every draw was the long one (1 in 16)


def _runs(tags, names):
    """The section fields of a note in order, one per section."""
    return [field for _, _, field in token_spans([names[t] for t in tags])]


def test_section_swap_recombines_notes_from_whole_sections(dataset):
    data = load_prepared(dataset)
    train = data.splits["train"]
    names = train.features["input_section_tags"].feature.names
    entity_names = train.features["input_entity_tags"].feature.names
    assert SectionSwap.for_split(train, names, ["input"], 0.0) is None
    swap = SectionSwap.for_split(train, names, ["input", "full"], 1.0)
    pool = {tuple(part[0]) for parts in swap.pools["input"].values() for part in parts}
    torch.manual_seed(0)
    changed = 0
    for view in ("input", "full"):
        for ex in train:
            ids, sections, entities = (ex[f"{view}_{c}"] for c in ("input_ids", "section_tags", "entity_tags"))
            new_ids, new_sections, new_entities = swap(ids, sections, entities, view)
            assert len(new_ids) == len(new_sections) == len(new_entities)
            assert _runs(new_sections, names) == _runs(sections, names)  # same sections, same order
            changed += new_ids != ids
            for first, stop, _ in token_spans([names[t] for t in new_sections]):
                if view == "input":
                    assert tuple(new_ids[first:stop]) in pool  # every section is a training section
                tags = [entity_names[t] for t in new_entities[first:stop]]
                assert not tags or not tags[0].startswith("I-")  # no mention cut at a seam
    assert changed
