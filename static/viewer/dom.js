/* DOM, words and numbers. Text from the data (names, units, descriptions, sources …) enters the
   page only as text nodes or attribute values set through the DOM, never as HTML. */

export const $ = (id) => document.getElementById(id);

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false || c === "") continue;
    el.append(c instanceof Node ? c : String(c)); // a string becomes a text node
  }
}

/** h("a", {href: url, class: "x", dataset: {id}}, "text", node) → an element. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "style") Object.assign(el.style, v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

/** Replace the children of an element (by id or node). */
export function fill(target, ...children) {
  const el = typeof target === "string" ? $(target) : target;
  el.replaceChildren();
  append(el, children);
  return el;
}

// the words come from the server (/tiles/index.json "words"): one vocabulary everywhere
export const W = { withheld: "", missing: "", reliable: "", unreliable: "", yes: "", comparison: {},
                   methods: {}, interval: "", counts: "", change: "", direction: {} };
export const setWords = (words) => Object.assign(W, words || {});

export const nf = (digits) => new Intl.NumberFormat("de-DE", { minimumFractionDigits: digits,
                                                                maximumFractionDigits: digits });
const fmtInt = new Intl.NumberFormat("de-DE", { maximumFractionDigits: 0 });
const fmtSigned = new Intl.NumberFormat("de-DE", { minimumFractionDigits: 1, maximumFractionDigits: 2,
                                                   signDisplay: "exceptZero" });
const none = (v) => v === null || v === undefined;

export const unitText = (unit) => (unit === "%" ? " %" : unit ? ` ${unit}` : "");
export const fmtNumber = (v) => (none(v) ? "" : nf(1).format(v));
export const fmtRate = (v, ind) => (none(v) ? "" : nf(1).format(v) + unitText(ind.unit));
export const fmtCount = (v) => (none(v) ? W.withheld : fmtInt.format(v));
export const fmtChange = (v, unit) => (none(v) ? "" : fmtSigned.format(v) + (unit ? ` ${unit}` : ""));
export const fmtSignedNumber = (v) => (none(v) ? "" : fmtSigned.format(v));

export const secret = () => h("span", { class: "secret" }, W.withheld);
export const phrase = (key) => W.comparison[key] || "";
export const direction = (key) => W.direction[key] || "";
