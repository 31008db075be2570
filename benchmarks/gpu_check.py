"""The GPU path end to end, in one run of under five minutes: train the default model for one
minute on CUDA (bf16 mixed precision), evaluate it with the NVML energy meter, chart 20,000 notes
on the GPU; prints J/chart (measured:nvml), charts/s and the figures' provenance.

    .venv/bin/python benchmarks/gpu_check.py [--out runs/gpu] [--notes 20000] [--train-minutes 1]
    .venv/bin/python benchmarks/gpu_check.py --rehearse-on-cpu --notes 200 --train-minutes 0.5

Without a CUDA device it prints why and exits 0, so it is safe to run anywhere;
``--rehearse-on-cpu`` runs the same steps on the CPU (fp32, CPU meter), so the script is known to
work before a GPU's few minutes are spent on it. It needs no data
download: the notes are the synthetic recipe's (2,000, prepared in seconds), so the machine
lending the GPU needs nothing but this repository and its environment. Its F1 is therefore not
comparable with the MTSamples figures; its J/chart and charts/s are the GPU path's.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/gpu"))
    parser.add_argument("--notes", type=int, default=20_000, help="notes to chart on the GPU")
    parser.add_argument("--train-minutes", type=float, default=1.0)
    parser.add_argument("--rehearse-on-cpu", action="store_true",
                        help="the same steps on the CPU, to check the script itself")
    args = parser.parse_args()

    import torch

    on_gpu = not args.rehearse_on_cpu
    device, meter = ("cuda", "nvml") if on_gpu else ("cpu", "auto")
    if on_gpu and not torch.cuda.is_available():
        print("gpu_check: no CUDA device on this machine (torch "
              f"{torch.__version__}); skipped")
        return 0
    from chartlnn.charting.run import chart
    from chartlnn.evaluation.run import evaluate
    from chartlnn.preparing.builder import prepare
    from chartlnn.config import load_config
    from chartlnn.training.train import TrainConfig, train

    if on_gpu:
        print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, "
              f"CUDA {torch.version.cuda}, bf16 {torch.cuda.is_bf16_supported()}")
    else:
        print(f"rehearsal on the CPU, torch {torch.__version__}")
    if args.out.exists():
        shutil.rmtree(args.out)
    data, model, notes_file = args.out / "data", args.out / "liquid", args.out / "notes.jsonl"
    started = time.perf_counter()
    prepare("synthetic", None, data, options={"n": 2000, "seed": 1}, show_progress=False)
    print(f"prepared {data} in {time.perf_counter() - started:.0f} s")

    started = time.perf_counter()
    config = dataclasses.replace(load_config(TrainConfig), max_minutes=args.train_minutes,
                                 pretrain_minutes=0.0,  # a minute holds no pretraining
                                 lr=0.003, head_lr_scale=1.0,  # so the trunk starts from nothing
                                 max_epochs=1000, early_stopping_patience=1000,
                                 accelerator="gpu" if on_gpu else "cpu", devices=1,
                                 precision="bf16-mixed" if on_gpu else "32-true")
    metrics = train(data, model, config=config)
    print(f"trained {args.train_minutes:g} min on {'CUDA bf16' if on_gpu else 'CPU fp32'} ({time.perf_counter() - started:.0f} s "
          f"with start and export): val field F1 {metrics['val/field_f1']:.3f}")

    report = evaluate(data, [model], args.out / "report", device=device, meter=meter, repeats=3,
                      window_seconds=2.0, long_tokens=(8192, 32768), overwrite=True)
    cost = report.cost[next(iter(report.cost))]
    print(f"evaluate ({device}, {report.settings.meter}): {cost.j_per_chart.median:.4f} J/chart, "
          f"{1 / cost.seconds_per_chart.median:.1f} charts/s in the metered windows")

    from datasets import load_from_disk

    pool = [t for split in ("train", "validation", "test")
            for t in load_from_disk(str(data / "dataset"))[split]["text"]]
    with open(notes_file, "w", encoding="utf-8") as handle:
        for i in range(args.notes):
            handle.write(json.dumps({"id": f"n{i}", "text": pool[i % len(pool)]}) + "\n")
    started = time.perf_counter()
    summary = chart(model, notes_file, args.out / "charts", device=device, batch_size=64, workers=1)
    seconds = time.perf_counter() - started
    print(f"chart {args.notes:,} notes on {device}: {summary.charted:,} charted, "
          f"{summary.rejected:,} rejected, {seconds:.1f} s, {summary.charted / seconds:.1f} charts/s "
          "(model load and start included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
