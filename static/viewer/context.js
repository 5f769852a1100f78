/* The viewer's shared state: what is shown (state) and what was loaded for it. */
import { comparable } from "./years.js";

export const ctx = {
  catalogue: [],          // from /tiles/index.json
  state: {},              // g, l, i, y, m (classification), k (classes), cl (class scope), c (compare), src
  rows: new Map(),        // area_id -> value row of the current view (with rate0/status0 when comparing)
  parentRows: new Map(),  // parent area_id -> value row
  totalRow: null,
  legend: null,           // the style's legend of the shown level
  definition: null,       // the indicators API's record of the shown indicator (or null)
  areaParent: new Map(),  // area_id -> parent_id, learnt from tile features
  allYearsClasses: true,  // the server answers classes=all-years (else breaks per year)
};

export const geoOf = (id) => ctx.catalogue.find((g) => g.id === id) || ctx.catalogue[0];
export const indicators = (geo) => geo.themes.flatMap((t) => t.indicators.map((i) => ({ ...i, theme: t.name })));
export const indicatorOf = (geo, id) => indicators(geo).find((i) => i.id === id) || indicators(geo)[0];
export const levelOf = (geo, id) => geo.levels.find((l) => l.id === id) || geo.levels[geo.levels.length - 1];
export const parentLevel = (geo, id) => {
  const k = geo.levels.findIndex((l) => l.id === id);
  return k > 0 ? geo.levels[k - 1] : null;
};
export const yearsOf = (ind) => (ind.years && ind.years.length ? ind.years : [ind.latest_year]);

/** The shown geography, indicator and level. */
export function current() {
  const geo = geoOf(ctx.state.g);
  return { geo, ind: indicatorOf(geo, ctx.state.i), level: levelOf(geo, ctx.state.l),
           parent: parentLevel(geo, ctx.state.l) };
}

export const comparing = () => ctx.state.c !== null && ctx.state.c !== undefined;
export const canCompare = (ind, y) => comparable(yearsOf(ind), y).length > 0;
