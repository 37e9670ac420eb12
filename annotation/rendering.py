"""Untrusted text (prompts, model outputs, instructions) to safe HTML, and word-level diffs.

Model outputs routinely contain HTML and script. Raw HTML in the Markdown source is escaped and
shown as text, and Markdown's output still goes through nh3:
only formatting tags survive, no scripts or styles, no event handlers, no images or other remote
loads (an image becomes its alt text), and links keep only http, https and mailto targets, open in
a new tab and carry rel="noopener nofollow noreferrer".

Hostile text is bounded: past VERDICT_RENDER_MAX_CHARS characters, VERDICT_RENDER_MAX_DEPTH levels of
list or quote nesting, or VERDICT_RENDER_TIME_LIMIT seconds of work (Python-Markdown is quadratic on
runs of "["), a text is shown as escaped plain text instead; diffs stop at VERDICT_DIFF_MAX_WORDS words
a side or the same time limit. Results are kept in the shared cache, keyed by a hash of the text, so
a task renders once for every process and annotator.
"""
import difflib
import hashlib
import html
import re
import threading
import time
from collections import Counter
from functools import lru_cache, wraps

import markdown
import nh3
from django.conf import settings
from django.core.cache import cache

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "dd", "div", "dl", "dt", "em", "h1", "h2", "h3",
    "h4", "h5", "h6", "hr", "i", "ins", "kbd", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "code": {"class"}, "td": {"align"}, "th": {"align"},
                      "ol": {"start"}, "abbr": {"title"}}
SAFE_URL = re.compile(r"^(https?://|mailto:)", re.IGNORECASE)
LANGUAGE_CLASS = re.compile(r"^language-[A-Za-z0-9_+#.-]{1,40}$")
_IMG = re.compile(r"<img\b[^>]*?\balt=\"([^\"]*)\"[^>]*>", re.IGNORECASE)
_MD_EXTENSIONS = ["fenced_code", "tables", "sane_lists"]


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    if attr == "href":
        return value if SAFE_URL.match(value.strip()) else None
    if attr == "class":
        return value if tag == "code" and LANGUAGE_CLASS.match(value) else None
    return value


def sanitize_html(raw_html: str) -> str:
    """Keeps formatting only; nothing that runs, loads or navigates somewhere unexpected."""
    raw_html = _IMG.sub(lambda m: f"[image: {m.group(1)}]", raw_html)
    return nh3.clean(
        raw_html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, attribute_filter=_attribute_filter,
        clean_content_tags={"script", "style", "iframe", "object", "embed", "template", "noscript", "svg", "math"},
        url_schemes={"http", "https", "mailto"}, link_rel="noopener nofollow noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}}, strip_comments=True,
    )


_local = threading.local()
_CACHE_SECONDS = 7 * 24 * 3600


class TooComplex(Exception):
    """The text would take too long to format; it is shown as plain text."""


def _deadline_checked(method):
    """Python-Markdown's slow cases are many cheap calls (one per "[", per block): checking the clock
    before each call bounds the whole conversion."""
    @wraps(method)
    def checked(*args, **kwargs):
        if time.monotonic() > _local.deadline:
            raise TooComplex
        return method(*args, **kwargs)
    return checked


def _markdown() -> markdown.Markdown:
    # Markdown instances are not thread-safe; one per thread, reset between documents.
    md = getattr(_local, "md", None)
    if md is None:
        md = markdown.Markdown(extensions=_MD_EXTENSIONS, output_format="html")
        # Raw HTML in a model's answer is shown as the text it is, not interpreted: annotators judge
        # what the model wrote. (nh3 below would make it harmless anyway.)
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        for pattern in md.inlinePatterns:
            pattern.handleMatch = _deadline_checked(pattern.handleMatch)
        for processor in md.parser.blockprocessors:
            processor.run = _deadline_checked(processor.run)
        _local.md = md
    return md.reset()


def _nesting(text: str) -> int:
    """The deepest list/code indentation (in 4-space steps) or blockquote level of any line outside
    fenced code (whose lines are never parsed)."""
    deepest, in_fence = 0, False
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        if in_fence:
            continue
        stripped = line.lstrip(" \t>")
        prefix = line[:len(line) - len(stripped)]
        depth = max(prefix.count(">"), len(prefix.replace("\t", "    ").replace(">", "")) // 4)
        deepest = max(deepest, depth)
    return deepest


def plain_text_html(text: str) -> str:
    """The fallback: the text exactly as written, escaped, line breaks kept."""
    return f'<pre class="md-plain">{html.escape(text)}</pre>'


def _cache_key(kind: str, *parts: str) -> str:
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return f"verdict:{kind}:v1:{digest}"


_LIST_ITEM = re.compile(r"^ {0,3}([-*+]|\d{1,9}[.)])\s+\S")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def _lists_interrupt_paragraphs(text: str) -> str:
    """Python-Markdown needs a blank line before a list; model outputs (and CommonMark) don't."""
    out, in_fence, prev = [], False, ""
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        elif (not in_fence and _LIST_ITEM.match(line) and prev.strip() and not prev[0].isspace()
              and not _LIST_ITEM.match(prev)):
            out.append("")
        out.append(line)
        prev = line
    return "\n".join(out)


@lru_cache(maxsize=4096)
def markdown_to_safe_html(text: str) -> str:
    """Markdown with fenced code and tables, sanitized; plain text when the text is too large, too
    deeply nested or too slow to format. Cached here and in the shared cache: the same response
    renders often."""
    if not text:
        return ""
    key = _cache_key("md", text)
    rendered = cache.get(key)
    if rendered is None:
        rendered = _render(text)
        cache.set(key, rendered, _CACHE_SECONDS)
    return rendered


def _render(text: str) -> str:
    if len(text) > settings.VERDICT_RENDER_MAX_CHARS or _nesting(text) > settings.VERDICT_RENDER_MAX_DEPTH:
        return plain_text_html(text)
    _local.deadline = time.monotonic() + settings.VERDICT_RENDER_TIME_LIMIT
    try:
        return sanitize_html(_markdown().convert(_lists_interrupt_paragraphs(text)))
    except (TooComplex, RecursionError):
        _local.md = None  # interrupted mid-document: start the next one from a fresh instance
        return plain_text_html(text)


_TOKEN = re.compile(r"\S+\s*|\s+")  # words with their trailing space: fewer, rarer tokens than splitting on spaces
_EXACT_DIFF_MAX_WORK = 1_000_000


class _BoundedMatcher(difflib.SequenceMatcher):
    """Stops (TooComplex) once the time limit is spent: matching calls this once per block found."""

    def find_longest_match(self, *args, **kwargs):
        if time.monotonic() > self.deadline:
            raise TooComplex
        return super().find_longest_match(*args, **kwargs)


def _matcher(old: str, new: str) -> difflib.SequenceMatcher:
    """A word-level matcher. Exact matching costs about sum over a's words of their count in b per
    pass, which explodes for long texts made of a few repeated words ("ha ha ha ..."): past a bound
    the matcher stops using very frequent words as anchors (difflib's autojunk), which keeps it fast
    and at worst reports such texts as not near-identical."""
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    in_b = Counter(b)
    work = sum(in_b[token] for token in a)
    if max(len(a), len(b)) > settings.VERDICT_DIFF_MAX_WORDS:
        raise TooComplex
    matcher = _BoundedMatcher(None, a, b, autojunk=work > _EXACT_DIFF_MAX_WORK)
    matcher.deadline = time.monotonic() + settings.VERDICT_RENDER_TIME_LIMIT
    return matcher


def _marked(matcher: difflib.SequenceMatcher) -> tuple[str, str]:
    """Both sides as escaped HTML with the words only one of them has marked <del> / <ins>."""
    a, b = matcher.a, matcher.b
    left, right = [], []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        old_part, new_part = html.escape("".join(a[i1:i2])), html.escape("".join(b[j1:j2]))
        if op == "equal":
            left.append(old_part)
            right.append(new_part)
            continue
        if old_part:
            left.append(_mark("del", old_part))
        if new_part:
            right.append(_mark("ins", new_part))
    return "".join(left), "".join(right)


def _mark(tag: str, part: str) -> str:
    """<tag>words</tag> with the trailing space left outside the mark."""
    words = part.rstrip()
    return f"<{tag}>{words}</{tag}>{part[len(words):]}" if words else f"<{tag}>{part}</{tag}>"


def compare(old: str, new: str, *, min_similarity: float) -> tuple[float, tuple[str, str] | None]:
    """(similarity 0..1, the word diff or None below `min_similarity`), from one matcher: cheap upper
    bounds first so very different texts cost little, and the diff reuses the matching done for
    the similarity. Texts too long or too slow to compare count as not similar (0.0, None). Cached
    in the shared cache."""
    key = _cache_key("diff", old, new, repr(min_similarity))
    known = cache.get(key)
    if known is None:
        known = _compare(old, new, min_similarity=min_similarity)
        cache.set(key, known, _CACHE_SECONDS)
    ratio, marked = known
    return ratio, (tuple(marked) if marked else None)


def _compare(old: str, new: str, *, min_similarity: float) -> tuple[float, tuple[str, str] | None]:
    try:
        matcher = _matcher(old, new)
        ratio = matcher.ratio() if matcher.real_quick_ratio() > 0.5 and matcher.quick_ratio() > 0.5 else 0.0
        return ratio, (_marked(matcher) if ratio >= min_similarity else None)
    except TooComplex:
        return 0.0, None
