"""Where the shared third-party corpus is, and which of its files are OPML candidates.

The corpus is read-only input written by nobody on the team (see its README); tests
never modify it. Its location: ``$AGGREGATOR_CORPUS``, else ``<repo root>/../shared/corpus``,
else ``/work/shared/corpus``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# Sources whose every data file is an OPML candidate, whatever the manifest sniffed:
# listparser's RDF/FOAF and malformed documents must be refused cleanly, not crash.
OPML_SOURCES = (
    "kurtmckee__listparser",
    "plenaryapp__awesome-rss-feeds",
    "Ranchero-Software__NetNewsWire",
    "stringer-rss__stringer",
    "newsboat__newsboat",
    "nkanaev__yarr",
)


def find_corpus() -> Path | None:
    """The corpus folder, or None when this checkout has none."""
    candidates = []
    if env := os.environ.get("AGGREGATOR_CORPUS"):
        candidates.append(Path(env))
    candidates += [REPO_ROOT.parent / "shared" / "corpus", Path("/work/shared/corpus")]
    for candidate in candidates:
        if (candidate / "MANIFEST.tsv").is_file():
            return candidate
    return None


def opml_candidates(corpus: Path) -> list[Path]:
    """Manifest rows of kind ``opml`` plus every data file of the OPML sources."""
    files: set[Path] = set()
    lines = (corpus / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    for line in lines[1:]:
        row = dict(zip(header, line.split("\t"), strict=True))
        if row["kind"] == "opml":
            # local_path names the machine the manifest was made on; rebuild it here.
            files.add(corpus / row["source_repo"].replace("/", "__") / row["path_in_repo"])
    for source in OPML_SOURCES:
        for path in (corpus / source).rglob("*"):
            if path.is_file() and not path.name.lower().startswith(("license", "licence")):
                files.add(path)
    return sorted(files)


@pytest.fixture(scope="session")
def corpus() -> Path:
    found = find_corpus()
    if found is None:
        pytest.skip("third-party corpus not found (set AGGREGATOR_CORPUS)")
    return found


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "corpus_opml_file" in metafunc.fixturenames:
        found = find_corpus()
        files = opml_candidates(found) if found else []
        metafunc.parametrize(
            "corpus_opml_file",
            files,
            ids=[str(f.relative_to(found)) for f in files] if found else [],
        )
