"""{% load safe_markdown %} then {{ text|safe_markdown }}: Markdown rendered and sanitized with nh3."""
from django import template
from django.utils.safestring import mark_safe

from annotation.rendering import markdown_to_safe_html

register = template.Library()


@register.filter(name="safe_markdown")
def safe_markdown(text) -> str:
    # mark_safe is sound here: the HTML comes out of nh3 with an allow-list of tags and attributes.
    return mark_safe(markdown_to_safe_html(str(text or "")))
