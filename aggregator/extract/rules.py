"""Configured include/exclude/tag/importance rules, applied to an extracted article."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from functools import lru_cache

from aggregator.model import Article, ParsedEntry, Rule

ACTIONS = frozenset({"include", "exclude", "tag", "importance"})
FIELDS = frozenset({"title", "summary", "categories"})
# A pattern is matched against text we cut to this size, so a pathological regex has a
# bounded input.
MAX_MATCHED_CHARS = 10_000

Matcher = Callable[[str], bool]


@lru_cache(maxsize=1024)
def compile_rule(rule: Rule) -> Matcher:
    """A predicate over text for ``rule``; raises ``ValueError`` naming what is wrong.

    The config loader calls this to validate rules; the cache makes later calls free.
    """
    if rule.action not in ACTIONS:
        raise ValueError(
            f"unknown rule action {rule.action!r} (expected one of {', '.join(sorted(ACTIONS))})"
        )
    unknown = [f for f in rule.fields if f not in FIELDS]
    if unknown or not rule.fields:
        raise ValueError(
            f"unknown rule field(s) {unknown or '(none)'} (expected {', '.join(sorted(FIELDS))})"
        )
    if not rule.pattern:
        raise ValueError("empty rule pattern")
    if rule.action in ("tag", "importance") and not rule.value.strip():
        raise ValueError(f"a {rule.action} rule needs a value")
    if rule.regex:
        try:
            compiled = re.compile(rule.pattern, re.IGNORECASE)
        except re.error as err:
            raise ValueError(f"bad regular expression {rule.pattern!r}: {err}") from err
        return lambda text: compiled.search(text[:MAX_MATCHED_CHARS]) is not None
    needle = rule.pattern.casefold()
    return lambda text: needle in text[:MAX_MATCHED_CHARS].casefold()


def _field_texts(article: Article, entry: ParsedEntry) -> dict[str, str]:
    return {
        "title": article.title,
        "summary": article.summary,
        "categories": "\n".join(entry.categories),
    }


def _matches(rule: Rule, texts: dict[str, str]) -> bool:
    matcher = compile_rule(rule)
    return any(matcher(texts[name]) for name in rule.fields)


def apply_rules(article: Article, entry: ParsedEntry, rules: Sequence[Rule]) -> Article | None:
    """The article with rule tags and importance applied, or ``None`` when filtered out.

    Exclude wins over include; when any include rule exists an article must match one.
    Tag rules append their value once; importance rules apply in order (the last match wins).
    """
    texts = _field_texts(article, entry)
    includes = [r for r in rules if r.action == "include"]
    if any(r.action == "exclude" and _matches(r, texts) for r in rules):
        return None
    if includes and not any(_matches(r, texts) for r in includes):
        return None
    tags = list(article.tags)
    importance = article.importance
    for rule in rules:
        if rule.action not in ("tag", "importance") or not _matches(rule, texts):
            continue
        value = " ".join(rule.value.split())
        if rule.action == "tag" and value not in tags:
            tags.append(value)
        elif rule.action == "importance":
            importance = value
    return dataclasses.replace(article, tags=tuple(tags), importance=importance)


__all__ = ["ACTIONS", "FIELDS", "apply_rules", "compile_rule"]
