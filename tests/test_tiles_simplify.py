"""Tile geometry: per-zoom coverage simplification of only the areas that change, the packed
geometry a build sends between processes, and the string values of the MVT encoder."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import shapely

from geo.render.tiles.mvt import Messages, _field, _str_messages, _value_ids
from geo.render.tiles.simplify import (
    Packed,
    orient,
    simplify_zoom,
    smallest_corners,
    tolerance,
)


def _coverage(seeds: int = 120, cells: int = 48, cell: float = 40.0) -> np.ndarray:
    """A jagged coverage: a lattice of quadrilaterals (its nodes moved by amounts of every
    size, so corners of every size appear) given to the nearest of ``seeds`` random points,
    one area per seed, some with several parts; neighbours share their vertices exactly."""
    rng = np.random.default_rng(3)
    grid = np.stack(np.meshgrid(np.arange(cells + 1), np.arange(cells + 1), indexing="ij"),
                    axis=-1) * cell
    shift = rng.uniform(-1, 1, grid.shape) * 10 ** rng.uniform(-4, 0, grid.shape) * 0.4 * cell
    shift[[0, -1], :, 0] = 0  # straight outline
    shift[:, [0, -1], 1] = 0
    nodes = grid + shift
    pts = rng.uniform(0, cells * cell, (seeds, 2))
    parts: list[list[shapely.Geometry]] = [[] for _ in range(seeds)]
    for i in range(cells):
        for j in range(cells):
            quad = [nodes[i, j], nodes[i + 1, j], nodes[i + 1, j + 1], nodes[i, j + 1]]
            d = np.hypot(*(pts - np.mean(quad, axis=0)).T) + rng.normal(0, 2 * cell, seeds)
            parts[int(np.argmin(d))].append(shapely.Polygon(quad))
    geoms = [shapely.union_all(p) for p in parts if p]
    return np.asarray(shapely.make_valid(np.asarray(geoms)))


def _outline_area(geoms: np.ndarray) -> float:
    return float(shapely.area(shapely.coverage_union_all(geoms)))


@pytest.mark.parametrize("z", range(8, 19))
def test_each_zoom_is_a_gap_free_coverage_with_every_area(z: int) -> None:
    """At every zoom the simplified areas still tile the plane without gaps or overlaps,
    none vanishes, none gains a vertex, and exterior rings are clockwise (MVT y-down)."""
    geoms = _coverage()
    out = simplify_zoom(geoms, z)
    assert len(out) == len(geoms)
    assert not shapely.is_empty(out).any()
    assert bool(shapely.coverage_is_valid(out))  # no overlap, neighbours share edges exactly
    union = shapely.union_all(out)  # the fixture is a full square: no hole may open in it
    assert sum(len(p.interiors) for p in shapely.get_parts(union)) == 0
    assert (shapely.get_num_coordinates(out) <= shapely.get_num_coordinates(geoms)).all()
    exteriors = shapely.get_exterior_ring(shapely.get_parts(out))
    assert not shapely.is_ccw(exteriors).any()


def test_only_areas_with_a_small_corner_change() -> None:
    """Where few areas have a corner below the tolerance, only they are simplified and the
    others keep every vertex; the outline stays exactly as it was."""
    geoms = _coverage()
    corners = smallest_corners(geoms)
    subset_zooms = 0
    for z in range(8, 19):
        touched = corners <= 1.5 * tolerance(z) ** 2
        out = simplify_zoom(geoms, z)
        if 0 < touched.sum() <= len(geoms) / 2:
            subset_zooms += shapely.get_num_coordinates(out).sum() < \
                shapely.get_num_coordinates(geoms).sum()
            same = shapely.equals_exact(out[~touched], orient(geoms[~touched]), tolerance=0)
            assert same.all(), z
            assert _outline_area(out) == pytest.approx(_outline_area(geoms), rel=1e-12)
        if not touched.any():
            assert shapely.equals_exact(out, orient(geoms), tolerance=0).all(), z
    assert subset_zooms > 0  # the fixture reaches the subset path, and it removes vertices


def test_coarse_zoom_simplifies_and_precomputed_inputs_change_nothing() -> None:
    """A coarse zoom removes vertices; passing ``oriented`` and ``corners`` (as the ahead
    process does for all zooms) gives the same result as computing them per zoom."""
    geoms = _coverage()
    oriented, corners = orient(geoms), smallest_corners(geoms)
    assert shapely.get_num_coordinates(simplify_zoom(geoms, 8)).sum() < \
        shapely.get_num_coordinates(geoms).sum()
    for z in range(8, 19):
        plain = simplify_zoom(geoms, z)
        given = simplify_zoom(geoms, z, oriented=oriented, corners=corners)
        assert shapely.equals_exact(plain, given, tolerance=0).all(), z


def test_smallest_corner_is_the_vw_triangle() -> None:
    """The smallest corner of a square with a shallow bump is the bump's triangle."""
    bump = shapely.Polygon([(0, 0), (10, 0), (10, 10), (5, 10.2), (0, 10)])
    square = shapely.box(0, 0, 4, 4)
    assert smallest_corners(np.array([bump, square])) == pytest.approx([1.0, 8.0])


def test_packed_geometry_round_trips_exactly() -> None:
    """Polygons, holes and multipolygons come back with the same coordinates and types,
    also through pickle (the way back from the ahead process)."""
    holed = shapely.Polygon(shapely.box(0, 0, 10, 10).exterior.coords,
                            [shapely.box(2, 2, 3, 3).exterior.coords])
    multi = shapely.MultiPolygon([shapely.box(20, 0, 21, 1), shapely.box(22.125, 0, 23, 1 / 3)])
    geoms = np.array([holed, multi, shapely.box(-1e7, 5e6, -1e7 + 0.1, 5e6 + 0.1)])
    back = pickle.loads(pickle.dumps(Packed.pack(geoms))).unpack()
    assert shapely.equals_exact(back, geoms, tolerance=0).all()
    assert (shapely.get_type_id(back) == shapely.get_type_id(geoms)).all()
    assert len(Packed.pack(geoms[:0]).unpack()) == 0


def test_string_values_match_the_protobuf_fields() -> None:
    """String value messages encoded at once are those built field by field (lengths over
    127 bytes need two-byte varints; UTF-8 counts bytes)."""
    values = np.array(["a", "Öffentlich – ä", "x" * 127, "y" * 200, "z" * 20000, ""],
                      dtype=object)
    one_by_one = Messages.from_bytes([_field(4, _field(1, v.encode("utf-8"))) for v in values])
    at_once = _str_messages(values)
    assert at_once.data.tobytes() == one_by_one.data.tobytes()
    assert (at_once.offsets == one_by_one.offsets).all()


def test_empty_strings_and_missing_values_are_left_out() -> None:
    """None, NaN, pd.NA and "" are not values of a feature; other objects become text."""
    kind, mask, values = _value_ids(pd.Series(["a", None, np.nan, "", "b", pd.NA, 3],
                                              dtype=object))
    assert kind == "str"
    assert mask.tolist() == [True, False, False, False, True, False, True]
    assert values.tolist() == ["a", "b", "3"]
