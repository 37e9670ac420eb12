"""Small, labelled SVG charts rendered on the server: no JavaScript, no build step, crisp at any size.

The training pages poll with htmx and re-render these in every fragment, so they must be cheap
(pure Python string building, no matplotlib) and safe: every label is escaped, and numbers are
formatted, never interpolated raw. Each function returns markup that templates mark safe.
"""
import html
import math
from collections.abc import Sequence

from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2")
MARGIN = {"left": 56, "right": 28, "top": 30, "bottom": 42}


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten) covering [low, high]."""
    if not math.isfinite(low) or not math.isfinite(high):
        return [0.0, 1.0]
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks, value = [], first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high:
        ticks.append(round(ticks[-1] + step, 12))
    return ticks


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000 or abs(value) < 0.01:
        return f"{value:.2g}"
    return f"{value:.3g}"


def _tick_labels(ticks: Sequence[float]) -> list[str]:
    """Tick labels with just enough digits that neighbouring ticks never read the same."""
    labels = [_fmt(t) for t in ticks]
    digits = 3
    while len(set(labels)) < len(labels) and digits < 8:
        labels = ["0" if t == 0 else f"{t:.{digits}g}" for t in ticks]
        digits += 1
    return labels


class _Frame:
    """Maps data coordinates to pixels and draws the axes, grid, ticks and labels."""

    def __init__(self, *, x_ticks, y_ticks, width, height):
        self.x0, self.x1 = x_ticks[0], x_ticks[-1]
        self.y0, self.y1 = y_ticks[0], y_ticks[-1]
        self.x_ticks, self.y_ticks = x_ticks, y_ticks
        self.width, self.height = width, height
        self.left, self.top = MARGIN["left"], MARGIN["top"]
        self.plot_w = width - MARGIN["left"] - MARGIN["right"]
        self.plot_h = height - MARGIN["top"] - MARGIN["bottom"]

    def px(self, x: float) -> float:
        return self.left + (x - self.x0) / ((self.x1 - self.x0) or 1) * self.plot_w

    def py(self, y: float) -> float:
        return self.top + self.plot_h - (y - self.y0) / ((self.y1 - self.y0) or 1) * self.plot_h

    def axes(self, *, title: str, x_label: str, y_label: str, x_tick_labels=None) -> list[str]:
        e = html.escape
        out = [f'<text x="{self.width / 2:.1f}" y="18" text-anchor="middle" class="chart-title">{e(title)}</text>']
        for y, y_text in zip(self.y_ticks, _tick_labels(self.y_ticks)):
            py = self.py(y)
            out.append(f'<line x1="{self.left}" x2="{self.left + self.plot_w}" y1="{py:.1f}" y2="{py:.1f}" class="chart-grid"/>')
            out.append(f'<text x="{self.left - 6}" y="{py + 4:.1f}" text-anchor="end" class="chart-tick">{y_text}</text>')
        labels = x_tick_labels or list(zip(self.x_ticks, _tick_labels(self.x_ticks)))
        for x, label in labels:
            px = self.px(x)
            out.append(f'<text x="{px:.1f}" y="{self.top + self.plot_h + 16}" text-anchor="middle" class="chart-tick">{e(label)}</text>')
        bottom = self.top + self.plot_h
        out.append(f'<line x1="{self.left}" x2="{self.left + self.plot_w}" y1="{bottom}" y2="{bottom}" class="chart-axis"/>')
        out.append(f'<line x1="{self.left}" x2="{self.left}" y1="{self.top}" y2="{bottom}" class="chart-axis"/>')
        out.append(f'<text x="{self.left + self.plot_w / 2:.1f}" y="{self.height - 6}" text-anchor="middle" class="chart-label">{e(x_label)}</text>')
        out.append(f'<text transform="translate(14 {self.top + self.plot_h / 2:.1f}) rotate(-90)" text-anchor="middle" class="chart-label">{e(y_label)}</text>')
        return out


def _svg(parts: list[str], *, width: int, height: int, title: str) -> SafeString:
    body = "".join(parts)
    return mark_safe(f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
                     f'aria-label="{html.escape(title)}" xmlns="http://www.w3.org/2000/svg">'
                     f'<title>{html.escape(title)}</title>{body}</svg>')


def _legend(names: Sequence[str], *, frame: _Frame) -> list[str]:
    out, x = [], frame.left + 8
    for i, name in enumerate(names):
        color = PALETTE[i % len(PALETTE)]
        out.append(f'<rect x="{x}" y="{frame.top + 4}" width="10" height="10" fill="{color}"/>')
        out.append(f'<text x="{x + 14}" y="{frame.top + 13}" class="chart-legend">{html.escape(name)}</text>')
        x += 22 + 7 * len(name)
    return out


def _empty(*, title: str, width: int, height: int, message: str) -> SafeString:
    return _svg([f'<text x="{width / 2}" y="18" text-anchor="middle" class="chart-title">{html.escape(title)}</text>',
                 f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="chart-empty">{html.escape(message)}</text>'],
                width=width, height=height, title=title)


def line_chart(*, series: Sequence[dict], title: str, x_label: str, y_label: str, width: int = 640,
               height: int = 260, y_range: tuple[float, float] | None = None,
               empty: str = "No data yet.") -> SafeString:
    """`series`: [{"name": str, "points": [(x, y), ...], "band": [(x, low, high), ...] (optional, shaded)}];
    non-finite points are skipped."""
    def finite(*values) -> bool:
        return all(v is not None and math.isfinite(float(v)) for v in values)

    clean = [{"name": s["name"], "points": [(float(x), float(y)) for x, y in s["points"] if finite(y)],
              "band": [(float(x), float(lo), float(hi)) for x, lo, hi in s.get("band") or () if finite(lo, hi)]}
             for s in series]
    points = [p for s in clean for p in s["points"]] + [(x, v) for s in clean for x, lo, hi in s["band"]
                                                          for v in (lo, hi)]
    if not points:
        return _empty(title=title, width=width, height=height, message=empty)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    low, high = y_range or (min(ys), max(ys))
    frame = _Frame(x_ticks=nice_ticks(min(xs), max(xs)), y_ticks=nice_ticks(low, high), width=width, height=height)
    parts = frame.axes(title=title, x_label=x_label, y_label=y_label)
    for i, s in enumerate(clean):
        color = PALETTE[i % len(PALETTE)]
        if len(s["band"]) > 1:
            edge = [(x, hi) for x, lo, hi in s["band"]] + [(x, lo) for x, lo, hi in reversed(s["band"])]
            outline = " ".join(f"{frame.px(x):.1f},{frame.py(y):.1f}" for x, y in edge)
            parts.append(f'<polygon points="{outline}" fill="{color}" fill-opacity="0.15" stroke="none"/>')
        coords = " ".join(f"{frame.px(x):.1f},{frame.py(y):.1f}" for x, y in s["points"])
        if len(s["points"]) == 1:
            x, y = s["points"][0]
            parts.append(f'<circle cx="{frame.px(x):.1f}" cy="{frame.py(y):.1f}" r="3" fill="{color}"/>')
        else:
            parts.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2"/>')
    parts += _legend([s["name"] for s in clean], frame=frame)
    return _svg(parts, width=width, height=height, title=title)


def histogram_chart(*, series: Sequence[dict], edges: Sequence[float], title: str, x_label: str,
                    y_label: str = "responses", width: int = 640, height: int = 260) -> SafeString:
    """Overlaid step histograms on shared bin `edges`: [{"name": str, "counts": [...]}]."""
    if not series or not any(sum(s["counts"]) for s in series):
        return _empty(title=title, width=width, height=height, message="No rows.")
    top = max(max(s["counts"]) for s in series)
    frame = _Frame(x_ticks=nice_ticks(edges[0], edges[-1]), y_ticks=nice_ticks(0, top), width=width, height=height)
    parts = frame.axes(title=title, x_label=x_label, y_label=y_label)
    for i, s in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        path = [f"M{frame.px(edges[0]):.1f},{frame.py(0):.1f}"]
        for left, right, count in zip(edges[:-1], edges[1:], s["counts"]):
            path.append(f"L{frame.px(left):.1f},{frame.py(count):.1f} L{frame.px(right):.1f},{frame.py(count):.1f}")
        path.append(f"L{frame.px(edges[-1]):.1f},{frame.py(0):.1f}")
        parts.append(f'<path d="{" ".join(path)}" fill="{color}" fill-opacity="0.18" stroke="{color}" stroke-width="1.5"/>')
    parts += _legend([s["name"] for s in series], frame=frame)
    return _svg(parts, width=width, height=height, title=title)


def reliability_chart(*, bins: Sequence[dict], title: str = "Reliability: predicted vs observed",
                      width: int = 320, height: int = 280) -> SafeString:
    """Calibration bins [{"confidence", "accuracy", "n"}] (rewardtrain.ml.evaluate.calibration): dots on the diagonal are well calibrated."""
    used = [b for b in bins if b.get("n")]
    if not used:
        return _empty(title=title, width=width, height=height, message="No rows.")
    ticks = [0.5, 0.6, 0.7, 0.8, 0.9, 1.0] if min(b["confidence"] for b in used) >= 0.5 else nice_ticks(0, 1)
    frame = _Frame(x_ticks=ticks, y_ticks=ticks, width=width, height=height)
    parts = frame.axes(title=title, x_label="predicted P(chosen wins)", y_label="observed accuracy")
    parts.append(f'<line x1="{frame.px(ticks[0]):.1f}" y1="{frame.py(ticks[0]):.1f}" x2="{frame.px(1):.1f}" '
                 f'y2="{frame.py(1):.1f}" class="chart-diagonal"/>')
    biggest = max(b["n"] for b in used)
    for b in used:
        radius = 2.5 + 5 * math.sqrt(b["n"] / biggest)
        y = min(max(b["accuracy"], ticks[0]), 1.0)
        parts.append(f'<circle cx="{frame.px(min(max(b["confidence"], ticks[0]), 1.0)):.1f}" cy="{frame.py(y):.1f}" '
                     f'r="{radius:.1f}" fill="{PALETTE[0]}" fill-opacity="0.7"><title>{b["n"]} rows: predicted '
                     f'{b["confidence"]:.2f}, observed {b["accuracy"]:.2f}</title></circle>')
    return _svg(parts, width=width, height=height, title=title)


def _short(label: str, most: int = 14) -> str:
    """A bar label that fits under its bar; the cut is in the middle, because names often differ only at
    the end (demo-annotator, demo-annotator2)."""
    return label if len(label) <= most else f"{label[:most // 2]}…{label[-(most - most // 2 - 1):]}"


def bar_chart(*, bars: Sequence[tuple[str, float]], title: str, y_label: str, x_label: str = "",
              width: int = 640, height: int = 260, reference: float | None = None,
              value_format: str = "{:g}", empty: str = "No data yet.") -> SafeString:
    """Vertical bars [(label, value)], each labelled below and titled with its value on hover; an optional
    dashed `reference` line (e.g. 0.5 for position bias)."""
    if not bars:
        return _empty(title=title, width=width, height=height, message=empty)
    top = max([v for _, v in bars] + [reference or 0])
    frame = _Frame(x_ticks=[0, len(bars)], y_ticks=nice_ticks(0, top or 1), width=width, height=height)
    every = max(1, math.ceil(len(bars) / 16))  # at most ~16 labels fit under the axis
    labels = [(i + 0.5, _short(label)) for i, (label, _) in enumerate(bars) if i % every == 0]
    parts = frame.axes(title=title, x_label=x_label, y_label=y_label, x_tick_labels=labels)
    step = frame.plot_w / len(bars)
    for i, (label, value) in enumerate(bars):
        y = frame.py(value)
        parts.append(f'<rect x="{frame.px(i) + step * 0.15:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" '
                     f'height="{frame.py(frame.y0) - y:.1f}" fill="{PALETTE[0]}"><title>{html.escape(label)}: '
                     f'{html.escape(value_format.format(value))}</title></rect>')
    if reference is not None:
        y = frame.py(reference)
        parts.append(f'<line x1="{frame.left}" x2="{frame.left + frame.plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'class="chart-diagonal"/>')
    return _svg(parts, width=width, height=height, title=title)


def win_rate_chart(*, rate: float, low: float, high: float, title: str, width: int = 640,
                   height: int = 120) -> SafeString:
    """A win rate (0..1) as a dot with its confidence interval as a bar, on a 0–100 % axis; the dashed
    line at 50 % is "no difference"."""
    left, right, y = MARGIN["left"], width - MARGIN["right"], height / 2 + 4

    def px(value: float) -> float:
        return left + min(max(value, 0.0), 1.0) * (right - left)

    parts = [f'<text x="{width / 2:.1f}" y="18" text-anchor="middle" class="chart-title">{html.escape(title)}</text>',
             f'<line x1="{left}" x2="{right}" y1="{y + 22:.1f}" y2="{y + 22:.1f}" class="chart-axis"/>']
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<text x="{px(tick):.1f}" y="{y + 38:.1f}" text-anchor="middle" class="chart-tick">{tick:.0%}</text>')
    parts.append(f'<line x1="{px(0.5):.1f}" x2="{px(0.5):.1f}" y1="{y - 24:.1f}" y2="{y + 22:.1f}" class="chart-grid" '
                 f'stroke-dasharray="4 3"/>')
    color = PALETTE[0]
    parts.append(f'<line x1="{px(low):.1f}" x2="{px(high):.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{color}" stroke-width="4"/>')
    for end in (low, high):
        parts.append(f'<line x1="{px(end):.1f}" x2="{px(end):.1f}" y1="{y - 7:.1f}" y2="{y + 7:.1f}" stroke="{color}" stroke-width="2"/>')
    parts.append(f'<circle cx="{px(rate):.1f}" cy="{y:.1f}" r="6" fill="{color}"/>')
    label = f"{rate:.1%} (95 % CI {low:.1%} – {high:.1%})"
    parts.append(f'<text x="{px(rate):.1f}" y="{y - 12:.1f}" text-anchor="middle" class="chart-legend">{html.escape(label)}</text>')
    return _svg(parts, width=width, height=height, title=title)
