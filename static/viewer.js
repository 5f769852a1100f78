/* Quartier viewer: MapLibre GL JS over the build's PMTiles archive, styles from /styles,
   numbers from /api (fallback: the build's values.csv). No request leaves this server
   unless the service is configured with a basemap. */
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const SOURCE = "quartier";
  const nf = (digits) => new Intl.NumberFormat("de-DE", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  const fmtInt = new Intl.NumberFormat("de-DE", { maximumFractionDigits: 0 });
  // the words come from the server (/tiles/index.json "words"): one vocabulary everywhere
  let W = { withheld: "", missing: "", reliable: "", unreliable: "", yes: "", comparison: {}, methods: {},
            interval: "", counts: "" };
  const METHOD_ORDER = ["quantiles", "equal_interval", "fisher_jenks"];
  const K_CHOICES = [3, 4, 5, 6, 7];
  const DEFAULT_METHOD = "fisher_jenks";
  const DEFAULT_K = 5;
  const phone = () => window.matchMedia("(max-width: 50rem)").matches;

  const protocol = new pmtiles.Protocol();
  maplibregl.addProtocol("pmtiles", protocol.tile);

  let catalogue = [];          // from /tiles/index.json
  let state = {};              // g, l, i, y, m (classification), k (classes), src
  let map = null;
  let rows = new Map();        // area_id -> value row of the current view
  let parentRows = new Map();  // parent area_id -> value row
  let totalRow = null;
  let legend = null;
  let sortKey = "rate";
  let sortDir = "descending";
  let hovered = null;
  let popup = null;
  let viewSeq = 0;
  let currentGeo = null;

  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

  // a year is a number (2023), a pooled period its label ("2021-2023")
  const yearKey = (v) => (v === null || v === undefined || v === "" ? null : /^\d+$/.test(String(v)) ? Number(v) : String(v));

  // --- URL hash: the view as a shareable link --------------------------------------------
  function readHash() {
    const p = new URLSearchParams(location.hash.slice(1));
    const out = { g: p.get("g"), l: p.get("l"), i: p.get("i"), y: yearKey(p.get("y")),
                  m: p.get("m"), k: p.get("k") ? Number(p.get("k")) : null,
                  src: p.get("src") === "xyz" ? "xyz" : "pmtiles", camera: null };
    const m = (p.get("map") || "").split("/").map(Number);
    if (m.length === 3 && m.every(Number.isFinite)) out.camera = { zoom: m[0], center: [m[2], m[1]] };
    return out;
  }

  function writeHash() {
    if (!map) return;
    const c = map.getCenter();
    const enc = encodeURIComponent;
    let hash = `#g=${enc(state.g)}&l=${enc(state.l)}&i=${enc(state.i)}&y=${state.y}`
      + `&m=${enc(state.m)}&k=${state.k}`
      + `&map=${map.getZoom().toFixed(2)}/${c.lat.toFixed(5)}/${c.lng.toFixed(5)}`;
    if (state.src === "xyz") hash += "&src=xyz";
    if (location.hash !== hash) history.replaceState(null, "", hash);
  }

  // --- catalogue helpers -------------------------------------------------------------------
  const geoOf = (id) => catalogue.find((g) => g.id === id) || catalogue[0];
  const indicators = (geo) => geo.themes.flatMap((t) => t.indicators.map((i) => ({ ...i, theme: t.name })));
  const indicatorOf = (geo, id) => indicators(geo).find((i) => i.id === id) || indicators(geo)[0];
  const levelOf = (geo, id) => geo.levels.find((l) => l.id === id) || geo.levels[geo.levels.length - 1];
  const parentLevel = (geo, id) => {
    const k = geo.levels.findIndex((l) => l.id === id);
    return k > 0 ? geo.levels[k - 1] : null;
  };

  const yearsOf = (ind) => (ind.years && ind.years.length ? ind.years : [ind.latest_year]);

  function normalise(s) {
    const geo = geoOf(s.g);
    const ind = indicatorOf(geo, s.i);
    const level = levelOf(geo, s.l);
    const years = yearsOf(ind);  // only the years with data for this indicator
    const year = years.includes(s.y) ? s.y : ind.latest_year;
    const m = METHOD_ORDER.includes(s.m) ? s.m : DEFAULT_METHOD;
    const k = K_CHOICES.includes(s.k) ? s.k : DEFAULT_K;
    return { g: geo.id, l: level.id, i: ind.id, y: year, m, k, src: s.src || "pmtiles" };
  }

  function fillSelect(select, options, value) {
    select.replaceChildren(...options.map(([v, label]) => {
      const o = document.createElement("option");
      o.value = v; o.textContent = label; o.selected = String(v) === String(value);
      return o;
    }));
  }

  function renderControls() {
    const geo = geoOf(state.g);
    const ind = indicatorOf(geo, state.i);
    fillSelect($("sel-geo"), catalogue.map((g) => [g.id, g.name]), geo.id);
    fillSelect($("sel-level"), geo.levels.map((l) => [l.id, `${l.name} (${l.count})`]), state.l);
    fillSelect($("sel-theme"), geo.themes.map((t) => [t.name, t.name]), ind.theme);
    const theme = geo.themes.find((t) => t.name === ind.theme);
    fillSelect($("sel-indicator"), theme.indicators.map((i) => [i.id, i.name]), ind.id);
    fillSelect($("sel-year"), yearsOf(ind).map((y) => [y, String(y)]), state.y);
    fillSelect($("sel-method"), METHOD_ORDER.map((m) => [m, W.methods[m] || m]), state.m);
    fillSelect($("sel-k"), K_CHOICES.map((k) => [k, String(k)]), state.k);
    $("geo-title").textContent = `${geo.name} · Release ${geo.release}`;
    const notice = $("notice");
    notice.hidden = !geo.notice;
    notice.textContent = geo.notice || "";
    $("source").textContent = `Quelle: ${geo.attribution}${geo.notice && !geo.attribution.includes(geo.notice) ? " – " + geo.notice : ""}`
      + (catalogue.basemap_attribution ? ` · Hintergrundkarte: ${catalogue.basemap_attribution}` : "");
  }

  // --- numbers -------------------------------------------------------------------------------
  async function fetchJSON(url) {
    const r = await fetch(url);
    if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
    return r.json();
  }

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
    const num = new Set(["year", "numerator", "denominator", "rate", "ci_low", "ci_high"]);
    // values.csv of the build carries no parent_id; the areas are joined from the tiles
    return out.map((r) => Object.fromEntries(head.map((h, k) => {
      const v = r[k] ?? "";
      if (v === "") return [h, null];
      if (h === "year") return [h, yearKey(v)];
      if (num.has(h)) return [h, Number(v)];
      if (h === "reliable") return [h, v === "True" || v === "true"];
      return [h, v];
    })));
  }

  const csvCache = new Map();
  async function valuesFor(geo, indicator, year, level) {
    const q = new URLSearchParams({ indicator, year: String(year), level, format: "json" });
    try {
      const body = await fetchJSON(`/api/geographies/${encodeURIComponent(geo.id)}/values?${q}`);
      return body.values;
    } catch (err) {
      // the API is optional for the viewer: the build's values.csv has the same rows
      if (!csvCache.has(geo.id)) {
        csvCache.set(geo.id, fetch(`/downloads/${encodeURIComponent(geo.id)}/values.csv`).then((r) => r.text()).then(parseCSV));
      }
      const all = await csvCache.get(geo.id);
      return all.filter((r) => r.indicator === indicator && r.year === year && (r.level === level || r.level === "total"));
    }
  }

  function fmtRate(v, ind) {
    if (v === null || v === undefined) return "";
    const unit = ind.unit === "%" ? " %" : ind.unit ? ` ${ind.unit}` : "";
    return nf(1).format(v) + unit;
  }
  const fmtCount = (v) => (v === null || v === undefined ? W.withheld : fmtInt.format(v));
  const secret = () => `<span class="secret">${esc(W.withheld)}</span>`;
  const reliability = (r) => (r.reliable ? W.yes : `<span class="unsure">${esc(W.unreliable)}</span>`);
  const phrase = (key) => W.comparison[key] || "";
  const parentOf = (r, areaId) => r?.parent_id ?? areaParent.get(areaId);

  function compareWith(row, other) {
    if (!other || other.rate === null || other.rate === undefined || row.ci_low === null) return null;
    if (row.ci_low > other.rate) return "higher";
    if (row.ci_high < other.rate) return "lower";
    return "similar";
  }

  function detailsHTML(areaId, fallbackName) {
    const geo = geoOf(state.g);
    const ind = indicatorOf(geo, state.i);
    const level = levelOf(geo, state.l);
    const parent = parentLevel(geo, state.l);
    const row = rows.get(areaId);
    const name = row?.name || fallbackName || areaId;
    const label = ind.name;  // the indicator's own word (Quote, Dichte, Anteil …), not a guess
    const items = [];
    const add = (dt, dd) => items.push(`<dt>${esc(dt)}</dt><dd>${dd}</dd>`);
    if (!row || row.status === "missing") {
      add(label, esc(W.missing));
    } else if (row.status === "suppressed") {
      add(label, secret());
      add(W.interval, secret());
      add(W.counts, `${esc(fmtCount(row.numerator))} / ${esc(fmtCount(row.denominator))}`);
    } else {
      add(label, `<strong>${esc(fmtRate(row.rate, ind))}</strong>`);
      add(W.interval, `${esc(nf(1).format(row.ci_low))} – ${esc(fmtRate(row.ci_high, ind))}`);
      add(W.counts, `${esc(fmtCount(row.numerator))} von ${esc(fmtCount(row.denominator))}`);
      add(W.reliable, reliability(row));
      if (totalRow && totalRow.rate !== null) {
        const rel = phrase(row.vs_total || compareWith(row, totalRow));
        add(`Vergleich mit ${geo.total_name}`, `${esc(rel)} ${esc(geo.total_name)} (${esc(fmtRate(totalRow.rate, ind))})`);
      }
      if (parent) {
        const p = parentRows.get(parentOf(row, areaId));
        if (p && p.status === "published") {
          add(`Vergleich mit ${parent.name}`, `${esc(phrase(compareWith(row, p)))} ${esc(parent.name)} ${esc(p.name)} (${esc(fmtRate(p.rate, ind))})`);
        } else if (p) {
          add(`Vergleich mit ${parent.name}`, `${esc(parent.name)} ${esc(p.name)}: ${p.status === "suppressed" ? secret() : esc(W.missing)}`);
        }
      }
    }
    return `<h3>${esc(name)}</h3><p class="hint">${esc(level.name)} ${esc(areaId)} · ${esc(ind.name)} ${state.y}</p><dl>${items.join("")}</dl>`;
  }

  const areaParent = new Map(); // area_id -> parent_id, learnt from tile features

  // --- legend and table ------------------------------------------------------------------------
  function renderLegend() {
    const geo = geoOf(state.g);
    const ind = indicatorOf(geo, state.i);
    const unit = ind.unit ? ` in ${ind.unit}` : "";
    $("legend-sub").textContent = `${ind.name}${unit}, ${state.y} · ${legend.level_name} · Klassen: ${legend.method_name || legend.method}`;
    const items = legend.classes.map((c) => `<li><span class="swatch" style="background:${esc(c.color)}"></span>${esc(c.label)}<span class="count">${c.count}</span></li>`);
    const extra = (key, swatch) => {
      const e = legend[key];
      if (e && e.count) items.push(`<li data-role="${key}">${swatch}${esc(e.label)}<span class="count">${e.count}</span></li>`);
    };
    extra("withheld", '<span class="swatch hatch"></span>');
    extra("missing", `<span class="swatch" style="background:${esc(legend.missing.color)}"></span>`);
    extra("unreliable", `<span class="swatch dashed" style="border-color:${esc(legend.unreliable?.color)}"></span>`);
    if (geo.notice) items.push(`<li class="notice">${esc(geo.notice)}</li>`);
    $("legend-items").innerHTML = items.join("");
    $("sheet-swatches").innerHTML = legend.classes.map((c) => `<i style="background:${esc(c.color)}"></i>`).join("");
  }

  function columns() {
    const geo = geoOf(state.g);
    const ind = indicatorOf(geo, state.i);
    const parent = parentLevel(geo, state.l);
    const cols = [
      { key: "name", label: "Gebiet", sort: (r) => r.name },
      { key: "area_id", label: "Schlüssel", sort: (r) => r.area_id },
      { key: "rate", label: `${ind.name}${ind.unit ? ` (${ind.unit})` : ""}`, num: true, sort: (r) => r.rate },
      { key: "ci", label: W.interval, num: true, sort: (r) => r.ci_low },
      { key: "numerator", label: "Zähler", num: true, sort: (r) => r.numerator },
      { key: "denominator", label: "Nenner", num: true, sort: (r) => r.denominator },
      { key: "reliable", label: W.reliable, sort: (r) => (r.status === "published" ? (r.reliable ? 1 : 0) : null) },
      { key: "vs_total", label: `Vergleich mit ${geo.total_name}`, sort: (r) => r.vs_total },
    ];
    if (parent) cols.push({ key: "parent", label: parent.name, sort: (r) => parentName(r) || null });
    return cols;
  }

  function parentName(r) {
    const id = parentOf(r, String(r.area_id));
    const p = parentRows.get(String(id));
    return p ? p.name : id ?? "";
  }

  function cell(r, key) {
    const withheld = r.status === "suppressed";
    const missing = r.status === "missing";
    switch (key) {
      case "rate": return withheld ? secret() : missing ? esc(W.missing) : esc(nf(1).format(r.rate));
      case "ci": return withheld || missing ? "" : `${esc(nf(1).format(r.ci_low))} – ${esc(nf(1).format(r.ci_high))}`;
      case "numerator": case "denominator": return missing ? "" : esc(fmtCount(r[key]));
      case "reliable": return withheld || missing ? "" : reliability(r);
      case "vs_total": return withheld || missing ? "" : esc(phrase(r.vs_total) ? `${phrase(r.vs_total)} ${geoOf(state.g).total_name}` : "");
      case "parent": return esc(parentName(r));
      default: return esc(r[key]);
    }
  }

  function renderTable() {
    const geo = geoOf(state.g);
    const ind = indicatorOf(geo, state.i);
    const level = levelOf(geo, state.l);
    const cols = columns();
    const col = cols.find((c) => c.key === sortKey) || cols[2];
    const data = [...rows.values()];
    const dir = sortDir === "ascending" ? 1 : -1;
    data.sort((a, b) => {
      const x = col.sort(a), y = col.sort(b);
      const xa = x === null || x === undefined, ya = y === null || y === undefined;
      if (xa || ya) return xa === ya ? String(a.name).localeCompare(b.name, "de") : xa ? 1 : -1; // empty last
      const c = typeof x === "string" ? x.localeCompare(y, "de", { numeric: true }) : x - y;
      return c * dir;
    });
    $("table-caption").textContent = `${ind.name} ${state.y}, ${level.name} (${data.length} Gebiete) – ${geo.name}`
      + `${geo.notice ? ` (${geo.notice})` : ""}. Spaltenköpfe sortieren die Tabelle; Pfeiltasten wechseln die Zeile; `
      + `gesperrte Werte: ${W.withheld}.`;
    const thead = $("table").tHead;
    thead.innerHTML = "<tr>" + cols.map((c) => {
      const aria = c.key === col.key ? sortDir : "none";
      return `<th scope="col" aria-sort="${aria}"><button type="button" data-key="${c.key}">${esc(c.label)}</button></th>`;
    }).join("") + "</tr>";
    const body = $("table").tBodies[0];
    // one tab stop for the whole body (roving tabindex); arrow keys move between rows
    body.innerHTML = data.map((r, n) => `<tr tabindex="${n === 0 ? 0 : -1}" data-id="${esc(r.area_id)}">` + cols.map((c, k) =>
      k === 0 ? `<th scope="row">${esc(r.name)}</th>` : `<td${c.num ? ' class="num"' : ""}>${cell(r, c.key)}</td>`).join("") + "</tr>").join("");
  }

  $("table").addEventListener("click", (e) => {
    const btn = e.target.closest("thead button");
    if (btn) {
      const key = btn.dataset.key;
      sortDir = key === sortKey && sortDir === "descending" ? "ascending" : key === sortKey ? "descending" : (key === "name" || key === "area_id" ? "ascending" : "descending");
      sortKey = key;
      renderTable();
      document.querySelector(`thead button[data-key="${key}"]`).focus();
      return;
    }
    const tr = e.target.closest("tbody tr");
    if (tr) selectArea(tr.dataset.id);
  });
  $("table").addEventListener("keydown", (e) => {
    const tr = e.target.closest("tbody tr");
    if (!tr) return;
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); selectArea(tr.dataset.id); }
    if (e.key === "ArrowDown" && tr.nextElementSibling) { e.preventDefault(); tr.nextElementSibling.focus(); }
    if (e.key === "ArrowUp" && tr.previousElementSibling) { e.preventDefault(); tr.previousElementSibling.focus(); }
  });
  $("table").addEventListener("focusin", (e) => {
    const tr = e.target.closest("tbody tr");
    if (!tr) return;
    tr.parentElement.querySelectorAll('tr[tabindex="0"]').forEach((t) => { if (t !== tr) t.tabIndex = -1; });
    tr.tabIndex = 0;
    highlight(tr.dataset.id);
  });

  function selectArea(areaId) {
    highlight(areaId);
    $("details").setAttribute("aria-live", "polite");
    $("details").innerHTML = detailsHTML(areaId);
    document.querySelectorAll("tbody tr.active").forEach((t) => t.classList.remove("active"));
    const tr = document.querySelector(`tbody tr[data-id="${CSS.escape(areaId)}"]`);
    if (tr) tr.classList.add("active");
  }

  // --- map ---------------------------------------------------------------------------------------
  function highlight(areaId) {
    if (!map || !map.getSource(SOURCE)) return;
    if (hovered !== null) map.setFeatureState({ source: SOURCE, sourceLayer: hovered.layer, id: hovered.id }, { hover: false });
    hovered = areaId ? { layer: state.l, id: areaId } : null;
    if (hovered) map.setFeatureState({ source: SOURCE, sourceLayer: state.l, id: areaId }, { hover: true });
  }

  function featureAt(point) {
    const layers = [`${state.l}-nodata`].filter((id) => map.getLayer(id));
    const hit = map.queryRenderedFeatures(point, { layers })[0];
    if (hit) areaParent.set(String(hit.properties.area_id), hit.properties.parent_id);
    return hit;
  }

  function onMove(e) {
    const f = featureAt(e.point);
    map.getCanvas().style.cursor = f ? "pointer" : "";
    if (!f) { highlight(null); return; }
    const id = String(f.properties.area_id);
    if (!hovered || hovered.id !== id) {
      highlight(id);
      $("details").setAttribute("aria-live", "off"); // hovering should not flood screen readers
      $("details").innerHTML = detailsHTML(id, f.properties.name);
    }
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

  function onClick(e) {
    const f = featureAt(e.point);
    if (!f) return;
    const id = String(f.properties.area_id);
    selectArea(id);
    if (popup) popup.remove();
    const width = Math.min(352, map.getContainer().clientWidth - 24);
    popup = new maplibregl.Popup({ maxWidth: `${width}px`, focusAfterOpen: false })
      .setLngLat(e.lngLat).setHTML(detailsHTML(id, f.properties.name)).addTo(map);
    keepInView(popup);
  }

  async function applyView({ fit = false } = {}) {
    const seq = ++viewSeq;
    document.body.dataset.ready = "false";
    const geo = geoOf(state.g);
    const parent = parentLevel(geo, state.l);
    renderControls();
    const q = new URLSearchParams({ level: state.l, year: String(state.y), method: state.m, k: String(state.k),
                                    source: state.src, v: geo.release });
    const [style, vals, pvals] = await Promise.all([
      fetchJSON(`/styles/${encodeURIComponent(geo.id)}/${encodeURIComponent(state.i)}.json?${q}`),
      valuesFor(geo, state.i, state.y, state.l),
      parent ? valuesFor(geo, state.i, state.y, parent.id) : Promise.resolve([]),
    ]);
    if (seq !== viewSeq) return;
    rows = new Map(vals.filter((r) => r.level === state.l).map((r) => [String(r.area_id), r]));
    parentRows = new Map(pvals.filter((r) => parent && r.level === parent.id).map((r) => [String(r.area_id), r]));
    totalRow = vals.find((r) => r.level === "total") || null;
    legend = style.metadata["quartier:legend"];
    delete style.center; delete style.zoom;
    style.layers.push({
      id: "hover", type: "line", source: SOURCE, "source-layer": state.l,
      paint: { "line-color": "#000000", "line-width": ["case", ["boolean", ["feature-state", "hover"], false], 3, 0] },
    });
    const sameGeo = currentGeo === geo.id;
    currentGeo = geo.id;
    hovered = null;
    if (popup) { popup.remove(); popup = null; }
    map.setStyle(style, { diff: sameGeo });
    if (fit) map.fitBounds(geo.bounds, { padding: 20, animate: false });
    renderLegend();
    renderTable();
    $("details").innerHTML = '<p class="hint">Fahren Sie über die Karte oder klicken Sie ein Gebiet an.</p>';
    writeHash();
    map.once("idle", () => { if (seq === viewSeq) document.body.dataset.ready = "true"; });
    map.triggerRepaint();
  }

  function onControl(e) {
    const geo = geoOf(state.g);
    const id = e.target.id;
    const v = e.target.value;
    let fit = false;
    if (id === "sel-geo") {
      state = normalise({ g: v, src: state.src, m: state.m, k: state.k });
      fit = true;
    } else if (id === "sel-level") {
      state.l = v;
    } else if (id === "sel-theme") {
      const first = geo.themes.find((t) => t.name === v).indicators[0];
      state.i = first.id; state.y = first.latest_year;
    } else if (id === "sel-indicator") {
      // keep the year if the new indicator has data in it, else its latest
      state = normalise({ ...state, i: v });
    } else if (id === "sel-year") {
      state.y = yearKey(v);
    } else if (id === "sel-method") {
      state.m = v;
    } else if (id === "sel-k") {
      state.k = Number(v);
    }
    applyView({ fit }).catch(fail);
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
    $("details").innerHTML = `<p class="hint">Fehler: ${esc(err.message || err)}</p>`;
  }

  async function init() {
    const index = await fetchJSON("/tiles/index.json");
    W = index.words || W;
    catalogue = index.geographies;
    catalogue.basemap_attribution = index.basemap_attribution;
    if (!catalogue.length) {
      $("details").innerHTML = '<p class="hint">Keine Builds gefunden. <code>make run</code> baut sie.</p>';
      return;
    }
    const h = readHash();
    state = normalise(h);
    const geo = geoOf(state.g);
    const camera = h.camera ? { center: h.camera.center, zoom: h.camera.zoom }
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
    document.querySelectorAll("#controls select").forEach((s) => s.addEventListener("change", onControl));
    window.addEventListener("hashchange", () => {
      const next = readHash();
      if (["g", "l", "i", "y", "m", "k"].every((key) => next[key] === state[key])) return;
      const geoChanged = next.g !== state.g;
      state = normalise(next);
      if (next.camera) map.jumpTo(next.camera);
      applyView({ fit: geoChanged && !next.camera }).catch(fail);
    });
    window.quartier = { map, state: () => ({ ...state }), legend: () => legend, rows: () => rows,
                        popup: () => popup };
    setupSheet();
    map.on("load", () => applyView({ fit: false }).catch(fail));
  }

  init().catch(fail);
})();
