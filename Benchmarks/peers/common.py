"""Shared helpers for the PyTorch peer benchmarks: common options, thread pinning, timing, Attend result
loading."""
import argparse
import json
import os
import statistics
import time

import torch


def peer_arguments(doc, bench):
    """An argument parser with the options every peer takes: --attend (the JSON of
    `attend bench <bench> --json`, for the ratio columns), --runs and --threads."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attend", help=f"JSON written by `attend bench {bench} --json`")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int)
    return parser


def configure_threads(threads):
    """Use the same thread count as the Attend run (intra-op and inter-op)."""
    threads = threads or os.cpu_count()
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1) if hasattr(torch, "set_num_interop_threads") else None
    return threads


def median_seconds(fn, runs=5, warmup=1):
    """Median wall time of fn() over `runs` timed calls after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def load_attend(path):
    """Rows written by `attend bench … --json FILE`, or [] when no file is given."""
    if not path:
        return []
    with open(path) as f:
        return json.load(f)


def table(header, rows):
    """A plain aligned text table."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)] if rows else [len(h) for h in header]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths))
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])
