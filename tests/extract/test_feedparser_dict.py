"""feedparser's dictionaries, read and deep-copied directly (``aggregator.parse``).

The aggregator replaces ``FeedParserDict.get``, ``__getitem__`` and ``__contains__`` by
methods that answer an ordinary key through ``keymap`` at once and leave every other key
to feedparser's own method, and gives the class a ``__deepcopy__`` doing what
``copy.deepcopy``'s reduce path does. These tests show the answers are feedparser's own:
key by key (values, exceptions and warnings), copy by copy, and for the whole corpus
(feedparser's test suite) parsed with and without them, with the aggregator's options
and with feedparser's defaults (its sanitizer and resolver run then, and read the
dictionaries too).
"""

from __future__ import annotations

import copy
import io
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import feedparser
import feedparser.util
import pytest

from aggregator.parse import FEEDPARSER_OPTIONS
from tests.extract.test_corpus import _files

FPD = feedparser.util.FeedParserDict
METHODS = ("__getitem__", "__contains__", "get", "has_key")
ABSENT = object()  # a default of get()


def _originals() -> dict[str, Any]:
    found = {name: getattr(FPD.__dict__[name], "original", None) for name in METHODS[:3]}
    found["has_key"] = found["__contains__"]
    return found


@pytest.fixture
def feedparser_own(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """Call it to put feedparser's own methods back (until the test ends)."""

    def restore() -> None:
        for name, original in _originals().items():
            monkeypatch.setattr(FPD, name, original)
        monkeypatch.delattr(FPD, "__deepcopy__")

    yield restore


def test_the_direct_lookups_are_in_place() -> None:
    originals = _originals()
    assert all(originals.values())
    for name in METHODS:
        assert FPD.__dict__[name] is not originals[name]
        assert originals[name].__module__ == "feedparser.util"
    assert FPD.__dict__["__deepcopy__"].__module__ == "aggregator.parse"


class _Str(str):
    """A str subclass: left to feedparser's methods."""


def _samples() -> list[FPD]:
    link = FPD(rel="enclosure", href="https://e.example/a.mp3", type="audio/mpeg")
    license_ = FPD(rel="license", href="https://l.example/")
    return [
        FPD(),
        FPD(
            title="t",
            summary="s",
            summary_detail=FPD(value="s", type="text/html"),
            subtitle="st",  # both targets of "description": the first one wins
            subtitle_detail=FPD(value="st"),
            id="urn:1",
            updated="2026-01-01",
            updated_parsed=time.gmtime(0),
            rights="r",
            href="h",
            links=[link, license_],
            tags=[FPD(term="a", scheme=None, label=None)],
        ),
        # Only the alias targets' second choices and the fallbacks to ``published``.
        FPD(subtitle="st", subtitle_detail=FPD(value="st"), published="p", tags=[]),
        FPD(published_parsed=time.gmtime(1), links=[], feed=FPD(title="f"), entries=[]),
        FPD(language=None, title="", id=0),  # present, with values that are false
        # Keys under their alias names as well as under their targets.
        FPD({"description": "d", "guid": "g", "url": "u", "channel": "c", "items": ["i"]}),
    ]


def _keys() -> list[Any]:
    keys: list[Any] = ["category", "enclosures", "license", "updated", "updated_parsed"]
    for alias, target in FPD.keymap.items():
        keys.append(alias)
        keys.extend(target if isinstance(target, list) else [target])
    keys += ["published", "published_parsed", "links", "tags", "value", "type", "language"]
    keys += ["nothing"]
    keys += ["", "term", "rel", "href", "title", "summary_detail", _Str("title"), _Str("guid")]
    keys += [1, None, ("title",), b"title", ["title"]]  # a list: unhashable
    return keys


def _outcome(call: Callable[[], Any]) -> tuple[Any, ...]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            answer: tuple[Any, ...] = ("value", call())
        except Exception as err:  # the exception is the answer compared
            answer = ("raised", type(err), err.args)
    return (*answer, [(w.category, str(w.message)) for w in caught])


def _all_outcomes() -> list[tuple[Any, ...]]:
    outcomes = []
    for d in _samples():
        for key in _keys():
            outcomes += [
                _outcome(lambda d=d, key=key: d[key]),
                _outcome(lambda d=d, key=key: key in d),
                _outcome(lambda d=d, key=key: d.has_key(key)),
                _outcome(lambda d=d, key=key: d.get(key)),
                _outcome(lambda d=d, key=key: d.get(key, ABSENT)),
            ]
            if isinstance(key, str) and key and not hasattr(dict, key):  # not d.items()
                outcomes.append(_outcome(lambda d=d, key=key: getattr(d, key)))
    return outcomes


def test_every_key_is_answered_as_feedparser_answers_it(
    feedparser_own: Callable[[], None],
) -> None:
    direct = _all_outcomes()
    feedparser_own()
    own = _all_outcomes()
    assert len(direct) == len(own) > 500
    differ = [(i, a, b) for i, (a, b) in enumerate(zip(direct, own, strict=True)) if a != b]
    assert not differ
    # The samples do reach every kind of answer.
    kinds = {(o[0], o[1] if o[0] == "raised" else None, bool(o[-1])) for o in own}
    assert {("value", None, False), ("raised", KeyError, False), ("value", None, True)} <= kinds
    assert ("raised", TypeError, False) in kinds


def test_a_subclass_keeps_its_own_lookup() -> None:
    class Upper(FPD):
        def __getitem__(self, key: Any) -> Any:
            return super().__getitem__(key.upper() if isinstance(key, str) else key)

    d = Upper(TITLE="t")
    assert (d.get("title"), "title" in d, d["title"]) == ("t", True, "t")


def _copies() -> list[Any]:
    """Deep copies of dictionaries of every shape feedparser makes, and a few it does not."""
    shared = FPD(term="a")
    cyclic = FPD(title="c")
    cyclic["self"] = cyclic
    with_attribute = FPD(value="v")
    with_attribute.note = ["an", "attribute"]  # lands in the instance's __dict__
    originals = [
        FPD(),
        FPD(type="text/html", language="fr", base="https://example.com/"),
        FPD({"description": "d", "guid": "g"}),  # set again through keymap when copied
        FPD(tags=[shared, shared], links=[FPD(rel="alternate", href="h")], n=1, t=(1, [2])),
        cyclic,
        with_attribute,
    ]
    copies = []
    for original in originals:
        duplicate = copy.deepcopy(original)
        nested = [v for v in duplicate.values() if isinstance(v, list)]
        copies.append(
            (
                type(duplicate),
                _normal(duplicate) if duplicate is not duplicate.get("self") else "cyclic",
                sorted(duplicate),
                dict(vars(duplicate)),
                [vars(duplicate)[k] is not v for k, v in vars(original).items()],
                duplicate is not original,
                duplicate.get("self") is duplicate,
                [[type(x).__name__ for x in v] for v in nested],
                # Shared inside the original, shared inside the copy, never with the original.
                [len({id(x) for x in v}) for v in nested],
                [
                    any(x is y for x in v for y in original.get(k, ()))
                    for k, v in duplicate.items()
                    if isinstance(v, list)
                ],
            )
        )
    return copies


def test_deep_copies_are_made_as_copy_deepcopy_makes_them(
    feedparser_own: Callable[[], None],
) -> None:
    direct = _copies()
    feedparser_own()
    assert "__deepcopy__" not in FPD.__dict__
    own = _copies()
    assert direct == own
    assert [c[1] for c in own][2] == {"summary": "d", "id": "g"}
    assert own[4][5] and (own[5][3], own[5][4]) == ({"note": ["an", "attribute"]}, [True])


def _normal(value: Any) -> Any:
    """A parse result made comparable: exceptions by type and text, dicts by items."""
    if isinstance(value, BaseException):
        return (type(value).__name__, str(value))
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normal(v) for v in value]
    return value


def _parse_all(bodies: list[bytes], options: dict[str, Any]) -> list[Any]:
    results = []
    for body in bodies:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = feedparser.parse(
                io.BytesIO(body),
                response_headers={"content-location": "https://example.com/feed.xml"},
                **options,
            )
        results.append(_normal(result))
    return results


def parse_corpus_twice(
    options: dict[str, Any], put_back: Callable[[], None]
) -> tuple[list[str], list[Any]]:
    """The corpus parsed as it is, then again after ``put_back()``: the files whose two
    results differ, and the second results."""
    files = _files()
    if not files:
        pytest.skip("feed corpus not found (set AGGREGATOR_CORPUS)")
    bodies = [p.read_bytes() for p in files]
    first = _parse_all(bodies, options)
    put_back()
    second = _parse_all(bodies, options)
    return [str(p) for p, a, b in zip(files, first, second, strict=True) if a != b], second


def assert_corpus_parses_the_same(options: dict[str, Any], put_back: Callable[[], None]) -> None:
    """Every corpus file parses to the same result before and after ``put_back()``, and
    more than 1,000 of them have entries (the corpus was really read)."""
    differ, second = parse_corpus_twice(options, put_back)
    assert not differ
    assert sum(bool(r.get("entries")) for r in second) > 1000


#: The aggregator's options, and feedparser's defaults (its sanitizer and resolver run then).
BOTH_OPTIONS = pytest.mark.parametrize(
    "options", [FEEDPARSER_OPTIONS, {}], ids=["aggregator", "defaults"]
)


@BOTH_OPTIONS
def test_the_corpus_parses_as_with_feedparser_own_lookups(
    options: dict[str, Any], feedparser_own: Callable[[], None]
) -> None:
    assert_corpus_parses_the_same(options, feedparser_own)
