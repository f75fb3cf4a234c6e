"""One measurement in a fresh process: ``python -m bench.case APPROACH CASE CONFIG``.

Prints one JSON line: seconds (the timed work only: setup such as imports,
config loading and reflection is outside), rows transferred, peak memory
growth (MB) and the size of the DataFrames produced (MB).
"""

from __future__ import annotations

import json
import resource
import sys
import time

import pandas as pd

from bench.approaches import APPROACHES, Setup


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def frames_mb(*frames: pd.DataFrame) -> float:
    return sum(f.memory_usage(deep=True).sum() for f in frames) / 2**20


def main() -> None:
    approach, case, config_path = sys.argv[1:4]
    setup = Setup(case, config_path)
    work = APPROACHES[approach]
    before = rss_mb()
    started = time.perf_counter()
    rows, frames, records = work(setup)
    seconds = time.perf_counter() - started
    print(json.dumps({"approach": approach, "case": case, "seconds": seconds, "rows": rows,
                      "records": records, "peak_mb": max(peak_mb() - before, 0.0),
                      "frames_mb": frames_mb(*frames)}))


if __name__ == "__main__":
    main()
