"""The `chart` job's speed and memory on this machine: charts/s of two models on MTSamples notes
(same process, alternating, ratio printed) and peak RSS as the input grows.

    .venv/bin/python benchmarks/chart_speed.py runs/budget/liquid-small \
        runs/budget/transformer-small    # about 20 minutes on 2 cores
    ... --liquid-runtimes auto,torch     # the liquid model also in torch (CHARTLNN_RUNTIME=torch)

Speed: ``chartlnn.chart`` end to end (reading, PHI guard, encode, tag, decode, validation,
writing; model load and worker start included) on the distinct MTSamples notes (all 2,357, or
the first ``--notes``), the models alternating for ``--rounds`` rounds; the best round counts,
since on a shared machine other work only ever slows a round down.

Memory: ``chartlnn chart`` runs in a fresh process per input size on JSONL files that repeat the
MTSamples notes with fresh ids. Each run goes through a small wrapper process whose
``getrusage(RUSAGE_CHILDREN).ru_maxrss`` is the peak resident set of the largest process in the
job (the main process or one worker). The wrapper is there because on Linux a child's
ru_maxrss starts at its parent's size when it forks: a small parent keeps this benchmark's own
size out of the figure. A size whose estimated time (from the last size's rate) is over
``--max-minutes`` is skipped and reported as such.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chartlnn.kernels.scan_library import scan_in_use

MTSAMPLES = (Path(__file__).resolve().parents[2] / "shared" / "data" / "mtsamples"
             / "mtsamples.csv.gz")
CHARTLNN = str(Path(sys.executable).with_name("chartlnn"))
WRAPPER = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)")
"""Runs the command given and prints its peak RSS in KiB (Linux reports ru_maxrss in KiB)."""


def mtsamples_notes(path: Path) -> list[str]:
    from chartlnn.notes import Note
    from data_recipes import get_recipe

    return [r.text for r in get_recipe("mtsamples")(path) if isinstance(r, Note)]


def write_jsonl(path: Path, texts: list[str], n: int) -> Path:
    """``n`` notes cycling through ``texts``, each with a fresh id."""
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(n):
            handle.write(json.dumps({"id": f"n{i}", "text": texts[i % len(texts)]}) + "\n")
    return path


def speed(systems: list[tuple[str, Path, str]], source: Path, rounds: int, workers: int,
          batch_size: int, scratch: Path) -> dict[str, float]:
    """Best charts/s per system (name, model, ``CHARTLNN_RUNTIME``) over ``rounds`` alternating
    rounds."""
    from chartlnn.charting.run import chart

    best: dict[str, float] = {}
    for round_ in range(rounds):
        for name, model, runtime in systems:
            os.environ["CHARTLNN_RUNTIME"] = runtime  # read by the load in each worker too
            summary = chart(model, source, scratch / model.name, workers=workers,
                            batch_size=batch_size, overwrite=True)
            best[name] = max(best.get(name, 0.0), summary.charts_per_s)
            print(f"  round {round_ + 1}: {name} {summary.charts_per_s:.1f} charts/s "
                  f"({summary.charted} notes, {summary.wall_s:.1f} s, load average "
                  f"{os.getloadavg()[0]:.1f})", flush=True)
    os.environ.pop("CHARTLNN_RUNTIME")
    return best


def peak_memory(model: Path, source: Path, out: Path, workers: int, batch_size: int
                ) -> tuple[float, float, int]:
    """(peak RSS in MiB of the largest process, wall seconds, notes charted) of one run."""
    command = [CHARTLNN, "chart", "-m", str(model), "-i", str(source), "-o", str(out),
               "--workers", str(workers), "--batch-size", str(batch_size), "--overwrite"]
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", WRAPPER, *command], capture_output=True,
                            text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"chart failed on {source.name}: {result.stderr.strip()[-500:]}")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return int(result.stdout.split()[-1]) / 1024, wall, summary["charted"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("models", type=Path, nargs=2, help="Two model directories (liquid first).")
    parser.add_argument("--notes", type=int, default=None,
                        help="MTSamples notes for the speed runs (default: all 2,357).")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sizes", default="1000,10000,100000", help="Input sizes for peak memory.")
    parser.add_argument("--max-minutes", type=float, default=15.0,
                        help="Skip a memory size estimated to take longer than this.")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--liquid-runtimes", default="auto",
                        help="Runtimes the first model charts in (auto, numpy, torch), comma-separated.")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, workers {args.workers}, batch size "
          f"{args.batch_size}; load average at start {os.getloadavg()[0]:.2f}; {scan_in_use()}",
          flush=True)
    texts = mtsamples_notes(MTSAMPLES)
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        rows = []
        rate = None
        for size in (int(s) for s in args.sizes.split(",")):
            if rate and size / rate > args.max_minutes * 60:
                rows.append(f"| {size:,} | skipped: about {size / rate / 60:.0f} min at "
                            f"{rate:.1f} notes/s | | |")
                continue
            source = write_jsonl(scratch / f"{size}.jsonl", texts, size)
            rss, wall, charted = peak_memory(args.models[0], source, scratch / f"out-{size}",
                                             args.workers, args.batch_size)
            rate = charted / wall
            rows.append(f"| {size:,} | {wall:.0f} s | {rate:.1f} | {rss:.0f} |")
            print(f"  memory: {size:,} notes, peak {rss:.0f} MiB, {wall:.0f} s", flush=True)
            source.unlink()
        speed_texts = texts[:args.notes]
        source = write_jsonl(scratch / "speed.jsonl", speed_texts, len(speed_texts))
        first, second = args.models
        systems = [(f"{first.name} ({runtime})", first, runtime)
                   for runtime in args.liquid_runtimes.split(",")] + [(second.name, second, "auto")]
        best = speed(systems, source, args.rounds, args.workers, args.batch_size, scratch)
    print(f"\n| model | charts/s (best of {args.rounds}) |\n|---|---|")
    for name, _, _ in systems:
        print(f"| {name} | {best[name]:.1f} |")
    for name, _, _ in systems[:-1]:
        print(f"\n{name} / {second.name}: {best[name] / best[second.name]:.2f}x")
    print()
    print(f"Peak RSS of the largest process, {args.models[0].name}, MTSamples notes repeated:\n")
    print("| notes | wall | notes/s | peak RSS (MiB) |\n|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
