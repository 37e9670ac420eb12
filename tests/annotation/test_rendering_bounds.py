"""Hostile model outputs: deep nesting, quadratic Markdown and huge diffs end as plain text, quickly,
and never as a 500 on the annotator's or the admin's page."""
import time

import pytest
from django.core.cache import cache
from django.urls import reverse

from annotation.rendering import _cache_key, compare, markdown_to_safe_html
from annotation.services.tasks import task_create
from tests import factories

NESTED_LIST = "\n".join("    " * i + "- item" for i in range(250))
NESTED_QUOTE = "\n".join("> " * i + "x" for i in range(400))
BRACKETS = "[" * 20000 + "a" + "]" * 20000
REPEATED = " ".join(f"w{i % 997}" for i in range(30000)), " ".join(f"w{(i * 7) % 997}" for i in range(30000))


@pytest.fixture(autouse=True)
def _cold():
    markdown_to_safe_html.cache_clear()


@pytest.mark.parametrize("text", [NESTED_LIST, NESTED_QUOTE, BRACKETS, "[a](" * 8000, "x" * 300_000])
def test_hostile_markdown_falls_back_to_escaped_plain_text_quickly(text):
    started = time.monotonic()
    html = markdown_to_safe_html(text + "<script>")
    assert time.monotonic() - started < 15  # unbounded: minutes, or a RecursionError
    assert html.startswith('<pre class="md-plain">') and "&lt;script&gt;" in html and "<script>" not in html


def test_ordinary_markdown_still_formats_and_deep_code_in_fences_is_no_nesting():
    code = "```\n" + "\n".join(" " * 4 * i + "x" for i in range(40)) + "\n```"
    assert "<strong>b</strong>" in markdown_to_safe_html("a **b**\n\n" + code)


def test_a_huge_repetitive_diff_is_skipped_quickly():
    started = time.monotonic()
    assert compare(*REPEATED, min_similarity=0.6) == (0.0, None)
    assert time.monotonic() - started < 5  # unbounded: about 20 s


def test_renderings_and_diffs_are_kept_in_the_shared_cache():
    markdown_to_safe_html("Some *text*")
    assert cache.get(_cache_key("md", "Some *text*")) == "<p>Some <em>text</em></p>"
    compare("a b c", "a b d", min_similarity=0.6)
    assert cache.get(_cache_key("diff", "a b c", "a b d", repr(0.6))) is not None


@pytest.mark.django_db
def test_pages_with_hostile_responses_render(client, project, annotator, project_admin):
    task = task_create(project=project, prompt=NESTED_QUOTE, responses=[NESTED_LIST, BRACKETS])
    client.force_login(annotator)
    assert client.get(reverse("annotate", kwargs={"project_id": project.pk})).status_code == 200
    client.force_login(project_admin)
    assert client.get(reverse("gold-task", args=[project.pk, task.pk])).status_code == 200
