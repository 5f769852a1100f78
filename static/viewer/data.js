/* Numbers and definitions from the API; the build's values.csv when the API is not there. */
import { yearKey } from "./years.js";

export async function fetchJSON(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.json();
}

export const enc = encodeURIComponent;

function parseCSV(text) {
  const out = [];
  let row = [], field = "", quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(field); field = ""; }
    else if (c === "\n") { row.push(field); out.push(row); row = []; field = ""; }
    else if (c !== "\r") field += c;
  }
  if (field || row.length) { row.push(field); out.push(row); }
  const head = out.shift() || [];
  const num = new Set(["numerator", "denominator", "rate", "ci_low", "ci_high"]);
  // values.csv of the build carries no parent_id; the areas are joined from the tiles
  return out.map((r) => Object.fromEntries(head.map((h, k) => {
    const v = r[k] ?? "";
    if (v === "") return [h, null];
    if (h === "year") return [h, yearKey(v)];
    if (num.has(h)) return [h, Number(v)];
    if (h === "reliable") return [h, v === "True" || v === "true"];
    return [h, v.replace(/^'(?='*[=+\-@\t\r])/, "")]; // the build's formula guard, undone
  })));
}

const csvCache = new Map();

/** The value rows of one indicator, year and level (and the total's); with compare, each row
    also has change, change_ci_low, change_ci_high and change_direction (API only). */
export async function valuesFor(geo, indicator, year, level, compare = null) {
  const q = new URLSearchParams({ indicator, year: String(year), level, format: "json" });
  if (compare !== null && compare !== undefined) q.set("compare", String(compare));
  try {
    const body = await fetchJSON(`/api/geographies/${enc(geo.id)}/values?${q}`);
    return body.values;
  } catch (err) {
    // the API is optional for the viewer: the build's values.csv has the same rows
    if (!csvCache.has(geo.id)) {
      csvCache.set(geo.id, fetch(`/downloads/${enc(geo.id)}/values.csv`).then((r) => r.text()).then(parseCSV));
    }
    const all = await csvCache.get(geo.id);
    return all.filter((r) => r.indicator === indicator && r.year === year && (r.level === level || r.level === "total"));
  }
}

const definitionCache = new Map();

/** indicator id → the indicators API's record (description, source, reference_date, estimate,
    provenance …); an empty map when the API is not there (the index's description remains). */
export function definitionsFor(geo) {
  const key = `${geo.id}@${geo.release}`;
  if (!definitionCache.has(key)) {
    const url = `/api/geographies/${enc(geo.id)}/indicators?release=${enc(geo.release)}`;
    definitionCache.set(key, fetchJSON(url)
      .then((body) => new Map(body.themes.flatMap((t) => t.indicators).map((i) => [i.id, i])))
      .catch(() => new Map()));
  }
  return definitionCache.get(key);
}

/** Areas whose name or key matches q, best first (the search API), with their bbox. */
export async function searchAreas(geo, q) {
  const body = await fetchJSON(`/api/geographies/${enc(geo.id)}/areas?${new URLSearchParams({ q, limit: "12" })}`);
  return body.areas;
}
