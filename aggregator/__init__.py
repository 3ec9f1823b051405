"""aggregator: fetch RSS/Atom feeds and write each new entry once as a Markdown article."""

from __future__ import annotations

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/aggregator-project/aggregator"
USER_AGENT = f"aggregator/{__version__} (+{PROJECT_URL})"

__all__ = ["PROJECT_URL", "USER_AGENT", "__version__"]
