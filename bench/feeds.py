"""Deterministic generator of realistic RSS 2.0 (WordPress) and Atom 1.0 feeds.

``generate(n_feeds, seed)`` returns one :class:`FeedSpec` per feed (numbered from 1);
``render(spec, version)`` returns the feed document as bytes.  A feed at version ``v``
shows the newest ``spec.n_entries`` entries of an ever-growing history in which every
version adds :data:`NEW_PER_VERSION` entries at the top, so a "changed" feed is the
previous document with a few new entries first and the oldest ones dropped.

Everything depends only on ``(seed, feed index, entry index, version)``: the same
arguments always give the same bytes, hence the same ETag and Last-Modified.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from typing import Any

NEW_PER_VERSION = 3
ATOM_SHARE = 0.15
SHARED_LINK_SHARE = 0.02
SHARED_POOL = 200
MIN_BYTES = 40_000
MAX_BYTES = 160_000
#: Entries are dated backwards from here (fixed, so output is deterministic).
EPOCH = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)

_WORDS = [
    "le",
    "la",
    "les",
    "un",
    "une",
    "des",
    "du",
    "de",
    "et",
    "à",
    "au",
    "aux",
    "en",
    "dans",
    "sur",
    "pour",
    "par",
    "avec",
    "sans",
    "sous",
    "entre",
    "ville",
    "région",
    "conseil",
    "maire",
    "projet",
    "travaux",
    "école",
    "marché",
    "festival",
    "association",
    "club",
    "saison",
    "équipe",
    "match",
    "victoire",
    "défaite",
    "public",
    "habitants",
    "commune",
    "département",
    "budget",
    "réunion",
    "semaine",
    "année",
    "mois",
    "jour",
    "soir",
    "matin",
    "week-end",
    "printemps",
    "été",
    "automne",
    "hiver",
    "nouveau",
    "nouvelle",
    "grand",
    "grande",
    "petit",
    "petite",
    "premier",
    "première",
    "dernier",
    "dernière",
    "annonce",
    "présente",
    "explique",
    "souligne",
    "rappelle",
    "propose",
    "organise",
    "accueille",
    "inaugure",
    "culture",
    "sport",
    "économie",
    "santé",
    "environnement",
    "transport",
    "logement",
    "emploi",
    "jeunesse",
    "patrimoine",
    "musée",
    "théâtre",
    "concert",
    "exposition",
    "bibliothèque",
    "médiathèque",
    "cinéma",
    "rue",
    "place",
    "quartier",
    "centre",
    "parc",
    "jardin",
    "rivière",
    "pont",
    "gare",
    "route",
    "piste",
    "vélo",
    "entreprise",
    "commerce",
    "artisan",
    "agriculteur",
    "producteur",
    "restaurant",
    "boulangerie",
    "élus",
    "citoyens",
    "bénévoles",
    "visiteurs",
    "élèves",
    "enseignants",
    "parents",
    "familles",
    "été",
    "a",
    "sont",
    "ont",
    "sera",
    "seront",
    "était",
    "doit",
    "peut",
    "fait",
    "faire",
    "mettre",
    "prendre",
    "très",
    "plus",
    "moins",
    "encore",
    "déjà",
    "toujours",
    "aussi",
    "bien",
    "mieux",
    "ainsi",
    "donc",
]

_FIRST = [
    "Marie",
    "Jean",
    "Pierre",
    "Sophie",
    "Luc",
    "Claire",
    "Paul",
    "Julie",
    "Marc",
    "Anne",
    "Louis",
    "Camille",
]
_LAST = [
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
]
_CATEGORIES = [
    "Actualités",
    "Culture",
    "Sport",
    "Économie",
    "Société",
    "Politique",
    "Environnement",
    "Éducation",
    "Santé",
    "Loisirs",
    "Agenda",
    "Portrait",
    "Tourisme",
    "Patrimoine",
    "Associations",
    "Transports",
]


def _build_paragraphs(count: int = 2000) -> list[str]:
    rng = random.Random(20261101)
    paras = []
    for _ in range(count):
        sentences = []
        for _ in range(rng.randint(3, 7)):
            words = rng.choices(_WORDS, k=rng.randint(8, 22))
            sentence = " ".join(words)
            sentences.append(sentence[0].upper() + sentence[1:] + ".")
        paras.append(escape(" ".join(sentences), quote=False))
    return paras


_PARAGRAPHS = _build_paragraphs()
_PARA_BYTES = [len(p.encode()) for p in _PARAGRAPHS]


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """What is needed to render one feed, at any version."""

    index: int
    seed: int
    kind: str  # "rss" or "atom"
    n_entries: int
    target_bytes: int
    site_name: str
    host: str

    @property
    def site_url(self) -> str:
        return f"https://{self.host}/"

    def path(self) -> str:
        return f"/feed/{self.index}.xml"


def generate(n_feeds: int, seed: int = 1, entries: int | None = None) -> list[FeedSpec]:
    """Describe ``n_feeds`` feeds numbered 1..n_feeds; ``entries`` fixes the entry count."""
    rng = random.Random(seed)
    specs = []
    for i in range(1, n_feeds + 1):
        kind = "atom" if rng.random() < ATOM_SHARE else "rss"
        n_entries = entries if entries is not None else rng.randint(20, 50)
        # Bytes per entry: full-content WordPress items weigh 2.5-6 KB.
        per_entry = rng.triangular(2_000, 5_000, 2_400)
        target = min(max(int(n_entries * per_entry), 45_000), 150_000)
        name = f"{rng.choice(_CATEGORIES)} {rng.choice(_LAST)} {i}"
        host = f"s{seed}-site{i:05d}.example"
        specs.append(FeedSpec(i, seed, kind, n_entries, target, name, host))
    return specs


def _entry_rng(spec: FeedSpec, j: int) -> random.Random:
    return random.Random(f"{spec.seed}/{spec.index}/{j}")


def entry_date(spec: FeedSpec, j: int) -> datetime:
    """Publication date of entry ``j`` (0 = oldest ever) of ``spec``; newer j is later."""
    # Entries every 6 hours; version bumps thus move the newest date forward.
    return EPOCH + timedelta(hours=6 * (j - 400), minutes=spec.index % 60)


def last_modified(spec: FeedSpec, version: int) -> datetime:
    return entry_date(spec, spec.n_entries + NEW_PER_VERSION * version - 1)


def etag(spec: FeedSpec, version: int) -> str:
    digest = hashlib.sha1(f"{spec.seed}/{spec.index}/{version}".encode()).hexdigest()[:20]
    return f'"{digest}"'


def _entry(spec: FeedSpec, j: int, per_entry_bytes: int) -> dict[str, object]:
    rng = _entry_rng(spec, j)
    title_words = rng.choices(_WORDS, k=rng.randint(5, 11))
    title = " ".join(title_words).capitalize() + f" ({spec.index}-{j})"
    published = entry_date(spec, j)
    slug = "-".join(title_words[:6]) + f"-{spec.index}-{j}"
    if rng.random() < SHARED_LINK_SHARE:
        # The same story syndicated by several sites: exercises cross-feed dedup.
        link = f"https://agence.example/depeche/{rng.randrange(SHARED_POOL)}/"
    else:
        link = f"https://{spec.host}/{published:%Y/%m/%d}/{slug}/"
    img = f"https://{spec.host}/wp-content/uploads/{published:%Y/%m}/photo-{spec.index}-{j}"
    paras = []
    size = 0
    figure = (
        f'<figure id="attachment_{j}" aria-describedby="caption-attachment-{j}" '
        f'style="width: 1024px" class="wp-caption aligncenter">'
        f'<img decoding="async" loading="lazy" class="size-large wp-image-{j}" '
        f'src="{img}-1024x683.jpg" alt="{escape(title)}" width="1024" height="683" '
        f'srcset="{img}-1024x683.jpg 1024w, {img}-300x200.jpg 300w, '
        f'{img}-768x512.jpg 768w, {img}.jpg 1200w" '
        f'sizes="(max-width: 1024px) 100vw, 1024px" />'
        f'<figcaption id="caption-attachment-{j}" class="wp-caption-text">'
        f"{escape(title)} &#8211; Photo {rng.choice(_FIRST)} {rng.choice(_LAST)}"
        f"</figcaption></figure>"
    )
    # ~2.4 KB of each item is markup, excerpt, footer and figure; fill the rest with text.
    with_figure = per_entry_bytes > 3_000 or rng.random() < 0.3
    overhead = 2_300 if spec.kind == "atom" else 3_000
    budget = per_entry_bytes - overhead + (0 if with_figure else 900)
    first = rng.randrange(len(_PARAGRAPHS))
    paras.append(f"<p>{_PARAGRAPHS[first]}</p>")
    size += _PARA_BYTES[first]
    while size < budget:
        k = rng.randrange(len(_PARAGRAPHS))
        paras.append(f"<p>{_PARAGRAPHS[k]}</p>")
        size += _PARA_BYTES[k] + 8
    if with_figure:
        paras.insert(min(2, len(paras)), figure)
    excerpt = " ".join(_PARAGRAPHS[first].split()[:55])
    return {
        "title": title,
        "link": link,
        "guid": f"https://{spec.host}/?p={1000 + j}",
        "published": published,
        "author": f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
        "categories": rng.sample(_CATEGORIES, k=rng.randint(1, 4)),
        "excerpt": excerpt,
        "content": "\n".join(paras),
        "image": f"{img}.jpg",
    }


def entry_indices(spec: FeedSpec, version: int) -> list[int]:
    """Entry indices present in the feed at ``version``, newest first."""
    newest = spec.n_entries + NEW_PER_VERSION * version - 1
    return list(range(newest, newest - spec.n_entries, -1))


def render(spec: FeedSpec, version: int = 0) -> bytes:
    """The feed document of ``spec`` at ``version`` (deterministic), 40-160 KB."""
    target = spec.target_bytes
    for _ in range(4):
        per_entry = target // spec.n_entries
        entries = [_entry(spec, j, per_entry) for j in entry_indices(spec, version)]
        if spec.kind == "atom":
            doc = _render_atom(spec, version, entries).encode()
        else:
            doc = _render_rss(spec, version, entries).encode()
        if MIN_BYTES + 2_000 <= len(doc) <= MAX_BYTES - 5_000:
            break
        # Markup overhead was mis-estimated: rescale the text budget and try again.
        wanted = min(max(spec.target_bytes, MIN_BYTES + 10_000), MAX_BYTES - 15_000)
        target = int(target * wanted / len(doc))
    return doc


def _render_rss(spec: FeedSpec, version: int, entries: list[dict[str, Any]]) -> str:
    site = spec.site_url
    name = escape(spec.site_name)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"\n'
        '\txmlns:content="http://purl.org/rss/1.0/modules/content/"\n'
        '\txmlns:wfw="http://wellformedweb.org/CommentAPI/"\n'
        '\txmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '\txmlns:atom="http://www.w3.org/2005/Atom"\n'
        '\txmlns:sy="http://purl.org/rss/1.0/modules/syndication/"\n'
        '\txmlns:slash="http://purl.org/rss/1.0/modules/slash/"\n'
        '\txmlns:media="http://search.yahoo.com/mrss/"\n\t>\n\n<channel>\n',
        f"\t<title>{name}</title>\n",
        f'\t<atom:link href="{site}feed/" rel="self" type="application/rss+xml" />\n',
        f"\t<link>{site}</link>\n",
        f"\t<description>Toute l&#039;actualité de {name}</description>\n",
        f"\t<lastBuildDate>{format_datetime(last_modified(spec, version))}</lastBuildDate>\n",
        "\t<language>fr-FR</language>\n",
        "\t<sy:updatePeriod>\n\thourly\t</sy:updatePeriod>\n",
        "\t<sy:updateFrequency>\n\t1\t</sy:updateFrequency>\n",
        "\t<generator>https://wordpress.org/?v=6.6.2</generator>\n",
    ]
    for e in entries:
        title = escape(e["title"])
        link = e["link"]
        cats = "".join(f"\t\t<category><![CDATA[{c}]]></category>\n" for c in e["categories"])
        description = (
            f"<p>{e['excerpt']} [&#8230;]</p>\n"
            f'<p>The post <a href="{link}">{title}</a> appeared first on '
            f'<a href="{site}">{name}</a>.</p>\n'
        )
        content = (
            e["content"] + f'\n<p>The post <a href="{link}">{title}</a> appeared first on '
            f'<a href="{site}">{name}</a>.</p>\n'
        )
        out.append(
            "\t<item>\n"
            f"\t\t<title>{title}</title>\n"
            f"\t\t<link>{link}</link>\n"
            f"\t\t<comments>{link}#respond</comments>\n"
            f"\t\t<dc:creator><![CDATA[{e['author']}]]></dc:creator>\n"
            f"\t\t<pubDate>{format_datetime(e['published'])}</pubDate>\n"
            f"{cats}"
            f'\t\t<guid isPermaLink="false">{e["guid"]}</guid>\n'
            f"\t\t<description><![CDATA[{description}]]></description>\n"
            f"\t\t\t\t\t\t\t\t\t\t<content:encoded><![CDATA[{content}]]></content:encoded>\n"
            f"\t\t\t\t\t<wfw:commentRss>{link}feed/</wfw:commentRss>\n"
            "\t\t<slash:comments>0</slash:comments>\n"
            f'\t\t<media:content url="{e["image"]}" medium="image" width="1200" height="800">\n'
            f'\t\t\t<media:title type="plain">{title}</media:title>\n'
            "\t\t</media:content>\n"
            "\t</item>\n"
        )
    out.append("\t</channel>\n</rss>\n")
    return "".join(out)


def _render_atom(spec: FeedSpec, version: int, entries: list[dict[str, Any]]) -> str:
    site = spec.site_url
    name = escape(spec.site_name)
    updated = last_modified(spec, version).isoformat()
    out = [
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr">\n',
        f'\t<title type="text">{name}</title>\n',
        f"\t<subtitle>Les dernières nouvelles de {name}</subtitle>\n",
        f"\t<updated>{updated}</updated>\n",
        f'\t<link rel="alternate" type="text/html" href="{site}" />\n',
        f'\t<link rel="self" type="application/atom+xml" href="{site}feed/atom/" />\n',
        f"\t<id>{site}feed/atom/</id>\n",
        '\t<generator uri="https://gohugo.io/">Hugo</generator>\n',
    ]
    for e in entries:
        title = escape(e["title"])
        cats = "".join(f'\t\t<category term="{c}" />\n' for c in e["categories"])
        out.append(
            "\t<entry>\n"
            f'\t\t<title type="html">{title}</title>\n'
            f'\t\t<link rel="alternate" type="text/html" href="{e["link"]}" />\n'
            f"\t\t<id>{e['guid']}</id>\n"
            f"\t\t<published>{e['published'].isoformat()}</published>\n"
            f"\t\t<updated>{e['published'].isoformat()}</updated>\n"
            f"\t\t<author><name>{e['author']}</name></author>\n"
            f"{cats}"
            f'\t\t<summary type="html">{escape("<p>" + e["excerpt"] + " [&#8230;]</p>")}'
            "</summary>\n"
            f'\t\t<content type="html" xml:base="{e["link"]}">{escape(e["content"])}</content>\n'
            "\t</entry>\n"
        )
    out.append("</feed>\n")
    return "".join(out)
