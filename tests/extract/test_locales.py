"""Language tables: shipped, overridden, added, unknown."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.errors import ConfigError
from aggregator.locales import load_labels


def test_french() -> None:
    fr = load_labels("fr")
    assert fr.summary_heading == "L\u2019essentiel"
    assert fr.source_heading == "Lien source"
    assert fr.image_credit_label == "Crédit image"
    assert fr.credit_line.replace("{credit}", "X") == "*Crédit image : X*"
    assert fr.image_credit_template == (
        "Image de l\u2019article \u2014 droits possiblement réservés \u2014 {sourceUrl}"
    )


def test_english() -> None:
    en = load_labels("en")
    assert (en.summary_heading, en.source_heading) == ("Summary", "Source link")
    assert en.credit_line.replace("{credit}", "X") == "*Image credit: X*"
    assert en.image_credit_template == "Article image — rights may be reserved — {sourceUrl}"


def test_region_falls_back_to_language() -> None:
    assert load_labels("fr-CA").summary_heading == "L’essentiel"


def test_unknown_language() -> None:
    with pytest.raises(ConfigError) as info:
        load_labels("xx")
    assert info.value.key == "site.language"
    with pytest.raises(ConfigError):
        load_labels("../../etc/passwd")


def test_extra_dir_adds_and_overrides(tmp_path: Path) -> None:
    (tmp_path / "de.toml").write_text(
        'summary_heading = "Das Wichtigste"\nsource_heading = "Quelle"\n'
        'image_credit_label = "Bildnachweis"\ncredit_line = "*Bildnachweis: {credit}*"\n'
        'image_credit_template = "Artikelbild — {sourceUrl}"\n',
        encoding="utf-8",
    )
    (tmp_path / "fr.toml").write_text('summary_heading = "En bref"\n', encoding="utf-8")
    assert load_labels("de", tmp_path).source_heading == "Quelle"
    fr = load_labels("fr", tmp_path)
    assert fr.summary_heading == "En bref"
    assert fr.source_heading == "Lien source"


def test_bad_table(tmp_path: Path) -> None:
    (tmp_path / "es.toml").write_text("summary_heading = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_labels("es", tmp_path)
    (tmp_path / "it.toml").write_text('summary_heading = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="lacks"):
        load_labels("it", tmp_path)
