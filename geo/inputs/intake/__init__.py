"""Intake: points, rasters, the Zensus grid and other areas become counts per finest area.

Each kind writes the long counts CSV (``area_id,year,variable,value``) that ``quartier build``
reads like any counts file, and ``<out>.provenance.json`` beside it. Modules, in the order data
flows through them:

- ``zones``: ``load_zones``, the finest areas in the boundary file's own CRS.
- ``table``: office CSV exports as text columns (encoding, separator, decimal comma, lines).
- ``points``: ``read_points``, ``count_points`` and the border rule (``assign_points``).
- ``coverage``: exact coverage fractions of grid cells by a polygon, block by block.
- ``raster``: ``raster_stats``, zonal sum, mean and share with exact area weighting.
- ``grid``: ``read_grid`` and ``apportion``, the Zensus grid tables.
- ``areas``: ``interpolate``, areal interpolation by area or a weight raster (dasymetric).
- ``output``: ``write_long``, the counts file; rounding of estimates.
- ``provenance``: ``Provenance``, ``write_provenance``, ``read_provenance``.
- ``command``: ``add_intake``, the ``quartier intake`` commands.
"""
