"""Path-safe slugs and permalinks (POLITENESS_AND_SECURITY.md 2.9)."""

from __future__ import annotations

import hashlib
from datetime import date

from slugify import slugify

MAX_SLUG_CHARS = 80


def make_slug(title: str, identity: str) -> str:
    """``[a-z0-9-]`` only, at most 80 characters cut between words; a hash of the identity
    when the title has no Latin-transliterable letters (emoji-only, ``..``).
    """
    # The backend is named, not "auto": auto retries importing the optional (GPL) Unidecode
    # on every call, which costs a failed module search each time, and would change every
    # non-ASCII slug, so file names, on a machine where someone installed it.
    slug: str = slugify(
        title,
        max_length=MAX_SLUG_CHARS,
        word_boundary=True,
        lowercase=True,
        backend="text-unidecode",
    )
    if not slug:
        slug = hashlib.sha256(identity.encode("utf-8", "replace")).hexdigest()[:12]
    return slug


def make_permalink(pattern: str, local_date: date, slug: str) -> str:
    """The site path of an article: ``pattern`` with ``{date}`` and ``{slug}`` filled in.

    Kept apart so the store can call it again after disambiguating a colliding slug.
    """
    return pattern.replace("{date}", local_date.isoformat()).replace("{slug}", slug)


__all__ = ["MAX_SLUG_CHARS", "make_permalink", "make_slug"]
