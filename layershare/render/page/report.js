// layershare's page: reads the embedded document, draws every section. Strings are only ever set as
// text (DOM text nodes, or escaped for the chart's tooltip), never parsed as HTML.
"use strict";
(function () {
  performance.mark("layershare:start");
  const doc = JSON.parse(document.getElementById("layershare-data").textContent);
  const app = document.getElementById("app");
  performance.mark("layershare:data parsed");

  // --- small helpers ---
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }
  const UNITS = ["B", "kB", "MB", "GB", "TB", "PB"];
  // As `docker image ls` (and layershare's tables) write sizes: 3 significant digits, decimal units.
  function human(bytes) {
    let size = Math.abs(bytes), unit = 0;
    const sign = bytes < 0 ? "-" : "";
    while (size >= 1000 && unit < UNITS.length - 1) { size /= 1000; unit += 1; }
    if (Number(size.toPrecision(3)) >= 1000 && unit < UNITS.length - 1) { size /= 1000; unit += 1; }
    return sign + String(Number(size.toPrecision(3))) + UNITS[unit];
  }
  const grouping = new Intl.NumberFormat("en-US");  // one formatter: toLocaleString makes one per call
  const exact = (bytes) => grouping.format(bytes) + " B";
  const shortId = (id) => String(id).replace(/^sha256:/, "").slice(0, 12);
  const oneLine = (text, width) => {
    const line = String(text).split(/\s+/).filter(Boolean).join(" ");
    return line.length <= width ? line : line.slice(0, width - 1) + "…";
  };
  const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);

  function imageName(s, i) {
    const tags = s.images.tags[i];
    return tags.length ? tags.join(", ") : "<none> " + shortId(s.images.id[i]);
  }

  // --- the sharing tree as the chart's nested data: a bounded view from one node (or from the roots),
  // three levels deep, largest first; what does not fit is one "N more" rectangle of their exact bytes,
  // and a rectangle whose insides are left out is drawn whole (click it to zoom in) ---
  const CHART_BUDGET = 2500, PER_NODE = 150, CHART_DEPTH = 3;
  function nodeName(s, n) {
    const t = s.tree, images = t.images[n], own = t.layers[n];
    if (images.length) return images.map((i) => imageName(s, i)).join(" | ");
    return "branch " + shortId(s.layers.chain_id[own[own.length - 1]] || "");
  }

  function chartData(s, root) {
    const t = s.tree, L = s.layers;
    const make = (n) => ({ name: nodeName(s, n), value: t.subtree[n], node: n });
    const items = (root < 0 ? t.roots : [root]).map(make);
    let left = CHART_BUDGET - items.length;
    let level = items;
    for (let depth = 0; depth < CHART_DEPTH && level.length; depth++) {
      const next = [];
      for (const item of level) {
        const n = item.node;
        const entries = t.children[n].map((c) => [t.subtree[c], c, -1]);
        for (const l of t.layers[n]) entries.push([L.size[l], -1, l]);
        entries.sort((a, b) => b[0] - a[0]);
        const children = [];
        let restBytes = 0, restCount = 0;
        for (const [bytes, child, layer] of entries) {
          if (left > 0 && children.length < PER_NODE) {
            left -= 1;
            if (child >= 0) { const made = make(child); children.push(made); next.push(made); }
            else children.push({ name: oneLine(L.created_by[layer] || "(no instruction)", 60), value: bytes, layer, node: n });
          } else { restBytes += bytes; restCount += 1; }
        }
        if (restCount) children.push({ name: restCount + " more", value: restBytes, more: n, node: n });
        if (children.length) item.children = children;
      }
      level = next;
    }
    return items;
  }

  function subtreeImages(s, node, limit) {
    const t = s.tree, found = [];
    const stack = [node];
    let count = 0;
    while (stack.length) {
      const n = stack.pop();
      for (const i of t.images[n]) { count += 1; if (found.length < limit) found.push(imageName(s, i)); }
      for (const c of t.children[n]) stack.push(c);
    }
    return { count, names: found };
  }

  function tooltip(s, info) {
    const data = info.data || {};
    if (data.node === undefined) return escapeHtml(info.name || "");
    const t = s.tree, L = s.layers;
    if (data.more !== undefined) return escapeHtml(info.name) + " smaller parts of " + escapeHtml(nodeName(s, data.more)) + ": " + escapeHtml(human(data.value)) + " (" + escapeHtml(exact(data.value)) + ")<br>click to zoom in";
    const users = subtreeImages(s, data.node, 8);
    const usedBy = users.names.map(escapeHtml).join("<br>") + (users.count > users.names.length ? "<br>…" : "");
    if (data.layer !== undefined) {
      const l = data.layer;
      return [
        "<b>Layer</b> " + escapeHtml(human(L.size[l])) + " (" + escapeHtml(exact(L.size[l])) + ")",
        "<div style='max-width:420px;white-space:pre-wrap;word-break:break-all'>" + escapeHtml(oneLine(L.created_by[l] || "(no instruction)", 400)) + "</div>",
        "chain ID " + escapeHtml(shortId(L.chain_id[l])),
        "used by " + users.count + " image" + (users.count === 1 ? "" : "s") + ":<br>" + usedBy,
      ].join("<br>");
    }
    const n = data.node;
    return [
      "<b>" + escapeHtml(info.name) + "</b>",
      "adds " + escapeHtml(human(t.own[n])) + " in " + t.layers[n].length + " layer" + (t.layers[n].length === 1 ? "" : "s"),
      "it and what is built on it: " + escapeHtml(human(t.subtree[n])) + " (" + escapeHtml(exact(t.subtree[n])) + ")",
      users.count + " image" + (users.count === 1 ? "" : "s") + ":<br>" + usedBy,
    ].join("<br>");
  }

  function drawChart(s, box, trail, onImage) {
    if (typeof echarts === "undefined") { box.append("The chart library did not load."); return null; }
    const chart = echarts.init(box, null, { renderer: "canvas" });
    const path = [];  // the nodes zoomed into, outermost first
    function show() {
      const root = path.length ? path[path.length - 1] : -1;
      const data = chartData(s, root);
      performance.mark("layershare:chart data");
      chart.setOption({
        animation: false,
        tooltip: { confine: true, formatter: (info) => tooltip(s, info) },
        series: [{
          type: "treemap",
          name: "physical bytes",
          data,
          leafDepth: null,
          visibleMin: 300,
          top: 4, left: 4, right: 4, bottom: 4,
          roam: false,
          nodeClick: false,
          breadcrumb: { show: false },
          label: { show: true, position: "insideTopLeft", fontSize: 11, lineHeight: 14, color: "#fff", overflow: "truncate", formatter: (p) => p.name + "\n" + human(p.value) },
          upperLabel: { show: true, height: 18, color: "#1d2630", fontSize: 11, overflow: "truncate", formatter: (p) => p.name + "  " + human(p.value) },
          levels: [
            { itemStyle: { borderColor: "#fff", borderWidth: 2, gapWidth: 2 } },
            { itemStyle: { borderColor: "#e4e8ee", borderWidth: 2, gapWidth: 1 }, colorSaturation: [0.35, 0.6] },
            { itemStyle: { borderColorSaturation: 0.6, gapWidth: 1 }, colorSaturation: [0.35, 0.55] },
          ],
        }],
      }, { replaceMerge: ["series"] });
      const crumbs = [el("button", { type: "button", class: "crumb", onclick: () => { path.length = 0; show(); } }, "All roots")];
      path.forEach((n, k) => crumbs.push(" › ", el("button", { type: "button", class: "crumb", onclick: () => { path.length = k + 1; show(); } }, oneLine(nodeName(s, n), 40))));
      trail.replaceChildren(...crumbs);
    }
    chart.on("click", (params) => {
      const data = params.data || {};
      if (data.node === undefined) return;
      const n = data.more !== undefined ? data.more : data.node;
      if (s.tree.images[n].length) onImage(s.tree.images[n][0]);
      if (data.layer === undefined && path[path.length - 1] !== n) { path.push(n); show(); }
    });
    window.addEventListener("resize", () => chart.resize());
    show();
    return chart;
  }

  // --- what removing the picked images frees: `layershare free ID…` replayed on the embedded model ---
  function replay(R, picked) {
    const n = R.image_ids.length;
    const alive = new Uint8Array(n).fill(1);
    const tagged = R.image_tagged.slice();
    const children = Array.from({ length: n }, () => []);
    R.image_parent.forEach((p, i) => { if (p >= 0) children[p].push(i); });
    const removed = [], blocked = new Map();
    let garbage = false;
    const aliveChildren = (i) => children[i].filter((c) => alive[c]);
    const depth = (i) => { let d = 0, c = R.image_parent[i]; while (c >= 0 && d < 1000) { d += 1; c = R.image_parent[c]; } return d; };
    const block = (i, why) => { blocked.set(i, (blocked.get(i) || []).concat(why)); };
    // A graphdriver store: an untagged parent no container uses goes with its last child, up the chain.
    function remove(i) { alive[i] = 0; removed.push(i); garbage = R.containerd; pruneParents(i); }
    function pruneParents(i) {
      const p = R.image_parent[i];
      if (p < 0 || !alive[p] || tagged[p] || R.image_users[p].length) return;
      if (aliveChildren(p).length === 0) remove(p);
    }
    // The containerd store (layershare.free.parent_chain): every parent to the root, or null where a link is gone.
    function labelChain(i) {
      const chain = [];
      for (let k = i; ; k = R.image_parent[k]) {
        if (R.image_parent_gone[k]) return null;
        const p = R.image_parent[k];
        if (p < 0) return chain;
        if (!alive[p] || chain.includes(p)) return null;
        chain.push(p);
      }
    }
    const builtOn = (kids) => kids.map((c) => "image " + shortId(R.image_ids[c]) + " is built on it");
    function deleteContainerd(i, byName, kids) {
      const chain = labelChain(i);
      if (kids.length && byName) block(i, builtOn(kids));
      else { alive[i] = 0; removed.push(i); }
      garbage = true;
      for (const p of chain || []) {
        if (tagged[p] || R.image_users[p].length) break;
        alive[p] = 0; removed.push(p);
      }
    }
    const order = picked.map((i, k) => [depth(i), k, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).map((x) => x[2]);
    for (const i of order) {
      if (!alive[i]) continue;
      if (R.image_users[i].length) { block(i, R.image_users[i].map((u) => "used by container " + u)); continue; }
      const byName = tagged[i];
      tagged[i] = false;
      const kids = aliveChildren(i);
      if (R.containerd) { deleteContainerd(i, byName, kids); continue; }
      if (kids.length) { block(i, builtOn(kids)); continue; }
      remove(i);
    }
    const units = R.unit_bytes.length;
    const holders = new Int32Array(units);
    R.image_holds.forEach((holds) => { for (const u of holds) holders[u] += 1; });
    const counted = (garbageStays) => {
      let total = 0;
      for (let u = 0; u < units; u++) {
        const byImage = holders[u] > 0;
        if (!(byImage || R.unit_kept[u] || (R.unit_garbage[u] && garbageStays))) continue;
        if (R.unit_with_images[u] && !byImage) continue;
        if (R.unit_uncounted_under[u].some((k) => holders[k] > 0)) continue;
        total += R.unit_bytes[u];
      }
      return total;
    };
    const before = counted(true);
    for (const i of removed) for (const u of R.image_holds[i]) holders[u] -= 1;
    const after = counted(!garbage);
    return { freed: before - after, removed, blocked };
  }

  function whatIfPanel(s, state) {
    const R = s.removal;
    const panel = el("aside", { class: "whatif", "aria-label": "What if I remove these" });
    panel.append(el("h3", null, "What if I remove these?"));
    if (!R) {
      panel.append(el("p", { class: "muted" }, "Needs a live Docker engine: this report was read from archives, a recording or containerd's own files."));
      return { panel, update: () => {} };
    }
    panel.append(el("p", { class: "muted" }, "Tick images in the table. The figure is what layershare free says for them: the engine's own totals before minus after (containers are not removed: an image a container uses is blocked)."));
    const freed = el("div", { class: "freed", "data-freed-bytes": "0" }, "0B");
    const freedExact = el("div", { class: "muted exact" }, "0 B");
    const goes = el("ul", { class: "goes" });
    const stays = el("ul", { class: "blocked" });
    const command = el("code", { class: "command" });
    const clear = el("button", { type: "button", onclick: () => { state.picked.clear(); state.refresh(); } }, "Clear");
    panel.append(
      el("div", null, el("span", { class: "picked-count" }, "0"), " images picked"),
      freed, freedExact,
      el("h4", null, "Removed"), goes,
      el("h4", null, "Blocked"), stays,
      el("p", { class: "muted" }, "Check it: ", command),
      clear,
    );
    for (const note of R.notes) panel.append(el("p", { class: "muted note" }, note));
    const rowOf = new Map();
    s.images.removal.forEach((r, i) => { if (r >= 0) rowOf.set(r, i); });
    function update() {
      const started = performance.now();
      const picked = [...state.picked].map((i) => s.images.removal[i]).filter((r) => r >= 0);
      const result = replay(R, picked);
      panel.setAttribute("data-replay-ms", (performance.now() - started).toFixed(1));
      panel.querySelector(".picked-count").textContent = String(state.picked.size);
      freed.textContent = human(result.freed);
      freed.setAttribute("data-freed-bytes", String(result.freed));
      freedExact.textContent = exact(result.freed);
      goes.setAttribute("data-removed", result.removed.map((r) => R.image_ids[r]).join(" "));
      const name = (r) => (rowOf.has(r) ? imageName(s, rowOf.get(r)) : "<none> " + shortId(R.image_ids[r]));
      goes.replaceChildren(...result.removed.map((r) => el("li", { title: R.image_ids[r] }, picked.includes(r) ? name(r) : name(r) + " (untagged parent, removed with it)")));
      stays.replaceChildren(...[...result.blocked].map(([r, why]) => el("li", { title: R.image_ids[r] }, name(r) + ": " + why.join("; "))));
      if (!result.blocked.size) stays.append(el("li", { class: "muted" }, "nothing"));
      if (!result.removed.length) goes.append(el("li", { class: "muted" }, "nothing"));
      command.textContent = picked.length ? "layershare free " + picked.map((r) => shortId(R.image_ids[r])).join(" ") + " --format json" : "";
    }
    return { panel, update };
  }

  // --- one image's layers ---
  function historyTable(rows) {
    const body = el("tbody");
    for (const row of rows) {
      body.append(el("tr", null,
        el("td", { class: "num" }, row.position),
        el("td", { class: "instruction" }, row.instruction),
        el("td", { class: "num", title: exact(row.size) }, human(row.size)),
        el("td", { class: "mono", title: row.chain }, shortId(row.chain)),
        el("td", { class: "num" }, row.users),
      ));
    }
    return el("table", { class: "history" },
      el("thead", null, el("tr", null, el("th", { class: "num" }, "#"), el("th", null, "Instruction"), el("th", { class: "num" }, "Size"), el("th", null, "Chain ID"), el("th", { class: "num" }, "Images using it"))),
      body);
  }

  function showHistory(s, i, box) {
    const L = s.layers;
    const rows = s.images.layers[i].map((l, position) => ({
      position, instruction: L.created_by[l] || "(no instruction)", size: L.size[l], chain: L.chain_id[l], users: L.images[l],
    }));
    box.replaceChildren(
      el("h3", null, "Layers of " + imageName(s, i) + " (" + shortId(s.images.id[i]) + "), base first"),
      historyTable(rows),
    );
  }

  // --- the images table: sortable, filterable, pick to see what removing frees ---
  const COLUMNS = [
    { key: "pick", label: "Pick" },
    { key: "name", label: "Image", text: (s, i) => imageName(s, i) },
    { key: "id", label: "ID", text: (s, i) => shortId(s.images.id[i]) },
    { key: "size", label: "Size", num: true },
    { key: "content", label: "Content size", num: true, optional: true },
    { key: "shared", label: "Shared", num: true },
    { key: "unique", label: "Unique", num: true },
    { key: "layers", label: "Layers", num: true, value: (s, i) => s.images.layers[i].length },
    { key: "containers", label: "Containers", num: true },
    { key: "created", label: "Created", text: (s, i) => String(s.images.created[i]).slice(0, 19).replace("T", " ") },
  ];

  // Rows are made when first shown; at most ROWS_SHOWN at a time until "Show all" (layout of tens of
  // thousands of rows would hold the page for seconds).
  const ROWS_SHOWN = 1000;
  // A column marked optional shows only where the engine gives it (CONTENT SIZE: the containerd store).
  function columnsOf(s) {
    return COLUMNS.filter((c) => !c.optional || (s.images[c.key] || []).some((v) => v !== null));
  }

  function imagesTable(s, state, onRow) {
    const n = s.images.id.length;
    const columns = columnsOf(s);
    const rows = new Array(n);
    const body = el("tbody");
    function row(i) {
      if (rows[i]) return rows[i];
      const removal = s.images.removal[i];
      const box = el("input", { type: "checkbox", "aria-label": "pick " + shortId(s.images.id[i]), disabled: !s.removal || removal < 0 });
      box.checked = state.picked.has(i);
      const cells = [el("td", null, box)];
      for (const column of columns.slice(1)) {
        if (column.num) {
          const value = column.value ? column.value(s, i) : s.images[column.key][i];
          const count = column.key === "layers" || column.key === "containers";
          cells.push(el("td", { class: "num", title: count ? null : exact(value) }, count ? value : human(value)));
        } else {
          cells.push(el("td", column.key === "id" ? { class: "mono" } : null, column.text(s, i)));
        }
      }
      rows[i] = el("tr", { "data-image-id": s.images.id[i], "data-index": i, class: state.picked.has(i) ? "picked" : null }, ...cells);
      return rows[i];
    }
    body.addEventListener("click", (event) => {
      const tr = event.target.closest("tr");
      if (!tr) return;
      const i = Number(tr.dataset.index);
      if (event.target.matches("input[type=checkbox]")) {
        if (event.target.checked) state.picked.add(i); else state.picked.delete(i);
        state.refresh();
      } else onRow(i);
    });
    const search = el("input", { type: "search", placeholder: "Filter by tag or ID", "aria-label": "filter images" });
    const shown = el("span", { class: "muted count" });
    const more = el("button", { type: "button", class: "show-all", hidden: true }, "Show all");
    let limit = ROWS_SHOWN, matching = null, order = [];
    const haystack = s.images.id.map((id, i) => (s.images.tags[i].join(" ") + " " + id).toLowerCase());
    let sortKey = "unique", descending = true;
    function render() {
      const visible = matching ? order.filter((i) => matching[i]) : order;
      body.replaceChildren(...visible.slice(0, limit).map(row));
      const count = visible.length;
      const cut = count > limit;
      shown.textContent = (matching ? count + " of " + n : String(n)) + " images" + (cut ? ", the first " + limit + " shown" : "");
      more.hidden = !cut;
      more.textContent = "Show all " + count;
    }
    more.addEventListener("click", () => { limit = Infinity; render(); });
    search.addEventListener("input", () => {
      const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
      matching = words.length ? haystack.map((text) => words.every((w) => text.includes(w))) : null;
      render();
    });
    const headers = columns.map((column) => {
      if (column.key === "pick") return el("th", null, column.label);
      const button = el("button", { type: "button", "data-sort": column.key }, column.label);
      button.addEventListener("click", () => {
        descending = sortKey === column.key ? !descending : column.num === true;
        sortKey = column.key;
        sort();
      });
      return el("th", { class: column.num ? "num" : null }, button);
    });
    function sort() {
      const column = columns.find((c) => c.key === sortKey);
      const keys = s.images.id.map((_, i) => column.num ? (column.value ? column.value(s, i) : s.images[column.key][i]) : column.text(s, i).toLowerCase());
      order = keys.map((_, i) => i).sort((a, b) => {
        const x = keys[a], y = keys[b];
        return (x < y ? -1 : x > y ? 1 : 0) * (descending ? -1 : 1) || a - b;
      });
      for (const th of headers) {
        const button = th.querySelector("button");
        if (!button) continue;
        if (button.getAttribute("data-sort") === sortKey) button.setAttribute("aria-sort", descending ? "descending" : "ascending");
        else button.removeAttribute("aria-sort");
      }
      render();
    }
    sort();
    const table = el("table", { class: "images" }, el("thead", null, el("tr", null, ...headers)), body);
    const legend = columns.some((c) => c.key === "content")
      ? el("p", { class: "muted legend" }, "Size is docker image ls's DISK USAGE (unpacked snapshots and content blobs); Content size its CONTENT SIZE (the blobs of the image's manifests present here).")
      : null;
    return {
      node: el("div", null, el("div", { class: "tools" }, search, shown, more), el("div", { class: "scroll" }, table), legend),
      rows,
    };
  }

  function card(label, bytes, figure, extra) {
    return el("div", { class: "card", "data-figure": figure, "data-bytes": String(bytes) },
      el("div", { class: "label" }, label),
      el("div", { class: "value" }, human(bytes)),
      el("div", { class: "exact" }, exact(bytes) + (extra ? " · " + extra : "")));
  }

  function diskTable(disk) {
    const body = el("tbody");
    for (const c of disk.categories) {
      const cell = (v, name) => el("td", { class: "num", "data-field": name, "data-bytes": v === null ? "" : String(v), title: v === null ? "unknown from here" : exact(v) }, v === null ? "-" : human(v));
      body.append(el("tr", { "data-category": c.category }, el("td", null, c.category), cell(c.bytes, "bytes"), cell(c.disk_bytes, "disk_bytes"), cell(c.reclaimable_bytes, "reclaimable_bytes")));
    }
    return el("table", { class: "disk" },
      el("thead", null, el("tr", null, el("th", null, "Category"), el("th", { class: "num" }, "Engine's bytes"), el("th", { class: "num" }, "On disk"), el("th", { class: "num" }, "A prune reclaims"))),
      body);
  }

  // --- files stored more than once (report --format html --dupes): the figures, the contents, the advice ---
  function dupesPanel(d) {
    const panel = el("div", { class: "dupes" });
    panel.append(el("div", { class: "cards" },
      card("Stored files (" + grouping.format(d.stored_files) + ")", d.stored_bytes, "stored_bytes", d.stored_layers + " stored layers"),
      card("Duplicate content", d.duplicate_bytes, "duplicate_bytes", "what a content-addressed store would save"),
      card("Consolidatable", d.consolidatable_bytes, "consolidatable_bytes", "what shared layers would save"),
    ));
    const names = (images) => images.slice(0, 5).map((i) => (i.tags.length ? i.tags[0] : "<none> " + shortId(i.id))).join(", ") +
      (images.length > 5 ? " and " + (images.length - 5) + " more" : "");
    const body = el("tbody");
    for (const g of d.groups) {
      const more = g.paths_total > 1 ? " (+" + (g.paths_total - 1) + " paths)" : "";
      body.append(el("tr", { "data-digest": g.digest },
        el("td", { class: "num", "data-bytes": String(g.wasted_bytes), title: exact(g.wasted_bytes) }, human(g.wasted_bytes)),
        el("td", { class: "num", title: exact(g.size) }, human(g.size)),
        el("td", { class: "num" }, String(g.copies)),
        el("td", null, oneLine(g.paths[0] + more, 120)),
        el("td", null, oneLine(names(g.images), 120))));
    }
    if (d.groups.length) {
      const shown = d.groups_total > d.groups.length ? " (the largest " + d.groups.length + " of " + grouping.format(d.groups_total) + ")" : "";
      panel.append(el("h4", null, "Contents stored more than once" + shown), el("table", { class: "dupes-groups" },
        el("thead", null, el("tr", null, el("th", { class: "num" }, "Wasted"), el("th", { class: "num" }, "Size"),
          el("th", { class: "num" }, "Copies"), el("th", null, "Path"), el("th", null, "Images"))), body));
    }
    if (d.advice.length) {
      panel.append(el("h4", null, "Shared layers that would store them once"));
      panel.append(el("ol", { class: "dupes-advice" }, ...d.advice.slice(0, 20).map((a) => el("li", { "data-saving-bytes": String(a.saving_bytes) },
        a.text, el("div", { class: "muted" }, "in " + a.folders.map((f) => f.folder + " (" + f.files + ")").join(", ") +
          (a.base ? "; move them into " + names([a.base]) + ", which all of them are built on" : ""))))));
    }
    for (const u of d.unread_layers) panel.append(el("div", { class: "muted" }, "not read: layer " + shortId(u.chain_id) + ": " + u.why));
    return panel;
  }

  function drawSection(s, position) {
    const T = s.totals;
    const section = el("section", { class: "engine-section", "data-section": position });
    section.append(el("h2", null, s.title), el("div", { class: "muted" }, "Collected " + s.collected_at));
    const ratio = T.physical_bytes ? (T.logical_bytes / T.physical_bytes).toFixed(2) + "× logical/physical" : "";
    section.append(el("div", { class: "cards" },
      el("div", { class: "card", "data-figure": "images" }, el("div", { class: "label" }, "Images"), el("div", { class: "value" }, T.images), el("div", { class: "exact" }, T.tags + " tags, " + T.layers + " layers")),
      card("Listed (sum of docker image ls SIZE)", T.listed_bytes, "listed_bytes"),
      card("Logical (each image once)", T.logical_bytes, "logical_bytes"),
      card("Physical (each layer once)", T.physical_bytes, "physical_bytes", T.blob_bytes ? "blobs " + human(T.blob_bytes) : ""),
      card("Saved by sharing", T.saved_bytes, "saved_bytes", ratio),
    ));
    if (s.notes.length) section.append(el("ul", { class: "notes" }, ...s.notes.map((note) => el("li", null, note))));
    if (s.disk) {
      section.append(el("h3", null, "The whole disk under the data root"));
      section.append(diskTable(s.disk));
      if (s.disk.on_disk_bytes !== null) section.append(el("div", { class: "muted" }, "On disk in all: " + human(s.disk.on_disk_bytes) + " (" + exact(s.disk.on_disk_bytes) + ")"));
    }
    if (s.dupes) {
      section.append(el("h3", null, "Files stored more than once"));
      section.append(dupesPanel(s.dupes));
    }
    const state = { picked: new Set(), refresh: () => {} };
    const detail = el("div", { class: "detail" });
    const whatIf = whatIfPanel(s, state);
    let table = null;
    const select = (i) => {
      showHistory(s, i, detail);
      table.rows.forEach((row) => row.classList.remove("current"));
      if (table.rows[i]) table.rows[i].classList.add("current");
    };
    table = imagesTable(s, state, select);
    performance.mark("layershare:table built");
    state.refresh = () => {
      table.rows.forEach((row, i) => {  // rows not made yet take their state when made
        const picked = state.picked.has(i);
        row.classList.toggle("picked", picked);
        row.querySelector("input").checked = picked;
      });
      whatIf.update();
    };
    const trail = el("nav", { class: "trail", "aria-label": "zoomed into" });
    const chartBox = el("div", { class: "chart", role: "img", "aria-label": "treemap of the physical bytes: bases, the images built on them, their own layers" });
    const main = el("div", null,
      el("h3", null, "Where the physical bytes are"),
      el("div", { class: "muted" }, "Each stored layer once, under the image that adds it; images under the images they build on. Click to zoom in (the line above the chart zooms out); hover for the layer's instruction and the images using it." +
        (T.blob_bytes ? " Drawn: the unpacked layers (snapshots), " + human(T.physical_bytes - T.blob_bytes) + "; the store's content blobs (" + human(T.blob_bytes) + ") are counted in the physical total, not drawn." : "")),
      trail,
      chartBox,
      el("h3", null, "Images"),
      table.node,
      detail,
    );
    const tablePlace = el("div");
    main.replaceChild(tablePlace, table.node);
    section.append(el("div", { class: "layout" }, main, whatIf.panel));
    app.append(section);
    performance.mark("layershare:section in the page");
    drawChart(s, chartBox, trail, select);  // before the big table is in the page: its layout is not forced twice
    performance.mark("layershare:chart drawn");
    main.replaceChild(table.node, tablePlace);
  }

  app.replaceChildren();
  if (doc.history) {
    const h = doc.history;
    app.append(el("h2", null, "Layers of " + h.title), historyTable(h.created_by.map((instruction, position) => ({
      position, instruction: instruction || "(no instruction)", size: h.size[position], chain: h.chain_id[position], users: h.shared_with[position] + 1,
    }))));
  }
  if (doc.sections.length > 1) {
    const sum = (key) => doc.sections.reduce((total, s) => total + s.totals[key], 0);
    app.append(el("div", { class: "cards" },
      card("Physical on " + doc.sections.length + " engines", sum("physical_bytes"), "all_physical_bytes"),
      card("Logical on " + doc.sections.length + " engines", sum("logical_bytes"), "all_logical_bytes")));
  }
  doc.sections.forEach(drawSection);
  // Ready once the first frame with everything in it has been laid out and painted.
  requestAnimationFrame(() => setTimeout(() => {
    performance.mark("layershare:painted");
    document.body.setAttribute("data-ready-ms", String(Math.round(performance.now())));
    document.body.setAttribute("data-ready", "true");
  }, 0));
})();
