"""The review loop, simulated: how much a hospital's reviewed notes are worth, picked at random or
least-sure first, on a note style the base model never trained on and a field it never knew.

    .venv/bin/python benchmarks/active_learning.py --base runs/d14/base \
        --mtsamples runs/d6/data --out runs/al-random --replay 100 --rounds 50,100,200 \
        --selections random    # 53 minutes on one core; uncertainty in a second process

The hospital: synthetic discharge summaries and emergency notes (note types the MTSamples
default model held out for its style-shift split, and whose synthetic copies it never trained
on), written in a house style of their own (``--house uk``, the default: British drug names,
sigs and observations, "paracetamol 1 g PO QDS", "Sats 97% on air"; ``us``: the synthetic
recipe's usual writing) and stating a pain score ("Pain 6/10") under a new schema field,
``pain_score``. Their exact gold labels are the oracle: a reviewer who corrects every
pre-annotation perfectly. 200 notes are the hospital's gold test set; the rest are the pool.

Each chain (selection × seed) runs the loop as a user would with the library's own commands:
``annotate`` writes the next round's tasks (``--select uncertainty``: with the latest model;
``random``: a seeded draw), the oracle turns every task so far into a Label Studio export with
the gold as the annotation, ``prepare labelstudio`` reads it (reviewed notes: gold weight, no
silver), ``train --init BASE --config finetune`` fine-tunes, and the hospital test set is
charted and scored.
Rounds reach 10, 25, 50, 100 and 200 reviewed notes; 0 is the base model. The base and the
100-note models are also scored on MTSamples test (silver), to show what fine-tuning costs there.
Figures: entity value micro F1 (all fields), pain_score F1, section token F1, headerless.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROUNDS = (10, 25, 50, 100, 200)
HOSPITAL_TYPES = ("discharge_summary", "emergency")
NAMES = {"entity": "entity", "pain": "pain_score", "section": "sections"}
PAIN_FORMS = ("Pain {k}/10.", "Pain score {k}/10.", "Rates pain {k} out of 10.", "Pain: {k}/10.")


def hospital_notes(n: int, seed: int, house: str = "uk") -> list[dict]:
    """``n`` synthetic notes of the held-out types in the ``house`` style, each with a pain-score
    line inserted at a line break (gold spans moved or widened around it), as ``{"id", "text",
    "spans"}``."""
    from data_recipes import get_recipe

    rng = random.Random(seed)
    notes = []
    for note in get_recipe("synthetic")(None, n=n * 6, seed=seed, house=house):
        if note.note_type not in HOSPITAL_TYPES:
            continue
        breaks = [i for i, c in enumerate(note.text) if c == "\n"] or [len(note.text)]
        at = rng.choice(breaks)
        score = rng.randint(0, 10)
        line = "\n" + rng.choice(PAIN_FORMS).format(k=score)
        start = at + line.index(str(score))
        shift = len(line)  # spans after the break move; a section around it widens over it
        spans = [{"start": s.start + shift * (s.start >= at), "end": s.end + shift * (s.end > at),
                  "field": s.label} for s in note.spans]
        spans.append({"start": start, "end": start + len(str(score)), "field": "pain_score"})
        notes.append({"id": f"h{len(notes)}", "text": note.text[:at] + line + note.text[at:],
                      "spans": spans})
        if len(notes) == n:
            break
    return notes


def hospital_schema(out: Path) -> Path:
    """The shipped schema plus ``pain_score``: the hospital's own field."""
    import yaml

    from chartlnn.schema import DEFAULT_SCHEMA

    raw = yaml.safe_load(DEFAULT_SCHEMA.read_text(encoding="utf-8"))
    raw["name"] = "hospital"
    raw["entities"]["pain_score"] = {"description": "Pain on a 0-10 scale, as stated."}
    path = out / "hospital-schema.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def export(notes: list[dict], path: Path) -> Path:
    """A Label Studio JSON export in which a reviewer's annotation is each note's gold."""
    tasks = []
    for i, note in enumerate(notes):
        result = [{"id": f"r{j}", "from_name": "label", "to_name": "text", "type": "labels",
                   "value": {"start": s["start"], "end": s["end"],
                             "text": note["text"][s["start"]:s["end"]], "labels": [s["field"]]}}
                  for j, s in enumerate(note["spans"])]
        tasks.append({"id": i, "data": {"text": note["text"], "note_id": note["id"]},
                      "annotations": [{"id": i, "result": result, "was_cancelled": False,
                                       "updated_at": "2026-01-01T00:00:00Z"}]})
    path.write_text(json.dumps(tasks), encoding="utf-8")
    return path


def scores(model_dir: Path, data: Path, split: str) -> dict[str, float]:
    """Headerless entity value micro F1, pain_score F1 and section token F1 of a model on a split,
    on the fields the split's schema has: MTSamples' labels say nothing about pain scores, so a
    pain score the hospital's model finds there is neither right nor wrong."""
    from chartlnn.evaluation.metrics import summarize
    from chartlnn.evaluation.systems import System, score_view
    from chartlnn.inference.model import load
    from chartlnn.preparing.dataset import load_prepared

    prepared = load_prepared(data)
    model = load(model_dir)
    fields = set(prepared.schema.entities)

    def chart_many(texts, ids):
        charts = model.chart_many(texts, ids)
        for chart in charts:
            chart["entities"] = {f: v for f, v in chart["entities"].items() if f in fields}
        return charts

    scored = score_view(System("m", str(model_dir), chart_many, model), prepared.splits[split],
                        prepared.schema, "input")
    entity = summarize([n.counts["entity_value"] for n in scored.notes])
    section = summarize([n.counts["section_token"] for n in scored.notes])
    pain = entity["per_field"].get("pain_score", {}).get("f1", 0.0)
    return {"entity": 100 * entity["micro"]["f1"], "pain": 100 * pain,
            "section": 100 * section["micro"]["f1"]}


def chain(select: str, seed: int, base: Path, pool_file: Path, pool: dict[str, dict],
          schema: Path, test: Path, out: Path, rounds: list[int], replay: Path | None,
          prepare_config: Any, finetune_config: Any) -> dict[int, dict[str, float]]:
    """One loop of rounds: annotate → oracle export → prepare (with the replay notes mixed into
    train, if any) → fine-tune from base → score. The configs are read once at the start, so
    that editing a config file cannot stop a long run."""
    from chartlnn.annotating.run import annotate
    from chartlnn.preparing.builder import Source, prepare
    from chartlnn.schema import load_schema
    from chartlnn.training.train import train

    mix = [Source("jsonl", replay)] if replay else None
    review, model, reviewed, results = out / "review", base, [], {}
    config = dataclasses.replace(finetune_config, seed=seed)
    for n in rounds:
        annotate(model, pool_file, review, select=select, n=n - len(reviewed), seed=seed * 1000 + n)
        manifest = json.loads((review / "annotate_manifest.json").read_text())
        reviewed = [note["note_id"] for r in manifest["rounds"] for note in r["notes"]]
        data = out / f"data-{n}"
        exported = export([pool[i] for i in reviewed], out / f"export-{n}.json")
        for split_seed in range(100):  # a few reviewed notes may all hash to train: draw again
            card = prepare("labelstudio", exported, data, schema=load_schema(schema),
                           tokenizer_from=base, show_progress=False, mix=mix,
                           config=dataclasses.replace(prepare_config, seed=split_seed,
                                                      validation_fraction=0.2, test_fraction=0.0))
            if card["splits"]["validation"]:
                break
        model = out / f"model-{n}"
        train(data, model, init=base, config=config)
        results[n] = scores(model, test, "gold")
        print(f"  {select} seed {seed}: {n} reviewed → entity {results[n]['entity']:.1f}, "
              f"pain_score {results[n]['pain']:.1f}, sections {results[n]['section']:.1f}",
              flush=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, required=True, help="the base model directory")
    parser.add_argument("--mtsamples", type=Path, help="its prepared MTSamples dataset (optional)")
    parser.add_argument("--out", type=Path, default=Path("runs/al"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--pool", type=int, default=500)
    parser.add_argument("--test", type=int, default=200, help="the hospital's gold test notes")
    parser.add_argument("--house", default="uk",
                        help="the hospital's house style (a `synthetic` recipe option): uk writes "
                             "its drug names, sigs and vital signs its own way; us as the base "
                             "model's synthetic notes")
    parser.add_argument("--rounds", default=",".join(map(str, ROUNDS)),
                        help="reviewed notes after each round")
    parser.add_argument("--replay", type=int, default=0,
                        help="mix this many of the base's MTSamples train notes (silver) into every "
                             "fine-tune, so it does not forget them (needs --mtsamples)")
    parser.add_argument("--selections", default="random,uncertainty",
                        help="which selections to run (comma-separated): one per process puts each "
                             "on its own core")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a fine-tuning setting over configs/train/finetune.yaml, as "
                             "`chartlnn train --set`")
    args = parser.parse_args()

    from chartlnn.config import load_config, parse_overrides
    from chartlnn.preparing.builder import PrepareConfig, prepare
    from chartlnn.schema import load_schema
    from chartlnn.training.train import TrainConfig, train_config_path

    overrides = parse_overrides(args.set)
    prepare_config = load_config(PrepareConfig)
    finetune_config = dataclasses.replace(
        load_config(TrainConfig, train_config_path("finetune"), overrides),
        max_minutes=None, accelerator="cpu", devices=1)
    started = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    rounds = [int(n) for n in args.rounds.split(",")]
    selections = args.selections.split(",")
    if not set(selections) <= {"random", "uncertainty"}:
        parser.error("--selections takes random and/or uncertainty")
    notes = hospital_notes(args.pool + args.test, seed=77, house=args.house)
    pool, held_out = notes[:args.pool], notes[args.pool:]
    pool_file = args.out / "pool.jsonl"
    pool_file.write_text("".join(json.dumps({"id": n["id"], "text": n["text"]}) + "\n"
                                 for n in pool), encoding="utf-8")
    schema = hospital_schema(args.out)
    replay = None
    if args.replay:
        from chartlnn.preparing.dataset import load_prepared

        train_notes = load_prepared(args.mtsamples).splits["train"]
        chosen = random.Random(0).sample(range(len(train_notes)), args.replay)
        replay = args.out / "replay.jsonl"
        replay.write_text("".join(json.dumps({"id": f"replay-{i}", "text": train_notes[i]["text"]})
                                  + "\n" for i in chosen), encoding="utf-8")
    test = args.out / "hospital-test"
    prepare("labelstudio", export(held_out, args.out / "export-test.json"), test,
            schema=load_schema(schema), tokenizer_from=args.base, show_progress=False,
            config=dataclasses.replace(prepare_config, validation_fraction=0.0,
                                       test_fraction=0.99))
    base = scores(args.base, test, "gold")
    print(f"hospital ({args.house} house style): {len(pool)} pool notes, {len(held_out)} test "
          f"notes; base model: entity "
          f"{base['entity']:.1f}, pain_score {base['pain']:.1f}, sections {base['section']:.1f}",
          flush=True)
    table = {}
    for select in selections:
        for seed in range(1, args.seeds + 1):
            table[select, seed] = chain(select, seed, args.base, pool_file,
                                        {n["id"]: n for n in pool}, schema, test,
                                        args.out / f"{select}-{seed}", rounds, replay,
                                        prepare_config, finetune_config)

    columns = [(metric, select) for metric in ("entity", "pain", "section") for select in selections]
    print("\n| reviewed | " + " | ".join(f"{select} {NAMES[metric]}" for metric, select in columns)
          + " |")
    print("|---:|" + "---:|" * len(columns))
    print("| 0 | " + " | ".join(f"{base[metric]:.1f}" for metric, _ in columns) + " |")
    for n in rounds:
        cells = []
        for metric, select in columns:
            values = [table[select, s][n][metric] for s in range(1, args.seeds + 1)]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):.1f} ± {spread:.1f}")
        print(f"| {n} | " + " | ".join(cells) + " |")
    if args.mtsamples and 100 in rounds:
        before = scores(args.base, args.mtsamples, "test")
        after = [scores(args.out / f"{select}-{s}" / "model-100", args.mtsamples, "test")["entity"]
                 for select in selections for s in range(1, args.seeds + 1)]
        print(f"\nMTSamples test entity value F1 (silver, headerless): base {before['entity']:.1f}; "
              f"after 100 reviewed notes {statistics.mean(after):.1f} "
              f"(min {min(after):.1f}, max {max(after):.1f})")
    print(f"\n{(time.time() - started) / 60:.0f} minutes; seeds {args.seeds}, fine-tuned with "
          f"--config finetune {' '.join(f'--set {k}={v}' for k, v in overrides.items())}; "
          f"{args.replay} MTSamples notes replayed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
