"""The fetch stage: polite, bounded, SSRF-guarded HTTP for feeds and article pages.

``Fetcher`` is the only entry point the pipeline needs; the address policies are exported
so that tests (and operators with an allow-list) can choose what counts as public.
"""

from __future__ import annotations

from aggregator.fetch.client import FEED_ACCEPT, PAGE_ACCEPT, Fetcher, utcnow
from aggregator.fetch.guard import (
    AddressBlocked,
    AddressPolicy,
    allow_all,
    is_public_address,
    strict_policy,
)

__all__ = [
    "FEED_ACCEPT",
    "PAGE_ACCEPT",
    "AddressBlocked",
    "AddressPolicy",
    "Fetcher",
    "allow_all",
    "is_public_address",
    "strict_policy",
    "utcnow",
]
