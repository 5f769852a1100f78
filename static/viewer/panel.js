/* Beside the map: the legend, the indicator's definition and the exports. */
import { comparing, ctx, current } from "./context.js";
import { enc } from "./data.js";
import { $, fill, h, W } from "./dom.js";

// --- legend ----------------------------------------------------------------------------------
/** Draw the legend of the shown level (classes, then withheld, missing, unreliable, no change). */
export function renderLegend() {
  const { geo, ind } = current();
  const legend = ctx.legend;
  const unit = ind.unit ? ` in ${ind.unit}` : "";
  const estimate = ctx.definition?.estimate ? " · Schätzung" : "";
  $("legend-sub").textContent = comparing()
    ? `${W.change} ${ind.name} ${ctx.state.c} bis ${ctx.state.y}${legend.change_unit ? ` (${legend.change_unit})` : ""}`
      + ` · ${legend.level_name}${estimate}`
    : `${ind.name}${unit}, ${ctx.state.y} · ${legend.level_name} · Klassen: ${legend.method_name || legend.method}`
      + `${legend.scope === "all-years" ? " über alle Jahre" : ""}${estimate}`;
  const swatch = (color, cls = "swatch") => h("span", { class: cls, style: { background: color } });
  const item = (role, sw, label, count) => h("li", { dataset: role ? { role } : null }, sw, label,
                                             h("span", { class: "count" }, String(count)));
  const items = legend.classes.map((c) => item(null, swatch(c.color), c.label, c.count));
  const extra = (key, sw) => {
    const e = legend[key];
    if (e && e.count) items.push(item(key, sw, e.label, e.count));
  };
  if (legend.similar) items.push(item("similar", swatch(legend.similar.color), legend.similar.label, legend.similar.count));
  extra("withheld", h("span", { class: "swatch hatch" }));
  extra("missing", swatch(legend.missing.color));
  extra("unreliable", h("span", { class: "swatch dashed", style: { borderColor: legend.unreliable?.color } }));
  if (geo.notice) items.push(h("li", { class: "notice" }, geo.notice));
  fill("legend-items", items);
  fill("sheet-swatches", legend.classes.map((c) => h("i", { style: { background: c.color } })));
}

// --- definition --------------------------------------------------------------------------------
const PROVENANCE_KIND = { points: "Punkte je Gebiet gezählt", raster: "aus einem Raster ermittelt",
                          grid: "aus dem Zensus-Gitter ermittelt", areas: "aus anderen Gebieten umgerechnet" };

function provenanceItems(def, add) {
  const counts = [def.definition?.numerator, def.definition?.denominator].filter(Boolean);
  for (const c of counts) {
    const p = c.provenance;
    if (!p) continue;
    const inputs = (p.inputs || []).map((i) => i.file).filter(Boolean);
    add(`Herkunft: ${c.name}`, [
      PROVENANCE_KIND[p.kind] || p.kind || "",
      p.command ? [" – ", h("code", {}, p.command)] : "",
      inputs.length ? `; Eingaben: ${inputs.join(", ")}` : "",
      p.created ? `; erstellt ${String(p.created).slice(0, 10)}` : "",
    ]);
  }
}

/** Description, source, reference date, counts and provenance of the shown indicator; an
    estimate says "Schätzung". */
export function renderDefinition() {
  const { geo, ind } = current();
  const def = ctx.definition;
  const description = def?.description ?? ind.description;
  const dl = h("dl");
  const add = (dt, dd) => dl.append(h("dt", {}, dt), h("dd", {}, dd));
  add("Quelle", def?.source || geo.attribution);
  add("Stand", def?.reference_date || (comparing() ? `${ctx.state.c} und ${ctx.state.y}` : String(ctx.state.y)));
  for (const [label, c] of [["Zähler", def?.definition?.numerator], ["Nenner", def?.definition?.denominator]]) {
    if (c) add(label, c.definition ? `${c.name}: ${c.definition}` : c.name);
  }
  if (def) provenanceItems(def, add);
  const proof = def?.provenance
    ? h("p", {}, h("a", { href: `/downloads/${enc(geo.id)}/PROVENANCE.json?release=${enc(geo.release)}` },
                     "Herkunftsnachweis (JSON)")) : null;
  fill("definition",
    def?.estimate ? h("p", { class: "estimate", dataset: { role: "estimate" } },
                      "Schätzung – die Werte beruhen auf geschätzten Zahlen.") : null,
    h("p", { class: "description" }, description || "Keine Beschreibung im Katalog."),
    dl, proof);
}

// --- exports -----------------------------------------------------------------------------------
/** The map page's (and PNG's) parameters of the shown view, pinned to the shown release. */
function mapQuery() {
  const { geo } = current();
  const s = ctx.state;
  const q = new URLSearchParams({ year: String(s.y) });
  if (comparing()) q.set("compare", String(s.c));
  else if (s.cl === "all-years") q.set("classes", "all-years");
  q.set("level", s.l);
  q.set("scheme", s.m);
  q.set("release", geo.release);
  return q;
}

/** URLs of the table (csv-de), the map (PNG) and the map page for a report. */
export function exportURLs() {
  const { geo, ind } = current();
  const s = ctx.state;
  const values = new URLSearchParams({ indicator: ind.id, year: String(s.y), level: s.l, format: "csv-de" });
  if (comparing()) values.set("compare", String(s.c));
  values.set("release", geo.release);
  const map = `/maps/${enc(geo.id)}/${enc(ind.id)}`;
  return {
    csv: `/api/geographies/${enc(geo.id)}/values?${values}`,
    png: `${map}.png?${mapQuery()}`,
    report: `${location.origin}${map}?${mapQuery()}`,
  };
}

/** Point the export links at the shown view. */
export function renderExports() {
  const { geo, ind } = current();
  const urls = exportURLs();
  const stem = [geo.id, ind.id, ctx.state.l, comparing() ? `${ctx.state.c}-${ctx.state.y}` : ctx.state.y]
    .join("-").replace(/[^A-Za-z0-9._-]/g, "_");
  $("export-csv").href = urls.csv;
  $("export-csv").download = `${stem}.csv`;
  $("export-png").href = urls.png;
  $("export-png").download = `${stem}.png`;
  const link = $("report-link");
  link.href = urls.report;
  link.textContent = urls.report;
  $("report-link-status").textContent = "";
}

async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = h("textarea", { readonly: true, class: "offscreen" }, text);
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}

/** "Link für Bericht" copies the permalink (with release=) and says so. */
export function setupExports() {
  $("report-link-copy").addEventListener("click", async () => {
    const url = $("report-link").href;
    const ok = await copy(url).catch(() => false);
    $("report-link-status").textContent = ok ? "Link kopiert."
      : "Kopieren nicht möglich: bitte den Link unten markieren und kopieren.";
  });
}
