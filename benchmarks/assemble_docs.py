#!/usr/bin/env python
"""Assemble docs/benchmarks.md from the generated benchmark pages.

    python benchmarks/assemble_docs.py

Reads docs/benchmarks_speed.md (run_all.py), docs/benchmarks_nist.md
(nist_strd_lre.py, default settings and, if present, the lm and tight-tolerance
runs saved next to it) and docs/benchmarks_more_wild.md (more_wild/run.py),
and writes them one after another under a short index into docs/benchmarks.md.
"""
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"
PARTS = [
    ("Speed against SciPy (small problems, Broyden n = 100000)", "benchmarks_speed.md"),
    ("method='lm' against SciPy's lm and MINPACK's leastsq", "benchmarks_lm.md"),
    ("NIST StRD: certified digits, trf, default settings", "benchmarks_nist.md"),
    ("NIST StRD: certified digits, trf, ftol = xtol = gtol = 1e-15", "benchmarks_nist_tight.md"),
    ("NIST StRD: certified digits, lm, default settings", "benchmarks_nist_lm.md"),
    ("NIST StRD: certified digits, lm, ftol = xtol = gtol = 1e-15", "benchmarks_nist_lm_tight.md"),
    ("Moré–Wild derivative-free benchmark (53 problems)", "benchmarks_more_wild.md"),
    ("Calibration of external programs (lsqbox fit)", "benchmarks_calibration.md"),
    ("Speculative trials: rounds of evaluations", "benchmarks_speculative.md"),
]


def main():
    out = ["# lsqbox benchmarks", "",
           "Every table compares lsqbox with SciPy side by side in the same run on the "
           "same machine. Regenerate with `make bench` (or the scripts named in each "
           "section).", ""]
    for title, name in PARTS:
        path = DOCS / name
        if path.exists():
            out.append(f"- [{title}](#{_anchor(title)}) — from `docs/{name}`")
    out.append("")
    for title, name in PARTS:
        path = DOCS / name
        if not path.exists():
            continue
        body = path.read_text(encoding="utf-8").strip().splitlines()
        # Demote the part's own headings by one level under our section title.
        body = ["#" + line if line.startswith("#") else line for line in body]
        out += [f"## {title}", ""] + body + [""]
    (DOCS / "benchmarks.md").write_text("\n".join(out) + "\n", encoding="utf-8")
    print(f"wrote {DOCS / 'benchmarks.md'}")


def _anchor(title):
    keep = "".join(c.lower() if c.isalnum() else ("-" if c in " -" else "") for c in title)
    return "-".join(part for part in keep.split("-") if part)


if __name__ == "__main__":
    main()
