"""Official boundary files that are not bundled: download them (``quartier fetch NAME``).

Some geographies in ``boundaries/`` ship only their manifest and catalogue because the boundary
file must come from its publisher. :func:`fetch_geography` downloads it with the standard
library (no network dependency); :func:`missing_files` tells ``build-all`` which bundled folders
are still templates.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from geo import __version__
from geo.errors import ManifestError, QuartierError

BOUNDARIES = Path(__file__).resolve().parents[2] / "boundaries"
"""The bundled geographies of a source checkout; default parent of a fetched file."""
TIMEOUT = 30.0
"""Seconds to wait for the server before giving up."""


class FetchError(QuartierError):
    """Raised when an official boundary file cannot be downloaded or is not what was expected."""


@dataclass(frozen=True)
class OfficialFile:
    """Where a geography's boundary file is published and the name the manifest expects."""

    url: str
    filename: str
    page: str
    licence: str


OFFICIAL_FILES: dict[str, OfficialFile] = {
    "wuppertal": OfficialFile(
        url="http://daten.wuppertal.de/Infrastruktur_Bauen_Wohnen/Quartiere_EPSG25832_SHAPE.zip",
        filename="Quartiere_EPSG25832_SHAPE.zip",
        page="https://www.offenedaten-wuppertal.de/dataset/quartiere-wuppertal",
        licence="Datenquelle: CC-BY-4.0 - Stadt Wuppertal - offenedaten-wuppertal.de",
    ),
}


def missing_files(folder: Path) -> list[str]:
    """Return the boundary files ``folder/geography.toml`` names that do not exist (sorted).

    An empty list means the folder can be built. A manifest that cannot be read also gives an
    empty list: the build then reports the manifest error itself.
    """
    from geo.inputs.geography import load_manifest

    folder = Path(folder)
    try:
        spec = load_manifest(folder)
    except ManifestError:
        return []
    missing = {
        level.file.relative_to(folder.resolve()).as_posix()
        for level in spec.levels
        if level.file is not None and not level.file.exists()
    }
    return sorted(missing)


def _check_zip(path: Path, official: OfficialFile) -> None:
    """Fail unless ``path`` is a zip holding a shapefile (servers answer errors with HTML)."""
    if not zipfile.is_zipfile(path):
        raise FetchError(
            f"{official.url} did not return a zip file (the address may have moved); "
            f"download {official.filename} from {official.page} by hand"
        )
    with zipfile.ZipFile(path) as archive:
        names = [n.lower() for n in archive.namelist()]
    if not any(n.endswith(".shp") for n in names):
        raise FetchError(f"{official.url}: the zip holds no shapefile (.shp)")


def fetch_geography(name: str, dest: Path | None = None) -> Path:
    """Download the official boundary file of geography ``name`` into ``dest``.

    Args:
        name: a key of :data:`OFFICIAL_FILES`, e.g. ``"wuppertal"``.
        dest: the geography folder; default ``boundaries/<name>`` of the source checkout.

    Returns:
        The path of the downloaded file (written atomically: a failed download leaves no file).

    Raises:
        FetchError: unknown name, no network, HTTP error or a response that is not a zip.
    """
    official = OFFICIAL_FILES.get(name)
    if official is None:
        known = ", ".join(sorted(OFFICIAL_FILES))
        raise FetchError(f"no official boundary file is known for '{name}' (known: {known})")
    folder = Path(dest) if dest is not None else BOUNDARIES / name
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / official.filename

    request = urllib.request.Request(
        official.url, headers={"User-Agent": f"quartier/{__version__} (+boundary fetch)"}
    )
    handle, temp_name = tempfile.mkstemp(prefix=".fetch-", suffix=".part", dir=folder)
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                    shutil.copyfileobj(response, out)
            except urllib.error.HTTPError as exc:
                raise FetchError(
                    f"cannot download {official.url}: HTTP {exc.code} {exc.reason}; "
                    f"the dataset page is {official.page}"
                ) from None
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise FetchError(
                    f"cannot download {official.url} ({reason}): no network? Download "
                    f"{official.filename} from {official.page} by hand and save it as {target}"
                ) from None
        _check_zip(temp, official)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return target
