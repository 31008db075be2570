"""What starting a chart worker costs: seconds from a fresh interpreter to its first chart, its
resident memory, and whether Lightning was imported; then the wall time of `chartlnn chart` on
10 notes (start-up to written charts, workers included).

    python benchmarks/worker_start.py MODEL_DIR [--source CHECKOUT] [--repeats 5]

``--source`` runs another checkout's code (e.g. an older commit in a git worktree) with this
script, so two versions are measured on the same machine in one sitting. Run it on a quiet
machine: every figure is a median over ``--repeats`` fresh processes, printed with its range.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTE = ("CHIEF COMPLAINT: Cough.\nHISTORY OF PRESENT ILLNESS: A 54-year-old man with a cough for "
        "3 days. He takes lisinopril 10 mg p.o. daily.\nVITAL SIGNS: BP 132/84, pulse 88.\n")
WORKER = """
import json, time, sys
start = time.perf_counter()
import chartlnn
model = chartlnn.load(sys.argv[1])
if hasattr(model, 'use_threads'):
    model.use_threads(1)
else:  # a checkout from before the numpy runtime
    import torch
    torch.set_num_threads(1)
model.chart(sys.argv[2])
elapsed = time.perf_counter() - start
status = dict(line.split(':', 1) for line in open('/proc/self/status') if ':' in line)
print(json.dumps({'first_chart_s': elapsed, 'rss_mib': int(status['VmRSS'].split()[0]) / 1024,
       'peak_mib': int(status['VmHWM'].split()[0]) / 1024,
       'lightning': any(m.split('.')[0] == 'lightning' for m in sys.modules),
       'torch': 'torch' in sys.modules, 'runtime': getattr(model, 'runtime', 'torch')}))
"""


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} [{min(values):.2f}–{max(values):.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--source", type=Path, default=ROOT)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(args.source.resolve())}
    rows = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", WORKER, str(args.model.resolve()), NOTE],
                             capture_output=True, text=True, env=env, cwd=tempfile.gettempdir(),
                             check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        row["process_s"] = time.perf_counter() - started
        rows.append(row)
    with tempfile.TemporaryDirectory() as tmp:
        notes = Path(tmp) / "notes.jsonl"
        notes.write_text("".join(json.dumps({"id": str(i), "text": NOTE}) + "\n" for i in range(10)))
        chart_s = []
        for i in range(args.repeats):
            started = time.perf_counter()
            subprocess.run([sys.executable, str(args.source.resolve() / "cli.py"), "chart", "-m",
                            str(args.model.resolve()), "-i", str(notes), "-o", f"{tmp}/out{i}"],
                           capture_output=True, env=env, cwd=tmp, check=True)
            chart_s.append(time.perf_counter() - started)
    print(f"source: {args.source.resolve()}  ({args.repeats} fresh processes each; median [range])")
    print("| figure | value |\n|---|---:|")
    print(f"| interpreter start → first chart, s (whole process) | {_spread([r['process_s'] for r in rows])} |")
    print(f"| import + load + first chart inside it, s | {_spread([r['first_chart_s'] for r in rows])} |")
    print(f"| resident memory after the first chart, MiB | {_spread([r['rss_mib'] for r in rows])} |")
    print(f"| peak resident memory, MiB | {_spread([r['peak_mib'] for r in rows])} |")
    print(f"| Lightning imported | {rows[0]['lightning']} |")
    print(f"| runtime; torch imported | {rows[0]['runtime']}; {rows[0]['torch']} |")
    print(f"| `chartlnn chart` on 10 notes, start to finish, s | {_spread(chart_s)} |")


if __name__ == "__main__":
    main()
