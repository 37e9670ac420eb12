"""Imports 100,000 task lines (and 100,000 TRL pairs) into PostgreSQL and reports time and memory.

    .venv/bin/python benchmarks/import_100k.py [--rows 100000]

Memory stays bounded because rows are written in batches of VERDICT_IMPORT_BATCH_SIZE: the peak
RSS for 100k lines is compared with the peak for 10k lines.
"""
import argparse
import gzip
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_tasks(path: Path, n: int) -> None:
    with gzip.open(path, "wt") as f:
        for i in range(n):
            responses = [{"text": f"Response {j} to question {i}: " + "lorem ipsum " * (20 + j * 7), "model": f"m{j}"}
                         for j in range(2 + i % 3)]
            f.write(json.dumps({"id": f"q{i}", "prompt": f"Question {i}: " + "why is the sky blue? " * 10,
                                "responses": responses, "metadata": {"n": i}}) + "\n")


def write_pairs(path: Path, n: int) -> None:
    with gzip.open(path, "wt") as f:
        for i in range(n):
            f.write(json.dumps({"prompt": f"Pair prompt {i} " + "context " * 30, "chosen": f"good {i} " * 40,
                                "rejected": f"bad {i} " * 40, "margin": i % 4}) + "\n")


def one_run(kind: str, rows: int) -> dict:
    """Runs one import in a fresh process so that its peak memory is its own."""
    code = f"""
import sys, time, json; sys.path.insert(0, 'benchmarks')
import _django; _django.setup('verdict_bench_import', fresh=True)
from annotation.services.imports.pairs import pairs_import
from annotation.services.imports.tasks import tasks_import
from annotation.services.projects import project_create
project = project_create(name='bench-{kind}-{rows}', mode='ranking')  # 2 to 4 responses a task
base = _django.peak_rss_mb()
fn = tasks_import if '{kind}' == 'tasks' else pairs_import
t0 = time.perf_counter()
with open(sys.argv[1], 'rb') as f:
    result = fn(project=project, fileobj=f, filename=sys.argv[1])
elapsed = time.perf_counter() - t0
print(json.dumps({{"created": result.created, "seconds": elapsed, "base_mb": base, "peak_mb": _django.peak_rss_mb()}}))
"""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{kind}.jsonl.gz"
        (write_tasks if kind == "tasks" else write_pairs)(path, rows)
        out = subprocess.run([sys.executable, "-c", code, str(path)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    print(f"machine: {platform.node()} {platform.machine()}, python {platform.python_version()}")
    for kind in ("tasks", "pairs"):
        for rows in (args.rows // 10, args.rows):
            r = one_run(kind, rows)
            print(f"{kind:5} {rows:>8,} lines: {r['seconds']:7.1f} s  {rows / r['seconds']:8,.0f} lines/s  "
                  f"peak RSS {r['peak_mb']:6.0f} MB (after Django start {r['base_mb']:.0f} MB, "
                  f"import adds {r['peak_mb'] - r['base_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
