"""The review round trip against a real Label Studio server, over its HTTP API: the labeling
config and pre-annotated tasks `chartlnn annotate` writes go in, a reviewer's edits are made as
annotations, the server's JSON export comes out, and `prepare labelstudio` must read back exactly
the spans and values the reviewer left. Prints the counts and every mismatch (none expected).

    pip install label-studio        # in a separate environment: it is not a chartlnn dependency
    label-studio start --no-browser --port 8089 --username r@example.org --password ... \
        --user-token TOKEN --enable-legacy-api-token &
    .venv/bin/python benchmarks/labelstudio_roundtrip.py --model runs/final/liquid \
        --url http://localhost:8089 --token TOKEN

The notes are synthetic (no patient text leaves the machine, and none is printed). The reviewer,
per task: accepts the model's spans, deletes the first entity span, corrects the first typed
value it can (a number + 1), and one task is skipped (cancelled), which the import counts.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import urllib.request
from pathlib import Path


def api(url: str, token: str, method: str, path: str, body=None):
    request = urllib.request.Request(
        url.rstrip("/") + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def reviewed(result: list[dict]) -> list[dict]:
    """The reviewer's edits to a prediction: the first entity region deleted (with its value),
    the first numeric value that is left corrected up by one."""
    from chartlnn.schema import load_schema

    entities = load_schema().entities
    regions = [r for r in result if r["type"] == "labels"]
    first_entity = next((r["id"] for r in regions if r["value"]["labels"][0] in entities), None)
    edited, corrected = [], False
    for item in result:
        if item["id"] == first_entity:
            continue
        item = json.loads(json.dumps(item))
        if item["type"] == "textarea" and not corrected:
            try:
                item["value"]["text"] = [f"{float(item['value']['text'][0]) + 1:g}"]
                corrected = True
            except ValueError:
                pass
        edited.append(item)
    return edited


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--url", default="http://localhost:8089")
    parser.add_argument("--token", required=True)
    parser.add_argument("--notes", type=int, default=12)
    args = parser.parse_args()

    from chartlnn.annotating.run import annotate
    from chartlnn.preparing.builder import prepare
    from chartlnn.preparing.dataset import load_prepared
    from data_recipes import get_recipe
    from data_recipes._common import typed_value

    work = Path(tempfile.mkdtemp(prefix="ls-roundtrip-"))
    notes = [n for n in get_recipe("synthetic")(None, n=args.notes, seed=5)]
    source = work / "notes.jsonl"
    source.write_text("".join(json.dumps({"id": n.id, "text": n.text}) + "\n" for n in notes),
                      encoding="utf-8")
    summary = annotate(args.model, source, work / "review", select="all")
    tasks = json.loads(Path(summary.tasks).read_text(encoding="utf-8"))
    config = (work / "review" / "labeling_config.xml").read_text(encoding="utf-8")
    print(f"annotate: {summary.written} tasks written, {summary.rejected} rejected")

    project = api(args.url, args.token, "POST", "/api/projects",
                  {"title": "chartlnn round trip", "label_config": config})
    print(f"Label Studio accepted the labeling config (project {project['id']})")
    imported = api(args.url, args.token, "POST", f"/api/projects/{project['id']}/import", tasks)
    print(f"imported {imported.get('task_count')} tasks with "
          f"{imported.get('prediction_count')} predictions")
    listed = api(args.url, args.token, "GET",
                 f"/api/tasks?project={project['id']}&page_size=1000&fields=all")
    server_tasks = listed["tasks"] if isinstance(listed, dict) else listed
    expected: dict[str, list[dict]] = {}
    for number, one in enumerate(sorted(server_tasks, key=lambda t: t["id"])):
        prediction = one["predictions"][0]["result"]
        if number == 0:
            api(args.url, args.token, "POST", f"/api/tasks/{one['id']}/annotations",
                {"result": [], "was_cancelled": True})
            continue
        result = reviewed(prediction)
        api(args.url, args.token, "POST", f"/api/tasks/{one['id']}/annotations", {"result": result})
        expected[one["data"]["note_id"]] = result
    export = api(args.url, args.token, "GET",
                 f"/api/projects/{project['id']}/export?exportType=JSON&download_all_tasks=true")
    export_file = work / "export.json"
    export_file.write_text(json.dumps(export), encoding="utf-8")
    print(f"exported {len(export)} tasks; reviewed {len(expected)}, cancelled 1")

    card = prepare("labelstudio", export_file, work / "data", tokenizer_from=args.model,
                   show_progress=False)
    print(f"prepare labelstudio: {card['counts']['notes_kept']} notes kept, "
          f"{card['counts']['records_rejected']} rejected (the cancelled task)")
    data = load_prepared(work / "data")
    units = {name: field.unit for name, field in data.schema.entities.items()}
    mismatches, spans, values_checked = 0, 0, 0
    for split in data.splits.values():
        for example in split:
            result = expected[example["id"]]
            typed = {r["id"]: r["value"]["text"][0] for r in result if r["type"] == "textarea"}
            want = {(r["value"]["start"], r["value"]["end"], r["value"]["labels"][0]):
                    typed.get(r["id"]) for r in result if r["type"] == "labels"}
            got = {(s["start"], s["end"], s["label"]): json.loads(s["attrs"]).get("value")
                   for s in example["full_spans"]}
            spans += len(want)
            mismatches += len(want.keys() ^ got.keys())
            for key, text in want.items():  # a typed value reads back as the normalizer reads it
                if text is not None and key in got:
                    values_checked += 1
                    mismatches += got[key] != typed_value(key[2], [text], units[key[2]], "")
    print(f"round trip: {spans} reviewed spans ({values_checked} with typed values), "
          f"{mismatches} mismatches in offsets, labels or values")
    return 0 if mismatches == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
