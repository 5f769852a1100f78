"""geo.inputs.fetch: downloading official boundary files and finding template folders."""

from __future__ import annotations

import shutil
import urllib.error
from pathlib import Path

import pytest

from geo.inputs import fetch
from geo.inputs.fetch import FetchError, OfficialFile, fetch_geography, missing_files

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_ZIP = ROOT / "tests/fixtures/wuppertal/FIXTURE_Quartiere_EPSG25832_SHAPE.zip"


def _serve(monkeypatch: pytest.MonkeyPatch, source: Path) -> OfficialFile:
    official = OfficialFile(url=source.resolve().as_uri(), filename="Quartiere_EPSG25832_SHAPE.zip",
                            page="https://example.invalid/dataset", licence="CC0")
    monkeypatch.setitem(fetch.OFFICIAL_FILES, "wuppertal", official)
    return official


def test_fetch_writes_the_official_file_name(tmp_path, monkeypatch):
    """A download lands in the folder under the name the manifest expects."""
    _serve(monkeypatch, FIXTURE_ZIP)
    path = fetch_geography("wuppertal", tmp_path)
    assert path == tmp_path / "Quartiere_EPSG25832_SHAPE.zip"
    assert path.read_bytes() == FIXTURE_ZIP.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_fetch_offline_names_the_url(tmp_path, monkeypatch):
    """Without network the error names the URL and the dataset page, and leaves no file."""
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(fetch.urllib.request, "urlopen", offline)
    url = fetch.OFFICIAL_FILES["wuppertal"].url
    with pytest.raises(FetchError, match="cannot download " + url.replace(".", r"\.")):
        fetch_geography("wuppertal", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_fetch_rejects_a_response_that_is_not_a_zip(tmp_path, monkeypatch):
    """An HTML error page instead of the zip is an error, not a broken boundary file."""
    page = tmp_path / "moved.html"
    page.write_text("<html>moved</html>")
    _serve(monkeypatch, page)
    dest = tmp_path / "wuppertal"
    with pytest.raises(FetchError, match="did not return a zip"):
        fetch_geography("wuppertal", dest)
    assert list(dest.iterdir()) == []


def test_fetch_unknown_geography(tmp_path):
    """An unknown name lists the geographies that can be fetched."""
    with pytest.raises(FetchError, match="known: wuppertal"):
        fetch_geography("atlantis", tmp_path)


def test_missing_files_after_fetch(tmp_path, monkeypatch):
    """missing_files lists the manifest's file until it is fetched, then nothing."""
    shutil.copy(ROOT / "boundaries/wuppertal/geography.toml", tmp_path / "geography.toml")
    assert missing_files(tmp_path) == ["Quartiere_EPSG25832_SHAPE.zip"]
    _serve(monkeypatch, FIXTURE_ZIP)
    fetch_geography("wuppertal", tmp_path)
    assert missing_files(tmp_path) == []


def test_missing_files_of_an_unreadable_manifest_is_empty(tmp_path):
    """A broken manifest is left to the build to report."""
    (tmp_path / "geography.toml").write_text("id = ")
    assert missing_files(tmp_path) == []
