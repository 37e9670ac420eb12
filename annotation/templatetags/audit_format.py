"""{% load audit_format %}: an audit event's stored detail as people and scripts read it."""
import json

from django import template

register = template.Library()


@register.filter
def as_json(value) -> str:
    """JSON text (true, null, double quotes), not Python's repr (True, None); the template escapes it."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
