/* Quartier viewer: MapLibre GL JS over the build's PMTiles archive, styles from /styles,
   numbers from /api (fallback: the build's values.csv). No request leaves this server
   unless the service is configured with a basemap. Plain ES modules, no build step:
   viewer/dom.js (DOM, words, numbers), years.js, data.js, context.js (shared state),
   details.js (an area's figures), table.js, panel.js (legend, definition, exports), search.js. */
import { canCompare, comparing, ctx, current, geoOf, indicatorOf, levelOf, parentLevel, yearsOf } from "./viewer/context.js";
import { definitionsFor, enc, fetchJSON, valuesFor } from "./viewer/data.js";
import { detailsNode, hint } from "./viewer/details.js";
import { $, fill, h, setWords, W } from "./viewer/dom.js";
import { renderDefinition, renderExports, renderLegend, setupExports } from "./viewer/panel.js";
import { setupSearch } from "./viewer/search.js";
import { markRow, renderTable, setupTable } from "./viewer/table.js";
import { comparable, comparison, yearKey } from "./viewer/years.js";

const SOURCE = "quartier";
const METHOD_ORDER = ["quantiles", "equal_interval", "fisher_jenks"];
const K_CHOICES = [3, 4, 5, 6, 7];
const DEFAULT_METHOD = "fisher_jenks";
const DEFAULT_K = 5;
const SCOPES = { year: "je Jahr", "all-years": "über alle Jahre" };
const phone = () => window.matchMedia("(max-width: 50rem)").matches;

const protocol = new pmtiles.Protocol();
maplibregl.addProtocol("pmtiles", protocol.tile);

let map = null;
let hovered = null;
let popup = null;
let viewSeq = 0;
let currentGeo = null;

// --- URL hash: the view as a shareable link --------------------------------------------
function readHash() {
  const p = new URLSearchParams(location.hash.slice(1));
  const out = { g: p.get("g"), l: p.get("l"), i: p.get("i"), y: yearKey(p.get("y")), c: yearKey(p.get("c")),
                cl: p.get("cl"), m: p.get("m"), k: p.get("k") ? Number(p.get("k")) : null,
                src: p.get("src") === "xyz" ? "xyz" : "pmtiles", camera: null };
  const m = (p.get("map") || "").split("/").map(Number);
  if (m.length === 3 && m.every(Number.isFinite)) out.camera = { zoom: m[0], center: [m[2], m[1]] };
  return out;
}

function writeHash() {
  if (!map) return;
  const s = ctx.state;
  const c = map.getCenter();
  let hash = `#g=${enc(s.g)}&l=${enc(s.l)}&i=${enc(s.i)}&y=${enc(s.y)}`
    + (comparing() ? `&c=${enc(s.c)}` : "") + (s.cl ? `&cl=${enc(s.cl)}` : "")
    + `&m=${enc(s.m)}&k=${s.k}`
    + `&map=${map.getZoom().toFixed(2)}/${c.lat.toFixed(5)}/${c.lng.toFixed(5)}`;
  if (s.src === "xyz") hash += "&src=xyz";
  if (location.hash !== hash) history.replaceState(null, "", hash);
}

const sameView = (a, b) => ["g", "l", "i", "y", "c", "cl", "m", "k"].every((key) => String(a[key] ?? "") === String(b[key] ?? ""));

// --- controls --------------------------------------------------------------------------------
function normalise(s) {
  const geo = geoOf(s.g);
  const ind = indicatorOf(geo, s.i);
  const level = levelOf(geo, s.l);
  const years = yearsOf(ind);  // only the years with data for this indicator
  let y = years.includes(s.y) ? s.y : ind.latest_year;
  let c = null;
  if (s.c !== null && s.c !== undefined) ({ y, c } = comparison(years, y, s.c));
  const m = METHOD_ORDER.includes(s.m) ? s.m : DEFAULT_METHOD;
  const k = K_CHOICES.includes(s.k) ? s.k : DEFAULT_K;
  const cl = s.cl in SCOPES && ctx.allYearsClasses ? s.cl : null;  // null: per year until the year changes
  return { g: geo.id, l: level.id, i: ind.id, y, c, cl, m, k, src: s.src || "pmtiles" };
}

function fillSelect(select, options, value) {
  select.replaceChildren(...options.map(([v, label, disabled]) => {
    const o = h("option", { value: String(v), disabled: Boolean(disabled) }, label);
    o.selected = String(v) === String(value);
    return o;
  }));
}

function renderControls() {
  const { geo, ind } = current();
  const s = ctx.state;
  fillSelect($("sel-geo"), ctx.catalogue.map((g) => [g.id, g.name]), geo.id);
  fillSelect($("sel-level"), geo.levels.map((l) => [l.id, `${l.name} (${l.count})`]), s.l);
  fillSelect($("sel-theme"), geo.themes.map((t) => [t.name, t.name]), ind.theme);
  const theme = geo.themes.find((t) => t.name === ind.theme);
  fillSelect($("sel-indicator"), theme.indicators.map((i) => [i.id, i.name]), ind.id);
  const single = !canCompare(ind, s.y);
  fillSelect($("sel-mode"), [["values", "Werte eines Jahres"],
                             ["change", single ? `${W.change} (nur ein Jahr mit Werten)` : W.change, single]],
             comparing() ? "change" : "values");
  fillSelect($("sel-year"), yearsOf(ind).map((y) => [y, String(y)]), s.y);
  $("lbl-year").textContent = comparing() ? "Jahr (bis)" : "Jahr";
  fillSelect($("sel-compare"), comparable(yearsOf(ind), s.y).map((y) => [y, String(y)]), s.c);
  document.querySelectorAll(".compare").forEach((el) => { el.hidden = !comparing(); });
  fillSelect($("sel-method"), METHOD_ORDER.map((m) => [m, W.methods[m] || m]), s.m);
  fillSelect($("sel-k"), K_CHOICES.map((k) => [k, String(k)]), s.k);
  fillSelect($("sel-scope"), Object.entries(SCOPES).filter(([v]) => v === "year" || ctx.allYearsClasses),
             s.cl || "year");
  // a change map has its own classes around 0: number and scope do not apply
  $("sel-k").disabled = comparing();
  $("sel-scope").disabled = comparing();
  $("geo-title").textContent = `${geo.name} · Release ${geo.release}`;
  const notice = $("notice");
  notice.hidden = !geo.notice;
  notice.textContent = geo.notice || "";
  $("source").textContent = `Quelle: ${geo.attribution}${geo.notice && !geo.attribution.includes(geo.notice) ? " – " + geo.notice : ""}`
    + (ctx.catalogue.basemap_attribution ? ` · Hintergrundkarte: ${ctx.catalogue.basemap_attribution}` : "");
}

function onControl(e) {
  const { geo, ind } = current();
  const s = ctx.state;
  const v = e.target.value;
  let fit = false;
  switch (e.target.id) {
    case "sel-geo": ctx.state = normalise({ g: v, src: s.src, m: s.m, k: s.k }); fit = true; break;
    case "sel-level": s.l = v; break;
    case "sel-theme": {
      const first = geo.themes.find((t) => t.name === v).indicators[0];
      ctx.state = normalise({ ...s, i: first.id, y: first.latest_year });
      break;
    }
    // keep the year (and the comparison) if the new indicator has data in it, else its latest
    case "sel-indicator": ctx.state = normalise({ ...s, i: v }); break;
    case "sel-mode": {
      if (v === "change") Object.assign(s, comparison(yearsOf(ind), s.y, null));
      else s.c = null;
      break;
    }
    case "sel-year":
      s.y = yearKey(v);
      if (comparing()) Object.assign(s, comparison(yearsOf(ind), s.y, s.c));
      else if (s.cl === null && ctx.allYearsClasses) s.cl = "all-years"; // two years' maps compare
      break;
    case "sel-compare": s.c = yearKey(v); break;
    case "sel-method": s.m = v; break;
    case "sel-k": s.k = Number(v); break;
    case "sel-scope": s.cl = v; break;
    default: return;
  }
  applyView({ fit }).catch(fail);
}

// --- map ---------------------------------------------------------------------------------------
function highlight(areaId) {
  if (!map || !map.getSource(SOURCE)) return;
  if (hovered !== null) map.setFeatureState({ source: SOURCE, sourceLayer: hovered.layer, id: hovered.id }, { hover: false });
  hovered = areaId ? { layer: ctx.state.l, id: areaId } : null;
  if (hovered) map.setFeatureState({ source: SOURCE, sourceLayer: ctx.state.l, id: areaId }, { hover: true });
}

function showDetails(areaId, name, live) {
  $("details").setAttribute("aria-live", live ? "polite" : "off"); // hovering should not flood screen readers
  fill("details", detailsNode(areaId, name));
}

// the popup stays inside the map: narrower than the screen, and the map pans if it sticks out
function keepInView(p) {
  const el = p.getElement();
  if (!el) return;
  const box = el.getBoundingClientRect();
  const frame = map.getContainer().getBoundingClientRect();
  const pad = 8;
  let dx = 0, dy = 0;
  if (box.left < frame.left + pad) dx = box.left - frame.left - pad;
  else if (box.right > frame.right - pad) dx = box.right - frame.right + pad;
  if (box.top < frame.top + pad) dy = box.top - frame.top - pad;
  else if (box.bottom > frame.bottom - pad) dy = box.bottom - frame.bottom + pad;
  if (dx || dy) map.panBy([dx, dy], { animate: false });
}

function openPopup(areaId, name, lngLat) {
  if (popup) popup.remove();
  const width = Math.min(352, map.getContainer().clientWidth - 24);
  popup = new maplibregl.Popup({ maxWidth: `${width}px`, focusAfterOpen: false })
    .setLngLat(lngLat).setDOMContent(detailsNode(areaId, name)).addTo(map);
  keepInView(popup);
}

/** Select an area: highlight, details, the table row; with lngLat also the popup. */
function selectArea(areaId, { name = null, lngLat = null } = {}) {
  highlight(areaId);
  showDetails(areaId, name, true);
  markRow(areaId);
  if (lngLat) openPopup(areaId, name, lngLat);
}

function featureAt(point) {
  const layers = [`${ctx.state.l}-nodata`].filter((id) => map.getLayer(id));
  const hit = map.queryRenderedFeatures(point, { layers })[0];
  if (hit) ctx.areaParent.set(String(hit.properties.area_id), hit.properties.parent_id);
  return hit;
}

function onMove(e) {
  const f = featureAt(e.point);
  map.getCanvas().style.cursor = f ? "pointer" : "";
  if (!f) { highlight(null); return; }
  const id = String(f.properties.area_id);
  if (!hovered || hovered.id !== id) {
    highlight(id);
    showDetails(id, f.properties.name, false);
  }
}

function onClick(e) {
  const f = featureAt(e.point);
  if (f) selectArea(String(f.properties.area_id), { name: f.properties.name, lngLat: e.lngLat });
}

const idle = () => new Promise((resolve) => { map.once("idle", resolve); map.triggerRepaint(); });

/** A search hit: its level, zoomed to its bounds, selected with its popup. */
async function pickArea(m) {
  if (m.level !== ctx.state.l) {
    ctx.state.l = m.level;
    await applyView();
  }
  let where = map.getCenter();
  if (m.bbox) {
    const [w, s, e, n] = m.bbox;
    map.fitBounds([[w, s], [e, n]], { padding: 40, maxZoom: 15, animate: false });
    where = new maplibregl.LngLat((w + e) / 2, (s + n) / 2);
  }
  await idle();
  selectArea(String(m.area_id), { name: m.name, lngLat: where });
}

// --- one view ----------------------------------------------------------------------------------
async function fetchStyle(geo, q) {
  const url = (query) => `/styles/${enc(geo.id)}/${enc(ctx.state.i)}.json?${query}`;
  try {
    const style = await fetchJSON(url(q));
    if (q.has("classes") && style.metadata["quartier:classes"] !== "all-years") throw new Error("classes");
    return style;
  } catch (err) {
    if (!q.has("classes")) throw err;
    // a server without classes=all-years: breaks per year, and the choice goes away
    ctx.allYearsClasses = false;
    ctx.state.cl = null;
    q.delete("classes");
    return fetchJSON(url(q));
  }
}

async function applyView({ fit = false } = {}) {
  const seq = ++viewSeq;
  document.body.dataset.ready = "false";
  const { geo, parent } = current();
  const s = ctx.state;
  renderControls();
  const q = new URLSearchParams({ level: s.l, year: String(s.y), method: s.m, k: String(s.k),
                                  source: s.src, v: geo.release });
  if (comparing()) q.set("compare", String(s.c));
  else if (s.cl === "all-years") q.set("classes", "all-years");
  const [style, vals, pvals, vals0, definitions] = await Promise.all([
    fetchStyle(geo, q),
    valuesFor(geo, s.i, s.y, s.l, s.c),
    parent ? valuesFor(geo, s.i, s.y, parent.id) : Promise.resolve([]),
    comparing() ? valuesFor(geo, s.i, s.c, s.l) : Promise.resolve([]),
    definitionsFor(geo),
  ]);
  if (seq !== viewSeq) return;
  const then = new Map(vals0.filter((r) => r.level === s.l).map((r) => [String(r.area_id), r]));
  ctx.rows = new Map(vals.filter((r) => r.level === s.l).map((r) => {
    const before = then.get(String(r.area_id));
    const row = comparing() ? { ...r, rate0: before?.rate ?? null, status0: before?.status ?? "missing" } : r;
    return [String(r.area_id), row];
  }));
  ctx.parentRows = new Map(pvals.filter((r) => parent && r.level === parent.id).map((r) => [String(r.area_id), r]));
  ctx.totalRow = vals.find((r) => r.level === "total") || null;
  ctx.legend = style.metadata["quartier:legend"];
  ctx.definition = definitions.get(s.i) || null;
  renderControls();  // the server may have taken the class scope away
  delete style.center; delete style.zoom;
  style.layers.push({
    id: "hover", type: "line", source: SOURCE, "source-layer": s.l,
    paint: { "line-color": "#000000", "line-width": ["case", ["boolean", ["feature-state", "hover"], false], 3, 0] },
  });
  const sameGeo = currentGeo === geo.id;
  currentGeo = geo.id;
  hovered = null;
  if (popup) { popup.remove(); popup = null; }
  map.setStyle(style, { diff: sameGeo });
  if (fit) map.fitBounds(geo.bounds, { padding: 20, animate: false });
  renderLegend();
  renderDefinition();
  renderExports();
  renderTable();
  fill("details", hint());
  writeHash();
  map.once("idle", () => { if (seq === viewSeq) document.body.dataset.ready = "true"; });
  map.triggerRepaint();
}

// --- phones: the panel is a bottom sheet under the map, folded until asked for -----------------
function setupSheet() {
  const toggle = $("sheet-toggle");
  const panel = $("panel");
  const fit = () => {
    document.documentElement.style.setProperty("--top-h", `${document.querySelector(".top").offsetHeight}px`);
    if (map) map.resize();
  };
  toggle.addEventListener("click", () => {
    const open = !panel.classList.contains("open");
    panel.classList.toggle("open", open);
    toggle.setAttribute("aria-expanded", String(open));
  });
  window.addEventListener("resize", fit);
  fit();
}

function fail(err) {
  console.warn(err);
  fill("details", h("p", { class: "hint" }, `Fehler: ${err.message || err}`));
}

async function init() {
  const index = await fetchJSON("/tiles/index.json");
  setWords(index.words);
  ctx.catalogue = index.geographies;
  ctx.catalogue.basemap_attribution = index.basemap_attribution;
  if (!ctx.catalogue.length) {
    fill("details", h("p", { class: "hint" }, "Keine Builds gefunden. ", h("code", {}, "make run"), " baut sie."));
    return;
  }
  const wanted = readHash();
  ctx.state = normalise(wanted);
  const geo = geoOf(ctx.state.g);
  const camera = wanted.camera ? { center: wanted.camera.center, zoom: wanted.camera.zoom }
    : { bounds: geo.bounds, fitBoundsOptions: { padding: 20 } };
  map = new maplibregl.Map({
    container: "map",
    style: { version: 8, sources: {}, layers: [] },
    ...camera,
    attributionControl: { compact: false },
    dragRotate: false,
    pitchWithRotate: false,
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
  // on a phone the attribution takes the whole bottom line: the scale goes to the top
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), phone() ? "top-left" : "bottom-left");
  map.touchZoomRotate.disableRotation();
  map.on("mousemove", onMove);
  map.on("mouseout", () => highlight(null));
  map.on("click", onClick);
  map.on("moveend", writeHash);
  $("controls").addEventListener("submit", (e) => e.preventDefault());
  document.querySelectorAll("#controls select").forEach((sel) => sel.addEventListener("change", onControl));
  setupTable({ select: (id) => selectArea(id), highlight });
  setupExports();
  setupSearch((m) => pickArea(m).catch(fail));
  window.addEventListener("hashchange", () => {
    const next = readHash();
    if (sameView(next, ctx.state)) return;
    const geoChanged = next.g !== ctx.state.g;
    ctx.state = normalise(next);
    if (next.camera) map.jumpTo(next.camera);
    applyView({ fit: geoChanged && !next.camera }).catch(fail);
  });
  window.quartier = { map, state: () => ({ ...ctx.state }), legend: () => ctx.legend, rows: () => ctx.rows,
                      popup: () => popup, definition: () => ctx.definition };
  setupSheet();
  map.on("load", () => applyView({ fit: false }).catch(fail));
}

init().catch(fail);
