"""{% load quality_format %}: the quality pages' numbers — shares as percents, intervals, p-values."""
from django import template

register = template.Library()


@register.filter
def percent(value, digits=1) -> str:
    """0.8234 → "82.3 %"; None → "—"."""
    return "—" if value is None else f"{value * 100:.{int(digits)}f} %"


@register.filter
def number(value, digits=3) -> str:
    return "—" if value is None else f"{value:.{int(digits)}f}"


@register.filter
def interval(pair, kind="number") -> str:
    """[low, high] → "[0.412, 0.655]" (or percents with kind="percent"); None → ""."""
    if not pair:
        return ""
    f = percent if kind == "percent" else (lambda v: f"{v:.1f}" if kind == "rating" else number(v))
    return f"[{f(pair[0])}, {f(pair[1])}]"


@register.filter
def p_value(value) -> str:
    if value is None:
        return "—"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


@register.filter
def get(mapping, key):
    return mapping.get(key) if mapping else None
