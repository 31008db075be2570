"""Time `chartlnn prepare` end to end (labels, splits, tokenizer, save) and print the figures.

    .venv/bin/python benchmarks/prepare_time.py mtsamples ../shared/data/mtsamples/mtsamples.csv.gz
    .venv/bin/python benchmarks/prepare_time.py synthetic --notes 2000
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

from chartlnn.preparing.builder import prepare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("recipe")
    parser.add_argument("input", nargs="?")
    parser.add_argument("--notes", type=int, default=2000, help="synthetic notes to generate")
    args = parser.parse_args()
    options = {"n": args.notes} if args.recipe == "synthetic" else {}
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        cpu_start = time.process_time()
        card = prepare(args.recipe, args.input, out, options=options, show_progress=False)
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
    counts = card["counts"]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}")
    print(f"recipe {args.recipe}: {counts['records_in']} records in, {counts['notes_kept']} notes kept, "
          f"{counts['records_rejected']} rejected")
    print(f"prepare wall time: {wall:.1f} s ({counts['notes_kept'] / wall:.0f} notes/s); "
          f"CPU time of this process: {cpu:.1f} s")
    labels = card["labels"]
    print("notes labeled per field: " + ", ".join(f"{k} {v['notes_total']}" for k, v in labels.items()))


if __name__ == "__main__":
    main()
