"""Safe Markdown: what annotators see of untrusted text, and the word diff."""
from html.parser import HTMLParser

import pytest

from annotation.rendering import compare, markdown_to_safe_html
from annotation.templatetags.safe_markdown import safe_markdown


@pytest.mark.parametrize("payload", [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=1">',
    '<svg onload="window.__xss=1"></svg>',
    '<iframe src="https://evil.example"></iframe>',
    '<a href="https://ok.example" onclick="window.__xss=1">x</a>',
    '<div style="background:url(https://evil.example/t.png)">x</div>',
])
def test_raw_html_is_shown_as_text_never_as_markup(payload):
    html = markdown_to_safe_html(payload)
    tags, attributes = parsed(html)
    assert tags <= {"p", "a"}
    assert not {a for a in attributes if a.startswith("on") or a in {"style", "src"}}
    assert "&lt;" in html  # the annotator still sees what the model wrote


def parsed(html):
    """The tags and attribute names a browser would build from `html`."""
    class Collector(HTMLParser):
        tags, attributes = set(), set()

        def handle_starttag(self, tag, attrs):
            self.tags.add(tag)
            self.attributes.update(name for name, _ in attrs)
    collector = Collector()
    collector.tags, collector.attributes = set(), set()
    collector.feed(html)
    return collector.tags, collector.attributes


@pytest.mark.parametrize("link", ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<b>x</b>",
                                  "vbscript:msgbox(1)", "/accounts/logout/"])
def test_links_keep_only_http_https_and_mailto_targets(link):
    html = markdown_to_safe_html(f"[click]({link})")
    assert "href" not in html and "click" in html


def test_safe_links_open_in_a_new_tab_without_referrer_or_opener():
    html = markdown_to_safe_html("[docs](https://example.com/a) and <mailto:x@example.com>")
    assert 'href="https://example.com/a"' in html
    assert 'rel="noopener nofollow noreferrer"' in html and 'target="_blank"' in html
    assert "mailto:" in html


def test_images_become_their_alt_text_so_nothing_remote_loads():
    html = markdown_to_safe_html("![a cat](https://tracker.example/pixel.png)")
    assert "<img" not in html and "tracker.example" not in html
    assert "[image: a cat]" in html


def test_code_blocks_keep_their_language_and_escape_their_content():
    html = markdown_to_safe_html('```python\nprint("<b>hi</b>")\n```')
    assert '<pre><code class="language-python">' in html
    assert "&lt;b&gt;hi&lt;/b&gt;" in html


def test_formatting_and_tables_survive():
    html = markdown_to_safe_html("**bold** *it*\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n1. one\n2. two")
    for tag in ("<strong>", "<em>", "<table>", "<td>", "<ol>"):
        assert tag in html


def test_template_filter_marks_only_sanitized_output_safe():
    assert str(safe_markdown("<script>x</script>")) == "<p>&lt;script&gt;x&lt;/script&gt;</p>"
    assert safe_markdown(None) == ""


def test_word_diff_marks_only_the_changed_words_and_escapes_them():
    _, (old, new) = compare("The cat sat on the <mat>.", "The dog sat on the <mat>.", min_similarity=0)
    assert old == "The <del>cat</del> sat on the &lt;mat&gt;."
    assert new == "The <ins>dog</ins> sat on the &lt;mat&gt;."


def test_a_list_right_after_a_paragraph_renders_as_a_list_but_not_inside_code():
    from annotation.rendering import markdown_to_safe_html

    html = markdown_to_safe_html("**Notes:**\n- first\n- second\n\n```\ntext\n- not a list\n```")
    assert "<ul>\n<li>first</li>\n<li>second</li>\n</ul>" in html
    assert "- not a list" in html


def test_responses_that_are_not_near_identical_are_shown_rendered_and_safe():
    from annotation.selectors.workspace import responses_diff

    result = responses_diff(responses=[{"label": "A", "text": "Paris is the capital of France."},
                                       {"label": "B", "text": "<b>Bananas</b> grow on large herbs, not trees."}])
    assert result["similar"] is False
    assert [d["html"] for d in result["diffs"]] == ["<p>Paris is the capital of France.</p>",
                                                     "<p>&lt;b&gt;Bananas&lt;/b&gt; grow on large herbs, not trees.</p>"]


def test_long_repetitive_responses_still_get_a_word_diff():
    from annotation.selectors.workspace import responses_diff

    paragraph = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor. " * 3 + "\n\n"
    old = paragraph * 30
    new = old.replace("tempor.", "tempus.", 1)
    result = responses_diff(responses=[{"label": "A", "text": old}, {"label": "B", "text": new}])
    assert result["similar"] is True
    assert result["diffs"][0]["html"].count("<del>") == 1 and "<del>tempor.</del>" in result["diffs"][0]["html"]
    assert result["diffs"][1]["html"].count("<ins>") == 1 and "<ins>tempus.</ins>" in result["diffs"][1]["html"]
