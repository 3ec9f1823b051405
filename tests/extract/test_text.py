"""HTML to plain text: decoding, what never leaks, word separation, bounds."""

from __future__ import annotations

import random
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.extract import text as text_module
from aggregator.extract.text import _split_blocks, html_blocks, html_to_text, one_line, truncate


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("on <a href='x'>Interventional News</a>.", "on Interventional News."),
        ("a <em>b</em><strong>c</strong> <span>d</span>", "a bc d"),
        ("<p>one</p><p>two</p>", "one two"),
        ("one<br>two<br/>three", "one two three"),
        ("<ul><li>a</li><li>b</li></ul>", "a b"),
        ("<h1>T</h1><div>x</div><blockquote>q</blockquote>", "T x q"),
        ("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b c"),
        ("<figure><img src=x><figcaption>cap</figcaption></figure>end", "cap end"),
        ("[&#8230;] &amp; &lt;3 &eacute; &#x2019; &hellip;", "[…] & <3 é ’ …"),
        ("&lt;p&gt;double &amp;amp; escaped&lt;/p&gt;", "double & escaped"),
        ("&amp;lt;b&amp;gt;triple&amp;lt;/b&amp;gt;", "triple"),
        ("x<script>alert(1)</script>y", "xy"),
        ("x<style>p{}</style><template>t</template><noscript>n</noscript>y", "xy"),
        ("a<!-- comment -->b", "ab"),
        ("a\x00b\x07c\x85d\u2028e\u2029f", "a b c d e f"),
        ("  lots \n\t of   space  ", "lots of space"),
        ("AT&T, Q&A and 1 < 2 > 0", "AT&T, Q&A and 1 < 2 > 0"),
        ("<?xml version='1.0' encoding='utf-8'?><p>decl</p>", "decl"),
        ("&colon; HTML5 &NewLine;entities", ": HTML5 entities"),
        ("", ""),
        ("<p></p>", ""),
    ],
)
def test_html_to_text(markup: str, expected: str) -> None:
    assert html_to_text(markup) == expected


@pytest.mark.parametrize(
    "markup",
    [
        "&amp;amp;amp;amp;amp;amp;lt;p&amp;amp;amp;amp;amp;amp;gt;deep",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "<svg><script>alert(1)</script></svg><math><mtext><table><mglyph><style><img src=x>",
        "&lt;img src=x onerror=alert(1)&gt;",
        "x &#38;#38;#38;#60;b&#62;",
        "a &lt;b",
    ],
)
def test_no_markup_or_entities_survive(markup: str) -> None:
    text = html_to_text(markup)
    assert not re.search(r"<[A-Za-z/!?]", text)
    assert "&#" not in text and "&amp;" not in text and "&lt;" not in text


def test_blocks_are_paragraphs() -> None:
    assert html_blocks("<p>a <b>b</b></p>c<div>d</div>") == ["a b", "c", "d"]


def test_blocks_split_as_the_regexes_they_replaced() -> None:
    """``_split_blocks`` gives what the two regexes it replaced gave, for every kind of
    whitespace (``str.split`` and re's ``\\s`` agree on it) around block markers."""
    space_re = re.compile(r"[^\S\x1e]+")
    blocks_re = re.compile(r"\s*\x1e[\s\x1e]*")

    def reference(text: str) -> list[str]:
        return [b.strip() for b in blocks_re.split(space_re.sub(" ", text)) if b.strip()]

    spaces = [chr(c) for c in range(0x110000) if re.match(r"\s", chr(c))]
    assert len(spaces) >= 29 and all(c.isspace() for c in spaces)
    assert [chr(c) for c in range(0x110000) if chr(c).isspace()] == spaces
    alphabet = ["a", "bc", "\x1e", "\x1e", *spaces]
    rnd = random.Random(7)
    for _ in range(20_000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12)))
        assert _split_blocks(text) == reference(text), repr(text)


def parsed(markup: str) -> list[str]:
    """``html_blocks`` as it was before texts without markup skipped libxml2."""
    cut = text_module._CONTROL_RE.sub(" ", markup[: text_module.MAX_HTML_CHARS])
    return text_module._parsed_blocks(cut) if markup else []


def test_a_text_without_markup_reads_as_libxml2_reads_it() -> None:
    """Every code point but ``<`` and ``&`` (4,096 to a text, each between letters), a
    text of every kind of whitespace and control, and one as long as the cut."""
    points = [chr(c) for c in range(0x110000) if chr(c) not in "<&"]
    for start in range(0, len(points), 4096):
        markup = " ".join(f"a{c}b" for c in points[start : start + 4096])
        assert html_blocks(markup) == parsed(markup), hex(ord(points[start]))
    controls = "".join(chr(c) for c in range(0x100) if not chr(c).isprintable())
    for markup in (controls, f"x{controls}y\u2028z \ufeff", "\x1e".join("abc")):
        assert html_blocks(markup) == parsed(markup), repr(markup)
    long = "word, " * (text_module.MAX_HTML_CHARS // 5)
    assert html_blocks(long) == parsed(long)
    assert len(html_blocks(long)[0]) == text_module.MAX_HTML_CHARS  # ends on "word"


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="<&"), max_size=60))
def test_any_text_without_markup_reads_as_libxml2_reads_it(markup: str) -> None:
    assert html_blocks(markup) == parsed(markup)


def test_only_a_text_without_markup_skips_libxml2(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = text_module._parsed_blocks
    monkeypatch.setattr(text_module, "_parsed_blocks", lambda t: calls.append(t) or real(t))
    assert html_blocks("Plain title, > 1 — d\u2019accord") == ["Plain title, > 1 — d’accord"]
    assert calls == []
    assert html_blocks("a &amp; b") == ["a & b"]
    assert html_blocks("a <b>b</b>") == ["a b"]
    assert calls == ["a &amp; b", "a <b>b</b>"]


def test_huge_input_is_bounded() -> None:
    markup = "<p>" + "word &amp; <b>x</b> " * 600_000  # ~12 MB
    started = time.perf_counter()
    text = html_to_text(markup)
    assert time.perf_counter() - started < 3  # ~0.3 s measured; generous for slow CI
    assert len(text) < 1_000_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\nb\r\nc", "a b c"),
        ("a\x85b\u2028c\u2029d", "a b c d"),
        ("\ufeffbom", "bom"),
        ("evil\u202eexe", "evil exe"),
        ("tab\tand\x0bvt", "tab and vt"),
        ("e\u0301", "é"),
        ("😀 emoji", "😀 emoji"),
    ],
)
def test_one_line(text: str, expected: str) -> None:
    assert one_line(text) == expected


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("exactly ten", 11, "exactly ten"),
        ("the quick brown fox", 12, "the quick…"),
        ("the quick brown fox", 10, "the quick…"),
        ("the quick brown fox", 9, "the…"),
        ("word, another", 8, "word…"),
        ("Supercalifragilistic", 6, "Super…"),
    ],
)
def test_truncate(text: str, limit: int, expected: str) -> None:
    result = truncate(text, limit)
    assert result == expected
    assert len(result) <= limit


def test_one_line_cap_is_on_a_word_boundary() -> None:
    title = "word " * 100
    capped = one_line(title, 300)
    assert len(capped) <= 300
    assert capped.endswith("word…")
