"""Which rule gives an entry its identity, and which URL it cites."""

from __future__ import annotations

import re

import pytest

from aggregator.extract.identity import entry_identity
from aggregator.model import IdentityRule
from tests.extract.conftest import entry


@pytest.mark.parametrize(
    ("fields", "identity", "rule", "source_url"),
    [
        (
            {"link": "https://Example.com/a?utm_source=rss", "guid": "https://example.com/?p=1"},
            "https://example.com/a",
            IdentityRule.LINK,
            "https://example.com/a",
        ),
        (
            {"link": "https://feedproxy.google.com/~r/x/1", "orig_link": "https://example.com/o"},
            "https://example.com/o",
            IdentityRule.LINK,
            "https://example.com/o",
        ),
        (
            {"link": "https://example.com/l", "orig_link": "not a url"},
            "https://example.com/l",
            IdentityRule.LINK,
            "https://example.com/l",
        ),
        (
            {"link": "javascript:alert(1)", "guid": "https://Example.com/g#x"},
            "https://example.com/g",
            IdentityRule.GUID,
            "https://example.com/g",
        ),
        (
            {"guid": "tag:example.com,2024:post-1"},
            "guid:tag:example.com,2024:post-1",
            IdentityRule.GUID,
            "",
        ),
        ({"guid": "  1234  "}, "guid:1234", IdentityRule.GUID, ""),
    ],
)
def test_identity_rules(
    fields: dict[str, str], identity: str, rule: IdentityRule, source_url: str
) -> None:
    assert entry_identity(entry(**fields)) == (identity, rule, source_url)


def test_hash_identity_is_stable_and_content_based() -> None:
    a = entry_identity(entry(title="T", summary="S"))
    b = entry_identity(entry(title="T", summary="S"))
    c = entry_identity(entry(title="T", summary="other"))
    assert a == b != c
    assert a[1] is IdentityRule.HASH and a[2] == ""
    assert re.fullmatch(r"hash:[0-9a-f]{32}", a[0])


def test_very_long_guid_is_hashed() -> None:
    identity, rule, _ = entry_identity(entry(guid="x" * 5000))
    assert rule is IdentityRule.GUID
    assert len(identity) < 100
