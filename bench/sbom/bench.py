#!/usr/bin/env python3
"""Times `sigil sbom` and `syft` on the same source, side by side, whole process.

usage: bench.py [--runs N] SOURCE [SOURCE...]
  SIGIL (env): the sigil binary (default target/release/sigil)
  SYFT  (env): the syft binary (default .venv-peers/bin/syft)
For each source, runs both tools N times (interleaved, SPDX JSON to a temp file) and prints the
median wall time and median peak RSS (from wait4's rusage, per process) and the ratios.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIGIL = os.environ.get("SIGIL", os.path.join(root, "target/release/sigil"))
SYFT = os.environ.get("SYFT", os.path.join(root, ".venv-peers/bin/syft"))


def measure(argv, env):
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    # wait4 gives this child's own rusage (peak RSS in KiB on Linux).
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{argv[0]} failed:\n{err}")
    return wall, usage.ru_maxrss / 1024.0


def main():
    args = sys.argv[1:]
    runs = 5
    if args[:1] == ["--runs"]:
        runs, args = int(args[1]), args[2:]
    if not args:
        sys.exit(__doc__)
    for tool in (SIGIL, SYFT):
        if not os.path.exists(tool):
            sys.exit(f"missing {tool}: build sigil with `cargo build --release -p sigil`; "
                     "install syft with `bash scripts/install-peers.sh`")
    env = dict(os.environ, SYFT_CHECK_FOR_APP_UPDATE="false")
    out = tempfile.mkdtemp(prefix="sigil-sbom-bench-")
    print(f"runs per tool: {runs}; cpus: {os.cpu_count()}")
    print(f"{'source':58} {'tool':6} {'median s':>9} {'peak MiB':>9}")
    for src in args:
        res = {"sigil": [], "syft": []}
        for _ in range(runs):
            res["sigil"].append(measure([SIGIL, "sbom", src, "-q", "-o", f"spdx-json={out}/sigil.json"], env))
            res["syft"].append(measure([SYFT, src, "-q", "-o", f"spdx-json={out}/syft.json"], env))
        med = {}
        for tool, rows in res.items():
            wall = statistics.median(r[0] for r in rows)
            rss = statistics.median(r[1] for r in rows)
            med[tool] = (wall, rss)
            print(f"{src[-58:]:58} {tool:6} {wall:9.3f} {rss:9.1f}")
        (sw, sr), (yw, yr) = med["sigil"], med["syft"]
        print(f"{'':58} ratio  speed {yw / sw:5.1f}x faster; memory {sr / yr:5.3f} of syft's")


if __name__ == "__main__":
    main()
