"""Downloads of a build's published files.

Only regular files the manifest lists, directly inside the build folder: a symlink (or
anything else) placed there is never followed. The saved file name says geography and
release (``mini-<release>-values.csv``), so downloads of two releases never mix up.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import FileResponse

from geo.errors import NotFoundError
from geo.release import GPKG_FILE
from service.headers import cache_control, content_disposition, header_text
from service.params import GeographyPath, ReleaseParam
from service.settings import Settings
from service.store import BuildStore

MEDIA_TYPES = {
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json",
    ".gpkg": "application/geopackage+sqlite3",
    ".pmtiles": "application/vnd.pmtiles",
    ".txt": "text/plain; charset=utf-8",
}


def _regular_file(folder: FilePath, name: str) -> tuple[FilePath, os.stat_result]:
    """``folder/name`` if it is a regular file directly in ``folder`` (no symlink), or 404."""
    path = folder / name
    try:
        info = os.lstat(path)
    except OSError:
        info = None
    inside = os.path.dirname(os.path.realpath(path)) == os.path.realpath(folder)
    if info is None or not stat.S_ISREG(info.st_mode) or not inside:
        raise NotFoundError(f"'{name}' is not a download of this build")
    return path, info


def download_name(geography: str, release: str, name: str) -> str:
    """The saved file name: ``<geography>-<release>-<name>`` (GeoPackage: ``.gpkg`` only)."""
    if name == GPKG_FILE:
        return f"{geography}-{release}.gpkg"
    return f"{geography}-{release}-{name}"


def router(store: BuildStore, settings: Settings) -> APIRouter:
    """Return the download routes."""
    r = APIRouter(tags=["Downloads"])

    def _file(geography: str, name: str, release: str | None) -> FileResponse:
        build, folder = store.located(geography, release)
        if name not in build.downloads:
            raise NotFoundError(f"'{name}' is not a download of '{geography}'")
        path, info = _regular_file(folder, name)
        filename = download_name(build.geography.id, build.release_id, name)
        return FileResponse(
            path,
            stat_result=info,
            media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"),
            headers={
                "Content-Disposition": content_disposition(filename),
                "ETag": f'"{build.release_id}-{name}"',
                "Cache-Control": cache_control(settings.cache_seconds, release is not None),
                "X-Attribution": header_text(build.geography.attribution),
                "X-Release-Id": header_text(build.release_id),
            },
        )

    @r.get("/downloads/{geography}.gpkg", summary="GeoPackage einer Geografie (mit QGIS-Stilen)",
           operation_id="get_gpkg")
    def gpkg(geography: GeographyPath, release: ReleaseParam = None) -> FileResponse:
        """Download the build's GeoPackage with QGIS layer styles."""
        return _file(geography, GPKG_FILE, release)

    @r.get("/downloads/{geography}/{name}", summary="Datei eines Builds",
           operation_id="get_download")
    def download(
        geography: GeographyPath,
        name: Annotated[str, Path(description="Dateiname, z. B. values.csv")],
        release: ReleaseParam = None,
    ) -> FileResponse:
        """Download one published file of a build (of one release with ``release=``)."""
        return _file(geography, name, release)

    return r
