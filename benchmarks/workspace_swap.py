"""How long an annotator waits for the next task after pressing Enter, in a real browser.

    .venv/bin/python benchmarks/workspace_swap.py [--judgements 30]

Seeds the demo data into a fresh PostgreSQL database (verdict_swap_bench), serves it with gunicorn
on loopback, logs Debian's headless Chromium in as a demo annotator and judges tasks from the
keyboard (a tie on every question, then Enter). For each judgement it records, from the Enter
keydown: when the next task is on screen (the prefetched task swapped in), and when the answer is
stored (the progress counter from the server's response has changed). Prints medians and p95.
"""
import argparse
import http.client
import os
import signal
import statistics
import subprocess
import time

from _django import ROOT, setup

HOST, PORT = "127.0.0.1", int(os.environ.get("BENCH_PORT", "8766"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

# Times Enter -> next task on screen and Enter -> progress updated (the answer is stored).
PROBE = """() => {
  (window.__obs || []).forEach(o => o.disconnect());
  const start = document.getElementById('task').dataset.assignment;
  const done0 = document.querySelector('[data-testid=done-today]').textContent;
  window.__t0 = null; window.__swap = null; window.__land = null;
  if (!window.__keyProbe) {
    window.__keyProbe = true;
    document.addEventListener('keydown', e => {
      if (e.key === 'Enter' && window.__t0 === null) window.__t0 = performance.now();
    }, {capture: true});
  }
  const o = new MutationObserver(() => {
    if (window.__t0 === null) return;
    const t = document.getElementById('task'), d = document.querySelector('[data-testid=done-today]');
    if (window.__swap === null && t && t.dataset.assignment !== start) window.__swap = performance.now();
    if (window.__land === null && d && d.textContent !== done0) window.__land = performance.now();
  });
  o.observe(document.body, {childList: true, subtree: true, characterData: true});
  window.__obs = [o];
}"""


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--judgements", type=int, default=30)
    args = parser.parse_args()

    setup("verdict_swap_bench", fresh=True)
    from django.core.management import call_command

    from annotation.models import Project, Task

    call_command("seed_demo", verbosity=0)
    call_command("collectstatic", "--no-input", verbosity=0)  # gunicorn serves them through WhiteNoise
    project = Project.objects.get(mode=Project.Mode.PAIRWISE, name__startswith="Demo")
    Task.objects.filter(project=project).update(target_judgements=1)  # every judgement gets a fresh task
    env = {**os.environ, "DEBUG": "0", "ALLOWED_HOSTS": HOST, "SECURE_COOKIES": "0", "LOG_LEVEL": "WARNING"}
    server = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "config.wsgi:application", "-b", f"{HOST}:{PORT}",
                               "-w", "2", "-k", "gthread", "--threads", "4", "--log-level", "warning"],
                              cwd=ROOT, env=env, start_new_session=True)
    try:
        for _ in range(100):
            try:
                http.client.HTTPConnection(HOST, PORT, timeout=1).request("GET", "/accounts/login/")
                break
            except OSError:
                time.sleep(0.2)
        swaps, stored = measure(project.pk, args.judgements)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    print(f"{len(swaps)} judgements, keyboard only, Chromium headless, gunicorn gthread 2x4, PostgreSQL")
    print(f"Enter -> next task on screen: median {statistics.median(swaps):.1f} ms, p95 {pct(swaps, 95):.1f} ms")
    print(f"Enter -> answer stored (progress updated): median {statistics.median(stored):.1f} ms, "
          f"p95 {pct(stored, 95):.1f} ms")


def measure(project_id: int, n: int) -> tuple[list[float], list[float]]:
    from playwright.sync_api import sync_playwright

    base = f"http://{HOST}:{PORT}"
    swaps, stored = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{base}/accounts/login/")
        page.fill("input[name=username]", "demo-annotator")
        page.fill("input[name=password]", "verdict-demo")
        page.keyboard.press("Enter")
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        page.goto(f"{base}/projects/{project_id}/annotate/")
        questions = page.locator(".ws-q").count()
        for _ in range(n):
            if page.locator("#ws-next").count() == 0:
                break  # the last task: nothing prefetched to swap in
            page.evaluate(PROBE)
            for _ in range(questions):
                page.keyboard.press("t")
            page.keyboard.press("Enter")
            page.wait_for_function("window.__land !== null", timeout=10_000)
            swaps.append(page.evaluate("window.__swap - window.__t0"))
            stored.append(page.evaluate("window.__land - window.__t0"))
        browser.close()
    return swaps, stored


if __name__ == "__main__":
    main()
