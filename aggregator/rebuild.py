"""Re-render every written article with the current settings, without fetching.

For after a change of language, body labels, credit template or permalink pattern. What an
article *is* (title, date, summary, tags, file name) is left as stored: those came from the
feed and the feed's configuration at the time, and the file name must not move under a
site that links to it. What *presentation* settings produce is recomputed:

- ``publishedDate`` in the site's language (for the article's stored day, so it keeps
  matching the file name even after a time zone change);
- ``permalink`` from the current pattern;
- ``imageCredit`` when it is one of our credit sentences (a credit the feed gave, a
  ``media:credit`` or a caption, is the publisher's and is kept);
- the body's headings and credit line, from the current labels.

A file is rewritten only when its bytes still hash to what we wrote last
(``rendered_hash``): an editor's change is never overwritten, only counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from aggregator.extract import MAX_CREDIT_CHARS, long_date, make_permalink, one_line
from aggregator.locales import Labels, load_labels
from aggregator.model import Article, Settings
from aggregator.render import render_article
from aggregator.store import Store
from aggregator.write import ArticleWriter, content_sha256

_PACKAGE_LOCALES = Path(__file__).resolve().parent / "locales"
# As extract.images: a credit sentence is cut at this length.
_MAX_CREDIT_CHARS = 4 * MAX_CREDIT_CHARS


@dataclass(frozen=True, slots=True)
class RebuildReport:
    rewritten: int = 0
    unchanged: int = 0
    edited: tuple[str, ...] = ()  # files an editor changed: left alone
    missing: tuple[str, ...] = ()  # files deleted since: not recreated

    @property
    def total(self) -> int:
        return self.rewritten + self.unchanged + len(self.edited) + len(self.missing)


def credit_templates(settings: Settings, labels: Labels) -> tuple[str, ...]:
    """Every credit sentence we may have written: each known language's, and the site's."""
    languages = {p.stem for p in _PACKAGE_LOCALES.glob("*.toml")}
    if settings.site.locales_dir is not None:
        languages |= {p.stem for p in settings.site.locales_dir.glob("*.toml")}
    templates = {labels.image_credit_template}
    for language in sorted(languages):
        try:
            templates.add(load_labels(language, settings.site.locales_dir).image_credit_template)
        except Exception:  # noqa: S112 - a broken extra table only means one template fewer
            continue
    if settings.site.image_credit is not None:
        templates.add(settings.site.image_credit)
    return tuple(sorted(templates))


def refreshed(
    article: Article, settings: Settings, labels: Labels, templates: Iterable[str]
) -> Article:
    """The article with the presentation fields the current settings give it."""
    site = settings.site
    credit = article.image_credit
    # As extraction wrote it (one line, cut), or as the page-image lookup did (verbatim).
    ours = {t.replace("{sourceUrl}", article.source_url) for t in templates}
    ours |= {one_line(t, _MAX_CREDIT_CHARS) for t in ours}
    if article.image_url and credit in ours:
        template = (
            site.image_credit if site.image_credit is not None else labels.image_credit_template
        )
        credit = one_line(template.replace("{sourceUrl}", article.source_url), _MAX_CREDIT_CHARS)
    return replace(
        article,
        published_date=long_date(article.local_date, site.language),
        permalink=make_permalink(site.permalink, article.local_date, article.slug),
        image_credit=credit,
    )


def rebuild(store: Store, writer: ArticleWriter, settings: Settings) -> RebuildReport:
    """Re-render every written entry; rewrite the files still exactly as we wrote them."""
    labels = load_labels(settings.site.language, settings.site.locales_dir)
    templates = credit_templates(settings, labels)
    rewritten = unchanged = 0
    edited: list[str] = []
    missing: list[str] = []
    after = 0
    while page := store.written_entries(after_id=after, limit=500):
        after = page[-1].id
        for entry in page:
            on_disk = writer.read(entry.file_name)
            if on_disk is None:
                missing.append(entry.file_name)
                continue
            if entry.rendered_hash is None or content_sha256(on_disk) != entry.rendered_hash:
                edited.append(entry.file_name)
                continue
            article = refreshed(entry.article, settings, labels, templates)
            data = render_article(article, labels).encode("utf-8")
            if data == on_disk:
                unchanged += 1
                continue
            digest = writer.write(entry.file_name, data)
            store.set_rendered_hash(entry.id, digest, article=article)
            rewritten += 1
    return RebuildReport(rewritten, unchanged, tuple(edited), tuple(missing))


__all__ = ["RebuildReport", "credit_templates", "rebuild", "refreshed"]
