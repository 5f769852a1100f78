/* The table of every area of the shown level: sortable, one tab stop, arrow keys between rows. */
import { comparing, ctx, current } from "./context.js";
import { changeInterval, changeOf, changeUnit, parentName, reliability, valueOf } from "./details.js";
import { $, direction, fill, fmtCount, fmtNumber, h, phrase, secret, W } from "./dom.js";

let sortKey = "rate";
let sortDir = "descending";

function valueColumns(ind, geo) {
  return [
    { key: "rate", label: `${ind.name}${ind.unit ? ` (${ind.unit})` : ""}`, num: true, sort: (r) => r.rate },
    { key: "ci", label: W.interval, num: true, sort: (r) => r.ci_low },
    { key: "numerator", label: "Zähler", num: true, sort: (r) => r.numerator },
    { key: "denominator", label: "Nenner", num: true, sort: (r) => r.denominator },
    { key: "reliable", label: W.reliable, sort: (r) => (r.status === "published" ? (r.reliable ? 1 : 0) : null) },
    { key: "vs_total", label: `Vergleich mit ${geo.total_name}`, sort: (r) => r.vs_total },
  ];
}

function changeColumns(ind) {
  const { y, c } = ctx.state;
  return [
    { key: "rate0", label: `${ind.name} ${c}`, num: true, sort: (r) => (r.status0 === "published" ? r.rate0 : null) },
    { key: "rate", label: `${ind.name} ${y}`, num: true, sort: (r) => (r.status === "published" ? r.rate : null) },
    { key: "change", label: `${W.change}${changeUnit() ? ` (${changeUnit()})` : ""}`, num: true, sort: (r) => r.change },
    { key: "change_ci", label: W.interval, num: true, sort: (r) => r.change_ci_low },
    { key: "change_direction", label: "Richtung", sort: (r) => r.change_direction },
  ];
}

function columns() {
  const { geo, ind, parent } = current();
  const cols = [
    { key: "name", label: "Gebiet", sort: (r) => r.name },
    { key: "area_id", label: "Schlüssel", sort: (r) => r.area_id },
    ...(comparing() ? changeColumns(ind) : valueColumns(ind, geo)),
  ];
  if (parent) cols.push({ key: "parent", label: parent.name, sort: (r) => parentName(r) || null });
  return cols;
}

function cell(r, key) {
  const withheld = r.status === "suppressed";
  const missing = r.status === "missing";
  switch (key) {
    case "rate": return comparing() ? valueOf(r.status, r.rate, current().ind) : withheld ? secret() : missing ? W.missing : fmtNumber(r.rate);
    case "rate0": return valueOf(r.status0, r.rate0, current().ind);
    case "ci": return withheld || missing || r.ci_low === null ? "" : `${fmtNumber(r.ci_low)} – ${fmtNumber(r.ci_high)}`;
    case "numerator": case "denominator": return missing || (r[key] === null && !withheld) ? "" : fmtCount(r[key]);
    case "reliable": return withheld || missing ? "" : reliability(r);
    case "vs_total": return withheld || missing || !phrase(r.vs_total) ? "" : `${phrase(r.vs_total)} ${current().geo.total_name}`;
    case "change": return changeOf(r);
    case "change_ci": return changeInterval(r);
    case "change_direction": return r.change_direction ? h("span", { class: `direction ${r.change_direction}` }, direction(r.change_direction)) : "";
    case "parent": return parentName(r);
    default: return r[key] ?? "";
  }
}

/** Draw the table of the current view (caption, sortable headers, one row per area). */
export function renderTable() {
  const { geo, ind, level } = current();
  const cols = columns();
  const col = cols.find((c) => c.key === sortKey) || cols[2];
  const data = [...ctx.rows.values()];
  const dir = sortDir === "ascending" ? 1 : -1;
  data.sort((a, b) => {
    const x = col.sort(a), y = col.sort(b);
    const xa = x === null || x === undefined, ya = y === null || y === undefined;
    if (xa || ya) return xa === ya ? String(a.name).localeCompare(b.name, "de") : xa ? 1 : -1; // empty last
    const c = typeof x === "string" ? x.localeCompare(y, "de", { numeric: true }) : x - y;
    return c * dir;
  });
  const when = comparing() ? `${W.change} ${ctx.state.c} bis ${ctx.state.y}` : String(ctx.state.y);
  $("table-caption").textContent = `${ind.name} ${when}, ${level.name} (${data.length} Gebiete) – ${geo.name}`
    + `${geo.notice ? ` (${geo.notice})` : ""}. Spaltenköpfe sortieren die Tabelle; Pfeiltasten wechseln die Zeile; `
    + `gesperrte Werte: ${W.withheld}.`;
  fill($("table").tHead, h("tr", {}, cols.map((c) => h("th", { scope: "col", "aria-sort": c.key === col.key ? sortDir : "none" },
    h("button", { type: "button", dataset: { key: c.key } }, c.label)))));
  // one tab stop for the whole body (roving tabindex); arrow keys move between rows
  fill($("table").tBodies[0], data.map((r, n) => h("tr", { tabindex: n === 0 ? 0 : -1, dataset: { id: String(r.area_id) } },
    cols.map((c, k) => (k === 0 ? h("th", { scope: "row" }, r.name ?? "")
      : h("td", { class: c.num ? "num" : null }, cell(r, c.key)))))));
}

/** Mark the row of an area as the selected one. */
export function markRow(areaId) {
  document.querySelectorAll("tbody tr.active").forEach((t) => t.classList.remove("active"));
  const tr = document.querySelector(`tbody tr[data-id="${CSS.escape(areaId)}"]`);
  if (tr) tr.classList.add("active");
}

/** Sorting by header, selecting by click or keyboard, highlighting the focused row's area. */
export function setupTable({ select, highlight }) {
  const table = $("table");
  table.addEventListener("click", (e) => {
    const btn = e.target.closest("thead button");
    if (btn) {
      const key = btn.dataset.key;
      const text = key === "name" || key === "area_id" || key === "parent";
      sortDir = key === sortKey ? (sortDir === "descending" ? "ascending" : "descending") : text ? "ascending" : "descending";
      sortKey = key;
      renderTable();
      document.querySelector(`thead button[data-key="${CSS.escape(key)}"]`).focus();
      return;
    }
    const tr = e.target.closest("tbody tr");
    if (tr) select(tr.dataset.id);
  });
  table.addEventListener("keydown", (e) => {
    const tr = e.target.closest("tbody tr");
    if (!tr) return;
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(tr.dataset.id); }
    if (e.key === "ArrowDown" && tr.nextElementSibling) { e.preventDefault(); tr.nextElementSibling.focus(); }
    if (e.key === "ArrowUp" && tr.previousElementSibling) { e.preventDefault(); tr.previousElementSibling.focus(); }
  });
  table.addEventListener("focusin", (e) => {
    const tr = e.target.closest("tbody tr");
    if (!tr) return;
    tr.parentElement.querySelectorAll('tr[tabindex="0"]').forEach((t) => { if (t !== tr) t.tabIndex = -1; });
    tr.tabIndex = 0;
    highlight(tr.dataset.id);
  });
}
