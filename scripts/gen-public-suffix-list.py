#!/usr/bin/env python3
"""Regenerates src/origin/public_suffix_list.txt.gz from Mozilla's Public Suffix List.

The list comes from the PyPI package `publicsuffixlist` (which ships Mozilla's
public_suffix_list.dat); internationalized rules are converted to punycode with the `idna`
package, because the filter only accepts punycode hosts. Output: one rule per line, sorted,
gzip-compressed, so the plugin carries ~45 KB of data instead of ~900 KB of generated code.

Usage: python3 -m venv /tmp/psl && /tmp/psl/bin/pip install publicsuffixlist idna
       /tmp/psl/bin/python scripts/gen-public-suffix-list.py
"""
import gzip
import importlib.resources
import pathlib
import sys

import idna

OUT = pathlib.Path(__file__).resolve().parent.parent / "src" / "origin" / "public_suffix_list.txt.gz"


def punycode(rule: str) -> str:
    prefix = ""
    for p in ("!", "*."):
        if rule.startswith(p):
            prefix, rule = p, rule[len(p):]
    if rule.isascii():
        return prefix + rule.lower()
    labels = [idna.encode(label, uts46=True).decode("ascii") for label in rule.split(".")]
    return prefix + ".".join(labels)


def main() -> int:
    dat = importlib.resources.files("publicsuffixlist").joinpath("public_suffix_list.dat").read_text("utf-8")
    rules, skipped = set(), []
    for line in dat.splitlines():
        line = line.strip()
        if not line or line.startswith("//"):
            continue
        rule = line.split()[0]
        try:
            rules.add(punycode(rule))
        except idna.IDNAError as e:
            skipped.append((rule, str(e)))
    data = "\n".join(sorted(rules)).encode("ascii") + b"\n"
    OUT.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    print(f"{len(rules)} rules, {len(data)} bytes, {OUT.stat().st_size} gzipped -> {OUT}")
    for rule, why in skipped:
        print(f"skipped {rule!r}: {why}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
