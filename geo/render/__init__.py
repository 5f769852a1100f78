"""Renderers of a published release: each takes a ``PublishedBuild`` and nothing rawer.

- ``classes``: class breaks, colour ramps, the colours of withheld and missing areas, legend
  labels and the German number format: one source for every map.
- ``tiles``: vector tiles (MVT in a PMTiles archive) and the archive reader.
- ``styles``: MapLibre styles (the viewer; QGIS reads them too).
- ``maps``: the Folium page and the PNG of one indicator.
- ``qgis``: QGIS layer styles inside the GeoPackage.
- ``gpkg``: the GeoPackage.

Import the module you need (``from geo.render import maps``): the renderers load heavy
libraries (Folium, matplotlib) that a build of tiles alone does not need.
"""
