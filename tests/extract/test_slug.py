"""Slugs are path-safe whatever the title (POLITENESS_AND_SECURITY.md 2.9)."""

from __future__ import annotations

import re
from datetime import date

import pytest

from aggregator.extract.slug import make_permalink, make_slug

_SAFE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Unifying IO globally: IASIOS reports", "unifying-io-globally-iasios-reports"),
        ("../../etc/passwd", "etc-passwd"),
        ("/abs/path", "abs-path"),
        ("a/b\\c", "a-b-c"),
        ("CON", "con"),
        ("evil\u202eexe.md", "evilexe-md"),
        ("Crédit à l’été", "credit-a-lete"),
        ("nul\x00byte", "nul-byte"),
    ],
)
def test_slug_table(title: str, expected: str) -> None:
    assert make_slug(title, "id") == expected


@pytest.mark.parametrize("title", ["..", "---", "....", "😀😀", "", "   "])
def test_empty_slug_falls_back_to_identity_hash(title: str) -> None:
    slug = make_slug(title, "https://example.com/a")
    assert re.fullmatch(r"[0-9a-f]{12}", slug)
    assert slug != make_slug(title, "https://example.com/b")


def test_long_title_cut_between_words() -> None:
    slug = make_slug("abcdefghij " * 30, "id")
    assert len(slug) <= 80
    assert _SAFE.fullmatch(slug)
    assert all(part == "abcdefghij" for part in slug.split("-"))


def test_cjk_is_transliterated_to_ascii() -> None:
    slug = make_slug("中文标题", "id")
    assert slug and _SAFE.fullmatch(slug)


def test_permalink() -> None:
    assert (
        make_permalink("/papers/{date}-{slug}", date(2024, 3, 28), "x-y")
        == "/papers/2024-03-28-x-y"
    )
    assert make_permalink("/{slug}/", date(2024, 1, 2), "s") == "/s/"
