"""Which key makes two versions of an entry the same article, and the URL we cite."""

from __future__ import annotations

import hashlib

from aggregator.extract.urls import canonical_url
from aggregator.model import IdentityRule, ParsedEntry

# Longer guids are hashed so the key stays indexable.
MAX_GUID_CHARS = 512


def entry_identity(entry: ParsedEntry) -> tuple[str, IdentityRule, str]:
    """``(identity, rule, source_url)`` of an entry.

    The link (FeedBurner's origLink first) in canonical form; else the guid (its canonical
    form when it is an http(s) URL, ``guid:<guid>`` otherwise); else a hash of the text.
    """
    for link in (entry.orig_link, entry.link):
        canonical = canonical_url(link) if link.strip() else ""
        if canonical:
            return canonical, IdentityRule.LINK, canonical
    guid = entry.guid.strip()
    if guid:
        canonical = canonical_url(guid) if guid.lower().startswith(("http:", "https:")) else ""
        if canonical:
            return canonical, IdentityRule.GUID, canonical
        if len(guid) > MAX_GUID_CHARS:
            guid = "sha256:" + hashlib.sha256(guid.encode("utf-8", "replace")).hexdigest()
        return f"guid:{guid}", IdentityRule.GUID, ""
    material = "\x1f".join(
        [entry.title.value, entry.summary.value, *(c.value for c in entry.content)]
    )
    digest = hashlib.sha256(material.encode("utf-8", "replace")).hexdigest()[:32]
    return f"hash:{digest}", IdentityRule.HASH, ""


__all__ = ["MAX_GUID_CHARS", "entry_identity"]
