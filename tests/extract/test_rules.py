"""Include/exclude/tag/importance rules."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from aggregator.extract.rules import apply_rules, compile_rule
from aggregator.model import Article, IdentityRule, Rule
from tests.extract.conftest import entry

ARTICLE = Article(
    title="Liver cancer ablation trial",
    date=datetime(2024, 3, 28, tzinfo=UTC),
    published_date="28 mars 2024",
    summary="A randomised trial of microwave ablation.",
    importance="",
    source_url="https://example.com/a",
    tags=("France", "Feed"),
    permalink="/papers/2024-03-28-x",
    image_url="",
    image_credit="",
    identity="https://example.com/a",
    identity_rule=IdentityRule.LINK,
    slug="x",
    local_date=date(2024, 3, 28),
)
ENTRY = entry(categories=("Oncology", "Sponsored"))


@pytest.mark.parametrize(
    ("rules", "kept"),
    [
        ((), True),
        ((Rule("include", "ABLATION"),), True),
        ((Rule("include", "cardiac"),), False),
        ((Rule("include", "cardiac"), Rule("include", "trial")), True),
        ((Rule("exclude", "sponsored"),), False),
        ((Rule("exclude", "sponsored", fields=("title", "summary")),), True),
        ((Rule("include", "trial"), Rule("exclude", "microwave")), False),  # exclude wins
        ((Rule("include", r"\babl\w+", regex=True),), True),
        ((Rule("include", r"^liver", regex=True, fields=("summary",)),), False),
    ],
)
def test_include_exclude(rules: tuple[Rule, ...], kept: bool) -> None:
    assert (apply_rules(ARTICLE, ENTRY, rules) is not None) is kept


def test_tag_and_importance() -> None:
    rules = (
        Rule("tag", "ablation", value="Ablation"),
        Rule("tag", "trial", value="Ablation"),  # no duplicate
        Rule("tag", "France", value="France"),  # no match: the feed tag is not a field
        Rule("tag", "oncology", fields=("categories",), value="Oncologie"),
        Rule("importance", "trial", value="high"),
        Rule("importance", "nothing", value="low"),
    )
    result = apply_rules(ARTICLE, ENTRY, rules)
    assert result is not None
    assert result.tags == ("France", "Feed", "Ablation", "Oncologie")
    assert result.importance == "high"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (Rule("include", "(unclosed", regex=True), "bad regular expression"),
        (Rule("keep", "x"), "unknown rule action"),
        (Rule("include", "x", fields=("body",)), "unknown rule field"),
        (Rule("include", ""), "empty rule pattern"),
        (Rule("tag", "x"), "needs a value"),
    ],
)
def test_compile_rule_rejects(rule: Rule, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compile_rule(rule)


def test_compile_rule_is_cached() -> None:
    rule = Rule("include", "x+", regex=True)
    assert compile_rule(rule) is compile_rule(Rule("include", "x+", regex=True))
