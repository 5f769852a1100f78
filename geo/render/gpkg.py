"""The GeoPackage of a release: one layer per level (and the total) with the wide values.

The layers are in the geography's own CRS (``GeographyInfo.crs``, e.g. EPSG:25832 for
Wuppertal, EPSG:25833 for Berlin), as GIS staff measure and overlay them; ``read_build``
reprojects the shapes it reads back to EPSG:4326.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from geo.release import TOTAL, PublishedBuild, wide_values


def write_gpkg(published: PublishedBuild, path: Path) -> None:
    """Write ``layers.gpkg``: a layer per level with every indicator's latest published values,
    and ``indicator_values`` with every year (QGIS styles are added by ``geo.render.qgis``)."""
    description = published.geography.attribution
    if published.geography.notice:
        description += f" – {published.geography.notice}"
    for level in [TOTAL, *published.geography.level_ids]:
        wide = wide_values(published, level)
        shapes = published.shapes[level].set_index("area_id").reindex(wide["area_id"])
        frame = gpd.GeoDataFrame(wide.copy(), geometry=shapes.geometry.to_numpy(),
                                 crs=shapes.crs or "EPSG:4326")
        frame = frame.to_crs(published.geography.crs)
        for col in frame.columns:
            if frame[col].dtype == object and col != "geometry":
                frame[col] = frame[col].astype("string")
        pyogrio.write_dataframe(
            frame, path, layer=level, driver="GPKG", layer_options={"DESCRIPTION": description}
        )
    values = pd.DataFrame(published.values)
    # one column type: whole numbers, or the labels once pooled periods ("2021-2023") are in
    years = values["year"]
    text = any(isinstance(y, str) for y in years)
    values["year"] = years.map(str).astype("string") if text else years.astype("int64")
    pyogrio.write_dataframe(values, path, layer="indicator_values", driver="GPKG")
