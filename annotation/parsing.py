"""Parsing ids and counts typed by people (form fields, URL query strings, command arguments)."""
MAX_ID = 2**63 - 1  # a PostgreSQL bigint


def ascii_int(text) -> int | None:
    """The non-negative integer in `text` ("42", " 7 "), or None: no sign, no "²" or other Unicode
    digits that str.isdigit() accepts but int() rejects, nothing past a database bigint."""
    text = (text or "").strip() if isinstance(text, str) else ""
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= MAX_ID else None


class IdConverter:
    """URL converter `<id:name>`: like `<int:>`, but at most 18 digits, so an absurd id is a 404
    instead of an integer the database cannot hold (a 500)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(int(value))
