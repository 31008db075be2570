"""Peak memory and time of charting very long notes: memory must stop growing with note length.

    python benchmarks/long_notes.py MODEL_DIR

Each case runs `chartlnn chart` (one worker in this process, ``--workers 0``) in a fresh
process on notes generated here — lab-dense synthetic text repeated to the length asked, never
a real note — and prints the process's peak resident memory (VmHWM of the child) and wall time.
A note over the chart job's token cap (``MAX_BATCH_TOKENS``) is read in windows, so the peak
should level off once notes pass it.

Then the network's cost per token as one note grows from 512 to 32,768 tokens: the model's
forward pass (the runtime ``chart`` uses, one thread, best of ``--repeats``) on that text cut at
a token boundary, in microseconds per token, and the cost at 32,768 over that at 512.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

from data_recipes import synthetic

CASES = [("8 notes of 20k characters", 8, 20_000), ("8 notes of 195k characters", 8, 195_000),
         ("1 note of 2M characters", 1, 2_000_000)]
TOKEN_LENGTHS = (512, 2048, 8192, 32768)


def _long_text(chars: int) -> str:
    base = " ".join(note.text for note in synthetic.read(n=40, seed=5))
    return (base * (chars // len(base) + 1))[:chars]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print("| notes | peak RSS of the chart process, MiB | wall s |\n|---|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, count, chars in CASES:
            notes = Path(tmp) / f"{count}x{chars}.jsonl"
            text = _long_text(chars)
            notes.write_text("".join(json.dumps({"id": str(i), "text": text}) + "\n" for i in range(count)))
            command = [str(Path(sys.executable).with_name("chartlnn")), "chart", "-m", str(args.model),
                       "-i", str(notes), "-o", f"{tmp}/out-{count}-{chars}", "--workers", "0",
                       "-O", f"max_chars={chars + 1}"]
            started = time.perf_counter()
            # A wrapper per case, so the peak is this case's chart process alone.
            peak_kib = int(subprocess.run(
                [sys.executable, "-c", "import resource, subprocess, sys; "
                 "subprocess.run(sys.argv[1:], check=True, capture_output=True); "
                 "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)", *command],
                check=True, capture_output=True, text=True).stdout)
            print(f"| {name} | {peak_kib / 1024:,.0f} | {time.perf_counter() - started:.1f} |")
    per_token = _forward_cost(args.model, args.repeats)
    print("\n| tokens in the note | forward pass, µs per token |\n|---:|---:|")
    for tokens, cost in per_token.items():
        print(f"| {tokens:,} | {cost:.2f} |")
    first, last = TOKEN_LENGTHS[0], TOKEN_LENGTHS[-1]
    print(f"\nper-token cost at {last:,} tokens over {first}: "
          f"{per_token[last] / per_token[first]:.2f}x [<= 1.2x]")


def _forward_cost(model_dir: Path, repeats: int) -> dict[int, float]:
    """Microseconds per token of the model's forward pass on one note of each length."""
    import numpy as np

    from chartlnn.inference.model import load

    model = load(model_dir, device="cpu")
    model.use_threads(1)
    encoded = model.encode(_long_text(12 * TOKEN_LENGTHS[-1]))
    if len(encoded.ids) < TOKEN_LENGTHS[-1]:
        raise SystemExit(f"the text made {len(encoded.ids)} tokens, fewer than {TOKEN_LENGTHS[-1]}")
    costs = {}
    for tokens in TOKEN_LENGTHS:
        ids = np.array([encoded.ids[:tokens]], dtype=np.int64)
        mask = np.ones_like(ids, dtype=bool)
        model.forward(ids, mask)  # warm-up
        best = min(timeit.repeat(lambda: model.forward(ids, mask), number=1, repeat=repeats))
        costs[tokens] = 1e6 * best / tokens
    return costs


if __name__ == "__main__":
    main()
