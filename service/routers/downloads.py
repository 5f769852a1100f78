"""Downloads of a build's published files."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import FileResponse

from geo.errors import NotFoundError
from service.headers import cache_control
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


def router(store: BuildStore, settings: Settings) -> APIRouter:
    """Return the download routes."""
    r = APIRouter(tags=["Downloads"])

    def _file(geography: str, name: str, release: str | None) -> FileResponse:
        build, folder = store.located(geography, release)
        if name not in build.downloads:
            raise NotFoundError(f"'{name}' is not a download of '{geography}'")
        path = folder / name
        suffix = path.suffix
        filename = f"{geography}-{name}" if suffix != ".gpkg" else f"{geography}.gpkg"
        return FileResponse(
            path,
            media_type=MEDIA_TYPES.get(suffix, "application/octet-stream"),
            filename=filename,
            headers={
                "ETag": f'"{build.release_id}-{name}"',
                "Cache-Control": cache_control(settings.cache_seconds, release is not None),
                "X-Attribution": build.geography.attribution.encode("ascii", "replace").decode(),
            },
        )

    @r.get("/downloads/{geography}.gpkg", summary="GeoPackage einer Geografie (mit QGIS-Stilen)",
           operation_id="get_gpkg")
    def gpkg(geography: GeographyPath, release: ReleaseParam = None) -> FileResponse:
        """Download the build's GeoPackage with QGIS layer styles."""
        return _file(geography, "layers.gpkg", release)

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
