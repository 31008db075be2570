"""Where a model and its teacher disagree, and which of them is right, on notes with hand-made
(gold) labels.

    python benchmarks/teacher_disagreement.py MODEL_DIR DATA_DIR [--view input|full|both]

Silver labels are the rules' own output: `prepare` runs the rules on each note as written and
carries their spans onto the headerless view. A silver score therefore counts every value the
model finds that the rules miss as a false positive, and every mistake of the rules the model does
not copy as a miss: on silver the teacher wins by construction. Gold labels settle each
disagreement. On the gold split of DATA_DIR (the test split when it has none; then "gold" is
silver and the run is a smoke test), the model charts each view of every note, the teacher labels
each note as written exactly as `prepare` does, and the script prints, per view:

- entity values, per field: gold F1 of the model and of the teacher, the model's F1 against the
  teacher (what a silver score would say), the values only the model gives (more copies of a value
  than the teacher gives count as that many) and how many of them gold confirms, and the same for
  the values only the teacher gives;
- section tokens, per field: the same three F1s, and over all tokens where the model and the
  teacher give different sections, how many gold gives the model's, the teacher's, or neither;
- the micro section F1s again without the tokens GOLD.md leaves unlabeled by design where the
  schema gives them a section (the teacher's spans under INDICATIONS and PRE-/POSTOPERATIVE
  DIAGNOSIS headers): how much of each system's gap to gold is that one convention.

Counts only: no note text.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from dataclasses import dataclass, field

from chartlnn.evaluation.metrics import gold_entities, value_bag
from chartlnn.evaluation.systems import load_systems
from chartlnn.notes import Note, Span
from chartlnn.preparing.dataset import VIEWS, load_prepared
from chartlnn.preparing.header_dropout import drop_ranges, header_ranges, remap_spans
from chartlnn.preparing.labeler import NoteLabeler
from chartlnn.schema import normalize_header
from chartlnn.tag_scores import prf
from chartlnn.tokenize import spans_to_tags

BY_DESIGN = re.compile(r"^(?:INDICATIONS?\b|(?:PRE|POST)-?(?:OPERATIVE|OP|PROCEDURE) DIAGNOS)")
"""Headers whose content GOLD.md leaves unlabeled and the shipped schema maps to a section."""


def _f1(right: int, predicted: int, truth: int) -> float:
    return 100 * prf(right, predicted - right, truth - right)["f1"]


@dataclass
class Disagreement:
    """Pooled entity value counts of one field (or all of them) over notes."""

    gold: int = 0
    model: int = 0
    teacher: int = 0
    model_right: int = 0
    teacher_right: int = 0
    agree: int = 0
    """Values the model and the teacher both give (multisets)."""
    model_only: int = 0
    model_only_right: int = 0
    teacher_only: int = 0
    teacher_only_right: int = 0

    def add(self, gold: int, model: int, teacher: int) -> None:
        """One value's copies in one note: in gold, from the model, from the teacher."""
        self.gold, self.model, self.teacher = (self.gold + gold, self.model + model,
                                               self.teacher + teacher)
        self.model_right += min(model, gold)
        self.teacher_right += min(teacher, gold)
        self.agree += min(model, teacher)
        self.model_only += max(0, model - teacher)
        self.model_only_right += min(max(0, model - teacher), max(0, gold - teacher))
        self.teacher_only += max(0, teacher - model)
        self.teacher_only_right += min(max(0, teacher - model), max(0, gold - model))

    def cells(self) -> list[str]:
        def share(right: int, of: int) -> str:
            return f"{right} of {of} ({100 * right / of:.0f}%)" if of else "0"

        return [str(self.gold), f"{_f1(self.model_right, self.model, self.gold):.1f}",
                f"{_f1(self.teacher_right, self.teacher, self.gold):.1f}",
                f"{_f1(self.agree, self.model, self.teacher):.1f}",
                share(self.model_only_right, self.model_only),
                share(self.teacher_only_right, self.teacher_only)]


@dataclass
class EntityTally:
    """Entity value disagreements per field and over all of them."""

    per_field: dict[str, Disagreement] = field(default_factory=dict)
    total: Disagreement = field(default_factory=Disagreement)

    def add_note(self, gold: Counter, model: Counter, teacher: Counter) -> None:
        """One note's value multisets (``value_bag``) of the three sources."""
        for key in set(gold) | set(model) | set(teacher):
            counts = gold[key], model[key], teacher[key]
            self.per_field.setdefault(key[0], Disagreement()).add(*counts)
            self.total.add(*counts)


@dataclass
class SectionTally:
    """Section fields token by token: gold, the model's and the teacher's ("" outside any)."""

    tokens: Counter = field(default_factory=Counter)
    """(gold, model, teacher, in a by-design region) → tokens."""

    def add_note(self, gold: list[str], model: list[str], teacher: list[str],
                 by_design: list[bool] | None = None) -> None:
        self.tokens.update(zip(gold, model, teacher, by_design or [False] * len(gold)))

    def by_design_tokens(self) -> int:
        """Tokens gold leaves unlabeled inside a by-design region."""
        return sum(n for (gold, _, _, design), n in self.tokens.items() if design and not gold)

    def f1s(self, name: str | None, without_by_design: bool = False) -> list[float]:
        """Token F1 of model against gold, teacher against gold, model against teacher, for one
        field (None: micro over every field), optionally without the by-design tokens."""
        def counted(tag: str) -> bool:
            return tag != "" if name is None else tag == name

        def f1(pred: int, truth: int) -> float:
            right = predicted = total = 0
            for key, n in self.tokens.items():
                if without_by_design and key[3] and not key[0]:
                    continue
                predicted += n * counted(key[pred])
                total += n * counted(key[truth])
                right += n * (counted(key[pred]) and key[pred] == key[truth])
            return _f1(right, predicted, total)

        gold, model, teacher = 0, 1, 2  # positions in a tokens key
        return [f1(model, gold), f1(teacher, gold), f1(model, teacher)]

    def disagreements(self) -> tuple[int, int, int]:
        """Tokens where the model and the teacher differ: gold sides with the model, with the
        teacher, with neither."""
        sides = Counter()
        for (gold, model, teacher, _), n in self.tokens.items():
            if model != teacher:
                side = "model" if gold == model else "teacher" if gold == teacher else "neither"
                sides[side] += n
        return sides["model"], sides["teacher"], sides["neither"]


def teacher_sections(labeler: NoteLabeler, example: dict
                     ) -> dict[str, tuple[list[Span], list[Span]] | None]:
    """The teacher's section spans on each view of a prepared note, made as `prepare` makes them,
    and those of them under a by-design header: the rules read the note as written, and the spans
    move onto the headerless text with the dataset's own header ranges (None for that view where
    they no longer give its text)."""
    text = example[VIEWS["full"]]
    sections = labeler.label(Note(id=example["id"], text=text)).sections
    by_design = by_design_spans(labeler.sections, text)
    offsets = example["full_offsets"]
    headers = [(offsets[first][0], offsets[stop - 1][1])
               for first, stop in example["header_tokens"]]
    input_text, moved = drop_ranges(text, header_ranges(text, headers))
    if input_text != example[VIEWS["input"]]:
        return {"full": (sections, by_design), "input": None}
    return {"full": (sections, by_design),
            "input": (remap_spans(sections, moved)[0], remap_spans(by_design, moved)[0])}


def by_design_spans(labeler, text: str) -> list[Span]:
    """The teacher's section spans (``labeler``: its SectionLabeler) whose opening header is one
    of ``BY_DESIGN``."""
    spans, headers = labeler.label(text)
    found = []
    for span in spans:
        opened = [h for h in headers if h.kind == "section" and h.end <= span.start]
        if opened and BY_DESIGN.match(
                normalize_header(text[opened[-1].start:opened[-1].end].rstrip(": \t\n"))):
            found.append(span)
    return found


def _fields(tags: list[str]) -> list[str]:
    return [tag.partition("-")[2] for tag in tags]


def tally(model_system, teacher_system, split, schema, views) -> dict[str, tuple]:
    """Per view: (EntityTally, SectionTally, notes whose headerless text the header ranges did not
    give back)."""
    labeler = NoteLabeler(schema)
    ids = list(split["id"])
    examples = [split[i] for i in range(len(split))]
    teacher_charts = teacher_system.chart_many(list(split[VIEWS["full"]]), ids)
    taught_by_view = [teacher_sections(labeler, example) for example in examples]
    out = {}
    for view in views:
        texts = split[VIEWS[view]]
        names = split.features[f"{view}_section_tags"].feature.names
        model_charts = model_system.chart_many(list(texts), ids)
        entities, sections, unmatched = EntityTally(), SectionTally(), 0
        for example, text, chart, taught, taught_sections in zip(
                examples, texts, model_charts, teacher_charts, (t[view] for t in taught_by_view)):
            gold = gold_entities(text, example[f"{view}_spans"], schema.entities)
            entities.add_note(*(value_bag(pairs) for pairs in (
                [(f, v) for _, _, f, v in gold],
                [(f, m["value"]) for f, ms in chart["entities"].items() for m in ms],
                [(f, m["value"]) for f, ms in taught["entities"].items() for m in ms])))
            if taught_sections is None:
                unmatched += 1
                continue
            offsets = [tuple(o) for o in example[f"{view}_offsets"]]
            predicted = [Span(s["start"], s["end"], f) for f, spans in chart["sections"].items()
                         for s in spans]
            taught_spans, by_design = taught_sections
            sections.add_note(_fields([names[t] for t in example[f"{view}_section_tags"]]),
                              _fields(spans_to_tags(offsets, predicted)),
                              _fields(spans_to_tags(offsets, taught_spans)),
                              [tag != "O" for tag in spans_to_tags(offsets, by_design)])
        out[view] = (entities, sections, unmatched)
    return out


def print_view(title: str, entities: EntityTally, sections: SectionTally, unmatched: int) -> None:
    print(f"\n## {title}: entity values\n")
    print("| field | gold values | model gold F1 | teacher gold F1 | model F1 against the teacher "
          "(silver) | only the model: right by gold | only the teacher: right by gold |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in sorted(entities.per_field):
        print("| " + " | ".join([name, *entities.per_field[name].cells()]) + " |")
    print("| " + " | ".join(["**all fields**", *entities.total.cells()]) + " |")
    t = entities.total
    print(f"\nSilver counts the {t.model_only} values only the model gives as false positives: "
          f"gold confirms {t.model_only_right}. It counts the {t.teacher_only} values only the "
          f"teacher gives as misses: gold confirms {t.teacher_only_right}.")
    print(f"\n## {title}: section tokens\n")
    print("| field | gold tokens | model gold F1 | teacher gold F1 | model F1 against the teacher "
          "(silver) |")
    print("|---|---:|---:|---:|---:|")
    gold_tokens = Counter()
    for (gold, *_), n in sections.tokens.items():
        gold_tokens[gold] += n
    for name in sorted(f for f in gold_tokens if f):
        print(f"| {name} | {gold_tokens[name]} | "
              + " | ".join(f"{x:.1f}" for x in sections.f1s(name)) + " |")
    print(f"| **all fields** | {sum(n for f, n in gold_tokens.items() if f)} | "
          + " | ".join(f"{x:.1f}" for x in sections.f1s(None)) + " |")
    model, teacher, neither = sections.disagreements()
    print(f"\nOf the {model + teacher + neither} tokens where the model and the teacher give "
          f"different sections, gold gives the model's on {model}, the teacher's on {teacher}, "
          f"neither on {neither}.")
    model_f1, teacher_f1, _ = sections.f1s(None, without_by_design=True)
    print(f"\nWithout the {sections.by_design_tokens()} tokens gold leaves unlabeled under "
          f"headers the schema maps by design (INDICATIONS, PRE-/POSTOPERATIVE DIAGNOSIS): "
          f"section token F1 of the model {model_f1:.1f}, of the teacher {teacher_f1:.1f}.")
    if unmatched:
        print(f"({unmatched} notes left out of the section counts: their header ranges did not "
              "give back their headerless text.)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("data")
    parser.add_argument("--view", choices=("input", "full", "both"), default="both")
    parser.add_argument("--split", help="default: gold where the dataset has it, else test")
    args = parser.parse_args()
    data = load_prepared(args.data)
    split_name = args.split or ("gold" if len(data.splits["gold"]) else "test")
    model_system, teacher_system = load_systems(data, [args.model], rules=True, device="cpu")
    views = ("input", "full") if args.view == "both" else (args.view,)
    print(f"{model_system.name} ({args.model}) and its teacher (the rules, reading each note as "
          f"written) on {args.data}'s {split_name} split ({len(data.splits[split_name])} notes)")
    for view, counts in tally(model_system, teacher_system, data.splits[split_name], data.schema,
                              views).items():
        print_view("headerless" if view == "input" else "with headers", *counts)


if __name__ == "__main__":
    main()
