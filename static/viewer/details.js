/* One area's figures: the details panel, the popup and the table cells. */
import { comparing, ctx, current } from "./context.js";
import { enc } from "./data.js";
import { direction, fmtChange, fmtCount, fmtNumber, fmtRate, h, phrase, secret, W } from "./dom.js";

export const parentOf = (r, areaId) => r?.parent_id ?? ctx.areaParent.get(areaId);
export const reliability = (r) => (r.reliable ? W.yes : h("span", { class: "unsure" }, W.unreliable));
export const changeUnit = () => ctx.legend?.change_unit ?? current().ind.unit ?? "";

export function parentName(r) {
  const id = parentOf(r, String(r.area_id));
  const p = ctx.parentRows.get(String(id));
  return p ? p.name : id ?? "";
}

function compareWith(row, other) {
  if (!other || other.rate === null || other.rate === undefined || row.ci_low === null) return null;
  if (row.ci_low > other.rate) return "higher";
  if (row.ci_high < other.rate) return "lower";
  return "similar";
}

/** The area's profile page (every indicator of the area). */
export const profileURL = (geoId, level, areaId) => `/profiles/${enc(geoId)}/${enc(level)}/${enc(areaId)}`;

/** A value (or the word for a withheld or missing one) of a row with status and rate. */
export function valueOf(status, rate, ind) {
  if (status === "suppressed") return secret();
  if (status !== "published" || rate === null || rate === undefined) return W.missing;
  return fmtRate(rate, ind);
}

/** The change of a row: signed value in the change's unit, withheld or missing. */
export function changeOf(r) {
  if (!r) return W.missing;
  if (r.change !== null && r.change !== undefined) return fmtChange(r.change, changeUnit());
  return r.status === "suppressed" || r.status0 === "suppressed" ? secret() : W.missing;
}

export const changeInterval = (r) => (r && r.change_ci_low !== null && r.change_ci_low !== undefined
  ? `${fmtChange(r.change_ci_low)} – ${fmtChange(r.change_ci_high, changeUnit())}` : "");

function valueItems(add, row, areaId) {
  const { geo, ind, parent } = current();
  const label = ind.name;  // the indicator's own word (Quote, Dichte, Anteil …), not a guess
  if (!row || row.status === "missing") { add(label, W.missing); return; }
  if (row.status === "suppressed") {
    add(label, secret());
    add(W.interval, secret());
    add(W.counts, `${fmtCount(row.numerator)} / ${fmtCount(row.denominator)}`);
    return;
  }
  add(label, h("strong", {}, fmtRate(row.rate, ind)));
  if (row.ci_low !== null && row.ci_low !== undefined) {
    add(W.interval, `${fmtNumber(row.ci_low)} – ${fmtRate(row.ci_high, ind)}`);
  }
  if (row.denominator !== null && row.denominator !== undefined) {
    add(W.counts, `${fmtCount(row.numerator)} von ${fmtCount(row.denominator)}`);
  }
  add(W.reliable, reliability(row));
  const total = ctx.totalRow;
  if (total && total.rate !== null) {
    const rel = phrase(row.vs_total || compareWith(row, total));
    add(`Vergleich mit ${geo.total_name}`, `${rel} ${geo.total_name} (${fmtRate(total.rate, ind)})`);
  }
  if (parent) {
    const p = ctx.parentRows.get(parentOf(row, areaId));
    if (p && p.status === "published") {
      add(`Vergleich mit ${parent.name}`, `${phrase(compareWith(row, p))} ${parent.name} ${p.name} (${fmtRate(p.rate, ind)})`);
    } else if (p) {
      add(`Vergleich mit ${parent.name}`, [`${parent.name} ${p.name}: `, p.status === "suppressed" ? secret() : W.missing]);
    }
  }
}

function changeItems(add, row) {
  const { ind } = current();
  const { y, c } = ctx.state;
  add(`${ind.name} ${c}`, row ? valueOf(row.status0, row.rate0, ind) : W.missing);
  add(`${ind.name} ${y}`, row ? valueOf(row.status, row.rate, ind) : W.missing);
  add(W.change, h("strong", {}, changeOf(row)));
  if (changeInterval(row)) add(W.interval, changeInterval(row));
  if (row?.change_direction) {
    add("Richtung", h("span", { class: `direction ${row.change_direction}` }, direction(row.change_direction)));
  }
}

/** The details of an area as a node: heading, level and key, figures, "Profil öffnen". */
export function detailsNode(areaId, fallbackName) {
  const { geo, ind, level } = current();
  const row = ctx.rows.get(areaId);
  const name = row?.name || fallbackName || areaId;
  const dl = h("dl");
  const add = (dt, dd) => dl.append(h("dt", {}, dt), h("dd", {}, dd));
  if (comparing()) changeItems(add, row);
  else valueItems(add, row, areaId);
  const when = comparing() ? `${W.change} ${ctx.state.c} bis ${ctx.state.y}` : String(ctx.state.y);
  const estimate = ctx.definition?.estimate ? h("span", { class: "estimate" }, "Schätzung") : null;
  return h("div", { class: "area" },
    h("h3", {}, name),
    h("p", { class: "hint" }, `${level.name} ${areaId} · ${ind.name} ${when}`, estimate ? " · " : "", estimate),
    dl,
    h("p", { class: "profile-link" },
      h("a", { href: profileURL(geo.id, level.id, areaId), dataset: { role: "profile" } }, "Profil öffnen")));
}

export const hint = () => h("p", { class: "hint" }, "Fahren Sie über die Karte oder klicken Sie ein Gebiet an.");
