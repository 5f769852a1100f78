/* Area search (name or key) as an ARIA combobox: type, arrow keys, Enter picks, Escape closes. */
import { current } from "./context.js";
import { searchAreas } from "./data.js";
import { $, fill, h } from "./dom.js";

const DELAY = 200; // ms after the last key before asking the server

/** Wire the search box; onPick(match) gets {level, area_id, name, bbox}. */
export function setupSearch(onPick) {
  const input = $("search-input");
  const list = $("search-results");
  const status = $("search-status");
  let matches = [];
  let active = -1;
  let timer = null;
  let seq = 0;

  const close = () => {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  };
  const mark = (k) => {
    active = k;
    [...list.children].forEach((li, n) => li.setAttribute("aria-selected", String(n === k)));
    if (k >= 0) {
      input.setAttribute("aria-activedescendant", list.children[k].id);
      list.children[k].scrollIntoView({ block: "nearest" });
    } else input.removeAttribute("aria-activedescendant");
  };
  const pick = (k) => {
    const m = matches[k];
    if (!m) return;
    input.value = m.name;
    close();
    status.textContent = `${m.name} (${m.level_name} ${m.area_id}) ausgewählt.`;
    onPick(m);
  };

  async function lookup() {
    const q = input.value.trim();
    const mine = ++seq;
    if (!q) { matches = []; close(); status.textContent = ""; return; }
    const { geo } = current();
    let found = [];
    try {
      found = await searchAreas(geo, q);
    } catch {
      found = [];
    }
    if (mine !== seq) return;
    const levels = new Set(geo.levels.map((l) => l.id));
    matches = found.filter((m) => levels.has(m.level));  // not the whole area: it is the map
    fill(list, matches.map((m, n) => h("li", {
      id: `search-option-${n}`, role: "option", "aria-selected": "false", dataset: { n: String(n) },
    }, h("span", { class: "name" }, m.name), h("span", { class: "where" }, `${m.level_name} ${m.area_id}`))));
    list.hidden = matches.length === 0;
    input.setAttribute("aria-expanded", String(matches.length > 0));
    active = -1;
    status.textContent = matches.length ? `${matches.length} Treffer` : `Kein Gebiet gefunden: ${q}`;
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(lookup, DELAY);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" && matches.length) {
      e.preventDefault();
      if (list.hidden) { list.hidden = false; input.setAttribute("aria-expanded", "true"); }
      mark(Math.min(active + 1, matches.length - 1));
    } else if (e.key === "ArrowUp" && matches.length) {
      e.preventDefault();
      mark(Math.max(active - 1, 0));
    } else if (e.key === "Enter") {
      e.preventDefault();
      clearTimeout(timer);
      if (!list.hidden && matches.length) pick(Math.max(active, 0));
      else lookup().then(() => { if (matches.length) pick(0); });
    } else if (e.key === "Escape") {
      close();
    }
  });
  // mousedown, not click: the input keeps the focus, the list stays until the pick
  list.addEventListener("mousedown", (e) => e.preventDefault());
  list.addEventListener("click", (e) => {
    const li = e.target.closest("li[role=option]");
    if (li) pick(Number(li.dataset.n));
  });
  input.addEventListener("blur", () => setTimeout(close, 150));
  $("search").addEventListener("submit", (e) => e.preventDefault());
}
