// The HTML timeline page's script (arpwatch_lb/sinks/html_timeline.py inlines it).
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("arpwatch-data").textContent);
  // Times come as whole microseconds after D.t0: seconds from here on.
  D.start /= 1e6; D.end /= 1e6;
  for (const ip of D.ips) {
    for (const r of ip.runs) { r[1] /= 1e6; r[2] /= 1e6; }
    for (const f of ip.flips) f[1] /= 1e6;
    if (ip.dups) for (const d of ip.dups) d[0] /= 1e6;
  }
  const SVGNS = "http://www.w3.org/2000/svg";
  const COLORS = ["#1f6fc5", "#e08a00", "#1a9a5a", "#8e44ad", "#0097a7", "#d6456e", "#6b8e23",
    "#5d4037"];
  const GUTTER = 320, RIGHT = 14, AXIS = 22, LANE = 30, BAR = 12, BAR_TOP = 9, STRIP = 46, GAP = 8;
  const MIN_BAR = 2, MARK_PX = 4;
  const NICE = [1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120,
    300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];
  const span0 = Math.max(D.end - D.start, 1e-3);
  const pad0 = span0 * 0.02;
  const FULL = [D.start - pad0, D.end + pad0];
  let view = FULL.slice();
  const rendered = new Map();  // section index -> {el, width}
  const stats = { renders: 0, lastRenderMs: 0 };

  function el(tag, attrs, parent) {
    const n = document.createElementNS(SVGNS, tag);
    for (const k in attrs) n.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(n);
    return n;
  }
  function pad(n, w) { return String(n).padStart(w, "0"); }
  // Exact UTC time of a page time (seconds after D.t0), to the microsecond.
  function stamp(t, date) {
    let whole = Math.floor(t), micro = Math.round((t - whole) * 1e6);
    if (micro >= 1e6) { whole += 1; micro -= 1e6; }
    const d = new Date((D.t0 + whole) * 1000);
    const hms = pad(d.getUTCHours(), 2) + ":" + pad(d.getUTCMinutes(), 2) + ":" +
      pad(d.getUTCSeconds(), 2) + "." + pad(micro, 6);
    if (!date) return hms;
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1, 2) + "-" + pad(d.getUTCDate(), 2) +
      " " + hms + " UTC";
  }
  function dur(s) {
    if (s < 1e-3) return (s * 1e6).toFixed(0) + " µs";
    if (s < 1) return (s * 1e3).toFixed(s < 0.01 ? 2 : 1) + " ms";
    if (s < 120) return s.toFixed(s < 10 ? 3 : 1) + " s";
    if (s < 7200) return (s / 60).toFixed(1) + " min";
    if (s < 172800) return (s / 3600).toFixed(1) + " h";
    return (s / 86400).toFixed(1) + " d";
  }
  function tickLabel(t, step) {
    const d = new Date((D.t0 + Math.floor(t + 1e-9)) * 1000);
    const hm = pad(d.getUTCHours(), 2) + ":" + pad(d.getUTCMinutes(), 2);
    if (step >= 86400) return pad(d.getUTCMonth() + 1, 2) + "-" + pad(d.getUTCDate(), 2);
    if (step >= 60) return hm;
    if (step >= 1) return hm + ":" + pad(d.getUTCSeconds(), 2);
    const frac = t - Math.floor(t + 1e-9);
    const digits = step >= 0.1 ? 1 : step >= 0.01 ? 2 : 3;
    return pad(d.getUTCSeconds(), 2) + "." + Math.round(frac * Math.pow(10, digits))
      .toString().padStart(digits, "0");
  }
  function niceStep(spanSec, px, target) {
    const want = spanSec * target / Math.max(px, 1);
    for (const s of NICE) if (s >= want) return s;
    return Math.ceil(want / 604800) * 604800;
  }
  // Index of the first run whose end is >= t (runs are in time order and do not overlap).
  function firstEndingAfter(runs, t) {
    let lo = 0, hi = runs.length;
    while (lo < hi) { const m = (lo + hi) >> 1; if (runs[m][2] < t) lo = m + 1; else hi = m; }
    return lo;
  }
  function lowerBound(arr, t, key) {
    let lo = 0, hi = arr.length;
    while (lo < hi) { const m = (lo + hi) >> 1; if (key(arr[m]) < t) lo = m + 1; else hi = m; }
    return lo;
  }
  function laneName(l) {
    const who = [l.node, l.kind].filter(Boolean).join(" · ");
    return l.mac + (who ? " (" + who + ")" : "");
  }

  function render(index) {
    const ip = D.ips[index];
    const sec = document.getElementById("ip-" + index);
    const host = sec.querySelector(".chart");
    const width = Math.max(host.clientWidth, 480);
    const x0 = GUTTER, x1 = width - RIGHT, pw = x1 - x0;
    const [v0, v1] = view;
    const k = pw / (v1 - v0);
    const X = t => x0 + (t - v0) * k;
    const nl = ip.lanes.length;
    const lanesTop = AXIS + 4, stripTop = lanesTop + nl * LANE + GAP;
    const height = stripTop + STRIP + 18;
    const svg = el("svg", { width: width, height: height, viewBox: "0 0 " + width + " " + height,
      role: "img", "aria-label": "owner timeline of " + ip.ip });
    el("rect", { x: x0, y: 0, width: pw, height: height, fill: "transparent", class: "plot" }, svg);
    el("clipPath", { id: "clip-" + index }, el("defs", {}, svg))
      .appendChild(el("rect", { x: x0, y: 0, width: pw, height: height }));
    // Axis and grid.
    const step = niceStep(v1 - v0, pw, 110);
    const axis = el("g", { class: "axis" }, svg);
    for (let t = Math.ceil(v0 / step) * step; t <= v1; t += step) {
      const x = Math.round(X(t)) + 0.5;
      el("line", { x1: x, x2: x, y1: AXIS - 4, y2: stripTop + STRIP, class: "grid" }, axis);
      if (x > x1 - 40) continue;
      const lab = el("text", { x: x + 3, y: AXIS - 8 }, axis);
      lab.textContent = tickLabel(t, step);
    }
    // Lanes: bands and labels.
    const lanesG = el("g", {}, svg);
    ip.lanes.forEach((l, i) => {
      const y = lanesTop + i * LANE;
      el("rect", { x: 0, y: y + 1, width: width, height: LANE - 2, class: "lane-band" }, lanesG);
      const who = l.node || (l.hosts.length ? "host " + l.hosts.join(", ") : "");
      const two = !!(who || l.kind);
      el("rect", { x: 6, y: y + (two ? 5 : 10), width: 10, height: 10, rx: 2,
        fill: COLORS[i % COLORS.length] }, lanesG);
      const t = el("text", { x: 22, y: y + (two ? 14 : 19), class: "lane-label" }, lanesG);
      const mac = el("tspan", { class: "lane-mac" }, t); mac.textContent = l.mac;
      if (l.kind) { const kd = el("tspan", { class: "lane-kind", dx: 8 }, t); kd.textContent = l.kind; }
      if (who) {
        const w = el("tspan", { class: "lane-who", x: 22, dy: 12 }, t);
        w.textContent = who.length > 44 ? who.slice(0, 43) + "…" : who;
      }
      const n = el("text", { x: GUTTER - 10, y: y + (two ? 14 : 19), "text-anchor": "end",
        class: "lane-label" }, lanesG);
      n.textContent = l.frames != null ? "×" + l.frames.toLocaleString("en") : "";
      const title = el("title", {}, t);
      title.textContent = laneName(l) + "\n" + (l.frames != null ? l.frames + " frames, " : "") +
        (l.runs != null ? l.runs + " runs" : "") +
        (l.hosts.length ? "\nalso claims " + l.hosts.join(", ") : "") +
        (l.evidence ? "\nevidence: " + l.evidence : "");
    });
    const plot = el("g", { "clip-path": "url(#clip-" + index + ")" }, svg);
    const runs = ip.runs;
    // Runs visible in the view (with one run of margin either side for the connectors).
    const a = Math.max(firstEndingAfter(runs, v0) - 1, 0);
    let b = lowerBound(runs, v1, r => r[1]);
    b = Math.min(b + 1, runs.length);
    // Owner changes: connectors from the old owner's lane to the new one's, merged per pixel.
    let changes = "", lastCx = -1e9, cyMin = 0, cyMax = 0;
    const flushChange = () => {
      if (lastCx > -1e9) changes += "M" + lastCx + " " + cyMin + "V" + cyMax;
    };
    for (let i = Math.max(a, 1); i < b; i++) {
      const cx = Math.round(X(runs[i][1])) + 0.5;
      const ya = lanesTop + runs[i - 1][0] * LANE + BAR_TOP + BAR / 2, yb = lanesTop + runs[i][0] * LANE + BAR_TOP + BAR / 2;
      const lo = Math.min(ya, yb), hi = Math.max(ya, yb);
      if (cx === lastCx) { cyMin = Math.min(cyMin, lo); cyMax = Math.max(cyMax, hi); continue; }
      flushChange(); lastCx = cx; cyMin = lo; cyMax = hi;
    }
    flushChange();
    if (changes) el("path", { d: changes, class: "change" }, plot);
    // Bars, one group per lane; runs closer than a pixel merge into one bar.
    const laneG = ip.lanes.map((l, i) => el("g", { class: "lane", "data-lane": i, "data-mac": l.mac,
      fill: COLORS[i % COLORS.length] }, plot));
    const open = ip.lanes.map(() => null);
    let bars = 0, mergedRuns = 0;
    const emit = (lane, m) => {
      const y = lanesTop + lane * LANE + BAR_TOP;
      const r = el("rect", { x: m.x.toFixed(1), y: y, width: Math.max(m.x2 - m.x, MIN_BAR).toFixed(1),
        height: BAR, class: m.n > 1 ? "run merged" : "run", "data-runs": m.n, "data-frames": m.f,
        "data-a": m.a, "data-b": m.b }, laneG[lane]);
      bars++; if (m.n > 1) mergedRuns += m.n;
      return r;
    };
    for (let i = a; i < b; i++) {
      const r = runs[i], lane = r[0];
      const rx = X(r[1]), rx2 = X(r[2]);
      const m = open[lane];
      if (m && rx < Math.max(m.x2, m.x + MIN_BAR) + 1) {
        m.x2 = Math.max(m.x2, rx2); m.n++; m.f += r[3]; m.b = i;
      } else {
        if (m) emit(lane, m);
        open[lane] = { x: rx, x2: rx2, n: 1, f: r[3], a: i, b: i };
      }
    }
    open.forEach((m, lane) => { if (m) emit(lane, m); });
    // Flip-flops: a triangle over the lane of the MAC that came back, merged per few pixels.
    const flipG = el("g", { class: "flips" }, plot);
    let flips = 0;
    const fa = lowerBound(ip.flips, a, f => f[0]), fb = lowerBound(ip.flips, b, f => f[0]);
    const openF = new Map();
    const emitF = (lane, m) => {
      const cx = m.x, y = lanesTop + lane * LANE + 1;
      el("path", { d: "M" + (cx - 4).toFixed(1) + " " + y + "h8l-4 7z", class: "flip",
        "data-lane": lane, "data-count": m.n, "data-a": m.a, "data-b": m.b }, flipG);
      flips++;
    };
    for (let j = fa; j < fb; j++) {
      const i = ip.flips[j][0], lane = runs[i][0], x = X(runs[i][1]);
      if (x < x0 - 8 || x > x1 + 8) continue;
      const m = openF.get(lane);
      if (m && x - m.x < MARK_PX) { m.n++; m.b = j; continue; }
      if (m) emitF(lane, m);
      openF.set(lane, { x: x, n: 1, a: j, b: j });
    }
    openF.forEach((m, lane) => emitF(lane, m));
    // Duplicate replies: a line joining the two MACs' lanes at the time of the second reply.
    const dupG = el("g", { class: "dups" }, plot);
    let dupMarks = 0;
    if (ip.dups) {
      const da = lowerBound(ip.dups, v0 - 8 / k, d => d[0]), db = lowerBound(ip.dups, v1 + 8 / k, d => d[0]);
      let m = null;
      const emitD = () => {
        const ya = lanesTop + m.lo * LANE + LANE - 4.5, yb = lanesTop + m.hi * LANE + LANE - 4.5;
        const g = el("g", { class: "dup-mark", "data-count": m.n, "data-a": m.a, "data-b": m.b }, dupG);
        const x = m.x.toFixed(1);
        el("line", { x1: x, x2: x, y1: ya, y2: yb, class: "dup-hit" }, g);
        el("line", { x1: x, x2: x, y1: ya, y2: yb, class: "dup" }, g);
        el("circle", { cx: x, cy: ya, r: 2.6, class: "dupend" }, g);
        el("circle", { cx: x, cy: yb, r: 2.6, class: "dupend" }, g);
        dupMarks++;
      };
      for (let j = da; j < db; j++) {
        const d = ip.dups[j], x = X(d[0]);
        const lo = Math.min(d[1], d[2]), hi = Math.max(d[1], d[2]);
        if (m && x - m.x < MARK_PX) { m.n++; m.b = j; m.lo = Math.min(m.lo, lo); m.hi = Math.max(m.hi, hi); continue; }
        if (m) emitD();
        m = { x: x, n: 1, a: j, b: j, lo: lo, hi: hi };
      }
      if (m) emitD();
    }
    // Strip: claims per minute (bars; a run's frames spread evenly over its span) and owner
    // changes per minute (line), in buckets of a nice width.
    const bucket = niceStep(v1 - v0, pw, 12);
    const nb = Math.ceil((v1 - v0) / bucket) + 2, base = Math.floor(v0 / bucket) * bucket;
    const claims = new Float64Array(nb), chg = new Float64Array(nb);
    for (let i = a; i < b; i++) {
      const r = runs[i], len = r[2] - r[1];
      if (i > 0) { const q = Math.floor((r[1] - base) / bucket); if (q >= 0 && q < nb) chg[q]++; }
      if (len <= 0) { const q = Math.floor((r[1] - base) / bucket); if (q >= 0 && q < nb) claims[q] += r[3]; continue; }
      const q0 = Math.floor((r[1] - base) / bucket), q1 = Math.floor((r[2] - base) / bucket);
      for (let q = Math.max(q0, 0); q <= Math.min(q1, nb - 1); q++) {
        const lo = Math.max(r[1], base + q * bucket), hi = Math.min(r[2], base + (q + 1) * bucket);
        claims[q] += r[3] * Math.max(hi - lo, 0) / len;
      }
    }
    const perMin = 60 / bucket;
    let cmax = 0, hmax = 0;
    for (let q = 0; q < nb; q++) { cmax = Math.max(cmax, claims[q]); hmax = Math.max(hmax, chg[q]); }
    const strip = el("g", { class: "strip" }, svg);
    el("rect", { x: x0, y: stripTop, width: pw, height: STRIP, class: "strip-bg" }, strip);
    const sp = el("g", { "clip-path": "url(#clip-" + index + ")" }, strip);
    const sy = v => stripTop + STRIP - 2 - v * (STRIP - 8);
    let bp = "";
    for (let q = 0; q < nb; q++) {
      if (!claims[q]) continue;
      const xa = X(base + q * bucket), xb = X(base + (q + 1) * bucket);
      bp += "M" + xa.toFixed(1) + " " + (stripTop + STRIP - 1) + "V" + sy(claims[q] / cmax).toFixed(1) +
        "H" + Math.max(xb - 1, xa + 1).toFixed(1) + "V" + (stripTop + STRIP - 1) + "z";
    }
    if (bp) el("path", { d: bp, class: "claims-bar" }, sp);
    if (hmax > 0) {
      let lp = "";
      for (let q = 0; q < nb; q++) {
        const xa = X(base + q * bucket), xb = X(base + (q + 1) * bucket), y = sy(chg[q] / hmax).toFixed(1);
        lp += (q ? "L" : "M") + xa.toFixed(1) + " " + y + "L" + xb.toFixed(1) + " " + y;
      }
      el("path", { d: lp, class: "changes-line" }, sp);
    }
    const fmt = v => v >= 100 ? Math.round(v).toLocaleString("en") : v.toPrecision(2);
    const sl = el("text", { x: 22, y: stripTop + 14, class: "strip-label" }, strip);
    sl.textContent = "claims/min (bars), max " + fmt(cmax * perMin);
    const sl2 = el("text", { x: 22, y: stripTop + 28, class: "strip-label" }, strip);
    sl2.textContent = "owner changes/min (red), max " + fmt(hmax * perMin);
    const sl3 = el("text", { x: 22, y: stripTop + 42, class: "strip-label" }, strip);
    sl3.textContent = "bucket " + dur(bucket);
    el("rect", { x: 0, y: 0, width: 0, height: height, class: "sel", visibility: "hidden" }, svg);
    svg.dataset.bars = bars; svg.dataset.flips = flips; svg.dataset.dups = dupMarks;
    host.replaceChildren(svg);
    const note = sec.querySelector(".merge-note");
    if (mergedRuns) {
      note.hidden = false;
      note.textContent = "At this zoom " + mergedRuns.toLocaleString("en") + " runs closer together " +
        "than a pixel are drawn merged (hover a bar for how many); zoom in to separate them.";
    } else note.hidden = true;
    rendered.set(index, { width: width });
  }

  // Which sections are on screen: only those are drawn (and redrawn on zoom).
  const visible = new Set();
  let pending = false;
  function redraw() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; drawNow(); });
  }
  function drawNow() {
    const t = performance.now();
    for (const i of visible) render(i);
    for (const i of Array.from(rendered.keys())) if (!visible.has(i)) rendered.delete(i);
    stats.renders++; stats.lastRenderMs = performance.now() - t;
    showView();
  }
  function showView() {
    const v = document.querySelector(".toolbar .view");
    if (v) v.textContent = stamp(Math.max(view[0], 0)).slice(0, 12) + " – " +
      stamp(view[1]).slice(0, 12) + " UTC (" + dur(view[1] - view[0]) + ")";
  }
  function setView(a, b) {
    const minSpan = 1e-4, maxSpan = (FULL[1] - FULL[0]) * 4;
    let s = Math.min(Math.max(b - a, minSpan), maxSpan), c = (a + b) / 2;
    view = [c - s / 2, c + s / 2];
    redraw();
  }
  function zoomAt(t, factor) {
    setView(t - (t - view[0]) * factor, t + (view[1] - t) * factor);
  }
  function pan(frac) { const s = view[1] - view[0]; setView(view[0] + s * frac, view[1] + s * frac); }

  const sections = Array.from(document.querySelectorAll("section.ip .chart"));
  const io = "IntersectionObserver" in window ? new IntersectionObserver(entries => {
    for (const en of entries) {
      const i = +en.target.dataset.index;
      if (en.isIntersecting) { visible.add(i); if (!rendered.has(i)) render(i); }
      else visible.delete(i);
    }
    showView();
  }, { rootMargin: "300px 0px" }) : null;
  sections.forEach(s => { if (io) io.observe(s); else visible.add(+s.dataset.index); });

  // Hover: exact times and frames.
  const tip = document.getElementById("tip");
  function tipText(ip, t) {
    const a = +t.dataset.a, b = +t.dataset.b;
    if (t.classList.contains("run")) {
      const r0 = ip.runs[a], r1 = ip.runs[b], l = ip.lanes[r0[0]];
      let frames = 0; for (let i = a; i <= b; i++) frames += ip.runs[i][3];
      const head = laneName(l) + (l.evidence ? "\nevidence: " + l.evidence : "");
      const first = ip.dropped + a + 1;
      if (a === b) return head + "\nowner run " + first.toLocaleString("en") + " of " +
        (ip.changes + 1).toLocaleString("en") + "\nfrom " + stamp(r0[1], true) + "\nto   " +
        stamp(r0[2], true) + "\n" + dur(r0[2] - r0[1]) + ", " + frames + " frame" + (frames === 1 ? "" : "s");
      return head + "\n" + (+t.dataset.runs).toLocaleString("en") + " runs of this MAC merged " +
        "(closer than a pixel; zoom in)\nfirst from " + stamp(r0[1], true) + "\nlast to    " +
        stamp(r1[2], true) + "\n" + frames.toLocaleString("en") + " frames";
    }
    if (t.classList.contains("flip")) {
      const f = ip.flips[a], r = ip.runs[f[0]], prev = ip.runs[f[0] - 1];
      const head = +t.dataset.count > 1 ? t.dataset.count + " flip-flops, the first:\n" : "flip-flop\n";
      return head + stamp(r[1], true) + "\n" + ip.lanes[r[0]].mac + " took the IP back from " +
        ip.lanes[prev[0]].mac + "\nits previous claim was " + dur(f[1]) + " earlier (window " +
        D.window + " s)";
    }
    const d = ip.dups[a];
    const head = +t.dataset.count > 1 ? t.dataset.count + " duplicate replies, the first:\n" : "duplicate reply\n";
    return head + stamp(d[0], true) + "\n" + (ip.lanes[d[1]] || {}).mac + " and " +
      (ip.lanes[d[2]] || {}).mac + " both answered " + (d[3] || "a requester") + " within " +
      D.dup_window + " s";
  }
  document.addEventListener("mousemove", ev => {
    const t = ev.target.closest && ev.target.closest(".run, .flip, .dup-mark");
    if (!t || dragging) { tip.hidden = true; return; }
    const sec = t.closest("section.ip");
    tip.textContent = tipText(D.ips[+sec.dataset.index], t);
    tip.hidden = false;
    const w = tip.offsetWidth, h = tip.offsetHeight;
    tip.style.left = Math.min(ev.clientX + 14, window.innerWidth - w - 6) + "px";
    tip.style.top = (ev.clientY + 16 + h > window.innerHeight ? ev.clientY - h - 10 : ev.clientY + 16) + "px";
  });

  // Zoom and pan: the time axis is shared by every IP.
  let dragging = null;
  function timeAt(svg, clientX) {
    const r = svg.getBoundingClientRect(), w = r.width;
    return view[0] + (clientX - r.left - GUTTER) / (w - GUTTER - RIGHT) * (view[1] - view[0]);
  }
  document.addEventListener("pointerdown", ev => {
    const svg = ev.target.closest && ev.target.closest(".chart svg");
    if (!svg || ev.button !== 0) return;
    const r = svg.getBoundingClientRect();
    if (ev.clientX - r.left < GUTTER) return;
    dragging = { svg: svg, x: ev.clientX, view: view.slice(), select: ev.shiftKey,
      w: r.width - GUTTER - RIGHT, left: r.left };
    svg.classList.add("drag");
    ev.preventDefault();
  });
  document.addEventListener("pointermove", ev => {
    if (!dragging) return;
    const dx = ev.clientX - dragging.x, s = dragging.view[1] - dragging.view[0];
    if (dragging.select) {
      const sel = dragging.svg.querySelector(".sel");
      const lo = Math.min(ev.clientX, dragging.x) - dragging.left, hi = Math.max(ev.clientX, dragging.x) - dragging.left;
      sel.setAttribute("x", Math.max(lo, GUTTER)); sel.setAttribute("width", Math.max(hi - Math.max(lo, GUTTER), 0));
      sel.setAttribute("visibility", "visible");
      return;
    }
    view = [dragging.view[0] - dx / dragging.w * s, dragging.view[1] - dx / dragging.w * s];
    redraw();
  });
  document.addEventListener("pointerup", ev => {
    if (!dragging) return;
    const d = dragging; dragging = null;
    d.svg.classList.remove("drag");
    if (d.select && Math.abs(ev.clientX - d.x) > 3) {
      const s = d.view[1] - d.view[0];
      const ta = d.view[0] + (Math.min(ev.clientX, d.x) - d.left - GUTTER) / d.w * s;
      const tb = d.view[0] + (Math.max(ev.clientX, d.x) - d.left - GUTTER) / d.w * s;
      setView(ta, tb);
    } else if (d.select) redraw();
  });
  document.addEventListener("wheel", ev => {
    const svg = ev.target.closest && ev.target.closest(".chart svg");
    if (!svg) return;
    if (ev.ctrlKey || ev.metaKey) {
      ev.preventDefault();
      zoomAt(timeAt(svg, ev.clientX), Math.pow(1.0015, ev.deltaY));
    } else if (ev.shiftKey || Math.abs(ev.deltaX) > Math.abs(ev.deltaY)) {
      ev.preventDefault();
      pan((ev.deltaX || ev.deltaY) / 1000);
    }
  }, { passive: false });
  document.addEventListener("dblclick", ev => {
    const svg = ev.target.closest && ev.target.closest(".chart svg");
    if (svg) zoomAt(timeAt(svg, ev.clientX), ev.shiftKey ? 2 : 0.5);
  });
  document.querySelector(".toolbar").addEventListener("click", ev => {
    const act = ev.target.dataset && ev.target.dataset.act;
    const mid = (view[0] + view[1]) / 2;
    if (act === "in") zoomAt(mid, 0.5);
    else if (act === "out") zoomAt(mid, 2);
    else if (act === "left") pan(-0.25);
    else if (act === "right") pan(0.25);
    else if (act === "fit") setView(FULL[0], FULL[1]);
  });
  document.addEventListener("keydown", ev => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;  // the browser's own shortcuts
    if (ev.target.closest && ev.target.closest("input, textarea, summary")) return;
    const mid = (view[0] + view[1]) / 2;
    if (ev.key === "+" || ev.key === "=") zoomAt(mid, 0.5);
    else if (ev.key === "-") zoomAt(mid, 2);
    else if (ev.key === "0") setView(FULL[0], FULL[1]);
    else if (ev.key === "ArrowLeft") pan(-0.1);
    else if (ev.key === "ArrowRight") pan(0.1);
  });
  let resizeTimer = 0;
  window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(redraw, 100); });

  // The owner runs as text, built when opened (a long timeline stays cheap until asked for).
  document.querySelectorAll("details.runs-text").forEach(det => det.addEventListener("toggle", () => {
    const pre = det.querySelector("pre");
    if (!det.open || pre.textContent) return;
    const ip = D.ips[+det.closest("section.ip").dataset.index];
    const flip = new Set(ip.flips.map(f => f[0]));
    const lines = ["# first (UTC)\tlast (UTC)\tMAC\tframes\t" + (ip.dropped ? "(" + ip.dropped + " older runs dropped)" : "")];
    ip.runs.forEach((r, i) => lines.push(stamp(r[1], true) + "\t" + stamp(r[2], true) + "\t" +
      ip.lanes[r[0]].mac + "\t" + r[3] + (flip.has(i) ? "\tflip-flop" : "")));
    if (ip.dups) ip.dups.forEach(d => lines.push(stamp(d[0], true) + "\tduplicate reply\t" +
      (ip.lanes[d[1]] || {}).mac + " " + (ip.lanes[d[2]] || {}).mac + "\tto " + d[3]));
    pre.textContent = lines.join("\n");
  }));

  window.arpwatchTimeline = {
    data: D, stats: stats,
    view: () => view.slice(),
    setView: (a, b) => { setView(a, b); },
    // Draw every section now (tests, printing); returns the milliseconds it took.
    renderAll: () => {
      const t = performance.now();
      sections.forEach(s => { const i = +s.dataset.index; render(i); });
      return performance.now() - t;
    },
  };
  // First paint: the sections on screen now, synchronously (the observer fills in the rest).
  const vh = window.innerHeight || 800;
  for (const s of sections) {
    const r = s.getBoundingClientRect();
    if (r.top < vh + 300 && r.bottom > -300) { const i = +s.dataset.index; visible.add(i); render(i); }
  }
  showView();
  requestAnimationFrame(() => requestAnimationFrame(() => {
    stats.firstPaintMs = performance.now();
    document.body.dataset.rendered = "1";
  }));
})();
