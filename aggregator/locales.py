"""The words of the article body, per site language, read from ``locales/<lang>.toml``.

A language is data, not code: adding one is adding a TOML file (in the package, or in the
site's ``locales_dir``, which also overrides a shipped language key by key).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from aggregator.errors import ConfigError

_PACKAGE_DIR = Path(__file__).with_name("locales")
_LANGUAGE_RE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")


@dataclass(frozen=True, slots=True)
class Labels:
    """Fixed text of the article body in one language."""

    summary_heading: str
    source_heading: str
    image_credit_label: str
    credit_line: str  # the credit paragraph, "{credit}" replaced; carries the colon spacing
    image_credit_template: str  # the default credit, "{sourceUrl}" replaced
    untitled: str = "Untitled"
    language: str = ""


def _read(path: Path) -> dict[str, str]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(path, None, f"cannot read language table: {err}") from err
    names = {f.name for f in fields(Labels)}
    out: dict[str, str] = {}
    for key, value in data.items():
        if key not in names or key == "language":
            raise ConfigError(path, key, "unknown label")
        if not isinstance(value, str):
            raise ConfigError(path, key, "must be a string")
        out[key] = value
    return out


def _load(language: str, extra_dir: Path | None) -> Labels:
    candidates = [language, language.replace("_", "-").split("-")[0]]
    values: dict[str, str] = {}
    found = False
    for name in dict.fromkeys(candidates):
        for folder in (_PACKAGE_DIR, extra_dir):
            if folder is None:
                continue
            path = folder / f"{name.lower()}.toml"
            if path.is_file():
                values.update(_read(path))
                found = True
        if found:
            break
    if not found:
        raise ConfigError(
            extra_dir or _PACKAGE_DIR, "site.language", f"no language table for {language!r}"
        )
    required = [f.name for f in fields(Labels) if f.name not in ("untitled", "language")]
    missing = [name for name in required if name not in values]
    if missing:
        raise ConfigError(
            extra_dir or _PACKAGE_DIR,
            "site.language",
            f"language table {language!r} lacks {', '.join(missing)}",
        )
    if "{credit}" not in values["credit_line"]:
        raise ConfigError(
            extra_dir or _PACKAGE_DIR,
            "site.language",
            f"credit_line of {language!r} must contain {{credit}}",
        )
    return Labels(language=language, **values)


def load_labels(language: str, extra_dir: Path | None = None) -> Labels:
    """Labels of ``language`` (``fr``, ``en``, ``fr-CA`` falls back to ``fr``).

    Raises ``ConfigError`` for an unknown or malformed language.
    """
    if not _LANGUAGE_RE.match(language or ""):
        raise ConfigError(
            extra_dir or _PACKAGE_DIR, "site.language", f"not a language code: {language!r}"
        )
    return _load(language, extra_dir)


__all__ = ["Labels", "load_labels"]
