#!/usr/bin/env python3
"""Compares sigil's package list with Syft's for the same source.

usage: compare.py SIGIL_JSON SYFT_JSON
  SIGIL_JSON: `sigil sbom SOURCE -o json=FILE`; SYFT_JSON: `syft SOURCE -o syft-json=FILE`.
Prints, per ecosystem sigil covers, what Syft found that sigil did not (by name, version, type
and purl), and what sigil found beyond Syft. Exit status 1 if sigil missed any package.
"""
import json
import sys
from collections import Counter

COVERED = {"apk", "deb", "rpm", "go-module", "rust-crate", "python", "npm", "java-archive"}


def sigil_rows(path):
    doc = json.load(open(path))
    return Counter((p["type"], p["name"], p["version"], p["purl"]) for p in doc["packages"])


def syft_rows(path):
    doc = json.load(open(path))
    return Counter((a["type"], a["name"], a["version"], a.get("purl", "")) for a in doc["artifacts"])


def main():
    sigil, syft = sigil_rows(sys.argv[1]), syft_rows(sys.argv[2])
    syft_cov = Counter({k: v for k, v in syft.items() if k[0] in COVERED})
    other = Counter({k: v for k, v in syft.items() if k[0] not in COVERED})
    missing = syft_cov - sigil
    extra = sigil - syft_cov
    by_type = Counter(k[0] for k in syft_cov.elements())
    print(f"syft: {sum(syft.values())} packages ({sum(syft_cov.values())} in covered ecosystems, "
          f"{sum(other.values())} in others: {dict(Counter(k[0] for k in other.elements()))})")
    print(f"sigil: {sum(sigil.values())} packages")
    for t in sorted(by_type):
        s = sum(v for k, v in sigil.items() if k[0] == t)
        m = sum(v for k, v in missing.items() if k[0] == t)
        print(f"  {t:14} syft {by_type[t]:4}  sigil {s:4}  missed {m}")
    print(f"missed by sigil ({sum(missing.values())}):")
    for k in sorted(missing):
        print("  -", *k)
    print(f"found only by sigil ({sum(extra.values())}):")
    for k in sorted(extra):
        print("  +", *k)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
