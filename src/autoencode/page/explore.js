// The explorer page of autoencode: written by `autoencode explore`, needs nothing but itself.
// Arrays arrive as base64 of zlib-compressed bytes in <script id="blob-NAME"> elements; the
// decoder's layers and everything else about the run in <script id="meta">.
"use strict";
(function () {
  const meta = JSON.parse(document.getElementById("meta").textContent);
  const $ = (id) => document.getElementById(id);
  const TAB = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5",
    "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5"];
  const PLAIN = "#3b6ea8"; // every point, when the data has no labels
  const NEIGHBOURS = 8;
  const MAX_SLIDERS = 64;

  // -- reading the arrays ----------------------------------------------------------------------
  function fromBase64(text) {
    if (Uint8Array.fromBase64) return Uint8Array.fromBase64(text);
    const raw = atob(text), bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function halfToFloat(bits) {
    const out = new Float32Array(bits.length), table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, f = h & 1023;
      table[h] = e === 0 ? s * f * 2 ** -24 : e === 31 ? (f ? NaN : s * Infinity)
        : s * (1 + f / 1024) * 2 ** (e - 15);
    }
    for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
    return out;
  }

  async function readBlob(name) {
    const element = document.getElementById("blob-" + name);
    if (!element) return null;
    const packed = fromBase64(element.textContent);
    element.textContent = ""; // the text is no longer needed
    const stream = new Blob([packed]).stream().pipeThrough(new DecompressionStream("deflate"));
    const buffer = await new Response(stream).arrayBuffer();
    const kinds = { u1: Uint8Array, i4: Int32Array, f4: Float32Array, f2: Uint16Array };
    const data = new kinds[element.dataset.dtype](buffer);
    return element.dataset.dtype === "f2" ? halfToFloat(data) : data;
  }

  // -- the decoder -------------------------------------------------------------------------------
  const ACTIVATIONS = {
    linear: (x) => x,
    relu: (x) => (x > 0 ? x : 0),
    selu: (x) => 1.0507009873554805 * (x > 0 ? x : 1.6732632423543772 * Math.expm1(x)),
    elu: (x) => (x > 0 ? x : Math.expm1(x)),
    gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
    tanh: Math.tanh,
    sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  };

  function erf(x) { // Abramowitz & Stegun 7.1.26 refined (W. J. Cody's rational form is overkill)
    const t = 1 / (1 + 0.5 * Math.abs(x));
    const y = 1 - t * Math.exp(-x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 +
      t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
      t * (-0.82215223 + t * 0.17087277)))))))));
    return x >= 0 ? y : -y;
  }

  function dense(layer, x, w) {
    const n = x.length, m = layer.out[layer.out.length - 1], W = w[layer.weight], b = w[layer.bias];
    const act = ACTIVATIONS[layer.act], y = new Float64Array(m);
    for (let o = 0; o < m; o++) {
      let s = b[o];
      for (let i = 0, r = o * n; i < n; i++) s += W[r + i] * x[i];
      y[o] = act(s);
    }
    return y;
  }

  function convTranspose(layer, x, w) {
    // torch's ConvTranspose2d without padding, then the first out[1] × out[2] rows and columns
    const [cin, h, wd] = layer.in, [cout, oh, ow] = layer.out, [kh, kw] = layer.kernel;
    const [sh, sw] = layer.stride, W = w[layer.weight], b = w[layer.bias];
    const act = ACTIVATIONS[layer.act], y = new Float64Array(cout * oh * ow);
    for (let co = 0; co < cout; co++) y.fill(b[co], co * oh * ow, (co + 1) * oh * ow);
    for (let ci = 0; ci < cin; ci++) {
      for (let iy = 0; iy < h; iy++) {
        for (let ix = 0; ix < wd; ix++) {
          const v = x[(ci * h + iy) * wd + ix];
          if (v === 0) continue;
          for (let co = 0; co < cout; co++) {
            const k0 = (ci * cout + co) * kh * kw, y0 = co * oh * ow;
            for (let ky = 0; ky < kh; ky++) {
              const oy = iy * sh + ky;
              if (oy >= oh) break;
              for (let kx = 0; kx < kw; kx++) {
                const ox = ix * sw + kx;
                if (ox >= ow) break;
                y[y0 + oy * ow + ox] += v * W[k0 + ky * kw + kx];
              }
            }
          }
        }
      }
    }
    for (let i = 0; i < y.length; i++) y[i] = act(y[i]);
    return y;
  }

  function decode(z) { // a coding (flat) to the image in [0, 1], flat in (C, H, W) order
    let x = Float64Array.from(z);
    for (const layer of meta.decoder) {
      if (layer.op === "dense") x = dense(layer, x, S.weights);
      else if (layer.op === "convT") x = convTranspose(layer, x, S.weights);
    }
    return x.map(ACTIVATIONS.sigmoid);
  }

  // -- state -------------------------------------------------------------------------------------
  const S = {
    n: meta.points, view: { scale: 1, tx: 0, ty: 0 }, selected: -1, selection: new Set(),
    neighbours: [], spot: null, z: null, drawn: 0, hovered: -1, ready: false,
  };
  const [H, W, C] = meta.image;
  const D = meta.codingsShape.reduce((a, b) => a * b, 1);
  const canvas = $("map"), ctx = canvas.getContext("2d");
  let dpr = 1, screenX, screenY, grid = null, order, frame = 0, pixelBuffer = null;

  function colourOf(c) {
    if (!meta.classes) return PLAIN;
    return c < TAB.length ? TAB[c] : `hsl(${(c * 137.508) % 360} 60% 45%)`;
  }

  function rgba32(css) { // a CSS colour as the canvas' little-endian 32-bit pixel
    const probe = document.createElement("canvas").getContext("2d");
    probe.fillStyle = css;
    probe.fillRect(0, 0, 1, 1);
    const [r, g, b] = probe.getImageData(0, 0, 1, 1).data;
    return (255 << 24) | (b << 16) | (g << 8) | r;
  }

  // -- the map -------------------------------------------------------------------------------------
  function fit() {
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let i = 0; i < S.n; i++) {
      const x = S.coords[2 * i], y = S.coords[2 * i + 1];
      if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
    }
    const margin = 20 * dpr; // points clear of the legend, which takes at most half the width
    const legend = Math.min(($("legend").offsetWidth + 10) * dpr, canvas.width / 2);
    const w = Math.max(1, canvas.width - 2 * margin - legend), h = Math.max(1, canvas.height - 2 * margin);
    const scale = Math.min(w / (x1 - x0 || 1), h / (y1 - y0 || 1));
    S.view = { scale, tx: margin + w / 2 - scale * (x0 + x1) / 2,
      ty: canvas.height / 2 + scale * (y0 + y1) / 2 };
  }

  function resize() {
    dpr = window.devicePixelRatio || 1;
    const box = canvas.getBoundingClientRect();
    const w = Math.max(1, Math.round(box.width * dpr)), h = Math.max(1, Math.round(box.height * dpr));
    if (w === canvas.width && h === canvas.height) return false;
    S.view.tx += (w - canvas.width) / 2; S.view.ty += (h - canvas.height) / 2; // the same centre
    canvas.width = w; canvas.height = h; pixelBuffer = null;
    return true;
  }

  function toCanvas(clientX, clientY) { // client (CSS) coordinates to the canvas' pixels
    const box = canvas.getBoundingClientRect();
    return [(clientX - box.left) * canvas.width / box.width, (clientY - box.top) * canvas.height / box.height];
  }

  function toClient(x, y) {
    const box = canvas.getBoundingClientRect();
    return [box.left + x * box.width / canvas.width, box.top + y * box.height / canvas.height];
  }

  function draw() {
    frame = 0;
    const w = canvas.width, h = canvas.height, { scale, tx, ty } = S.view;
    if (!pixelBuffer) pixelBuffer = ctx.createImageData(w, h);
    const pixels = new Uint32Array(pixelBuffer.data.buffer);
    pixels.fill(0xffffffff);
    const css = S.n < 2000 ? 5 : S.n < 20000 ? 3 : 2; // a point's side, in CSS pixels
    const size = Math.max(css, Math.round(css * dpr)), half = size >> 1;
    let drawn = 0;
    for (const i of order) {
      const c = S.labels ? S.labels[i] : 0;
      if (!S.visible[c]) { screenX[i] = NaN; continue; }
      const x = S.coords[2 * i] * scale + tx, y = ty - S.coords[2 * i + 1] * scale;
      screenX[i] = x; screenY[i] = y;
      const px = Math.round(x) - half, py = Math.round(y) - half;
      if (px + size <= 0 || py + size <= 0 || px >= w || py >= h) continue;
      drawn++;
      const colour = S.colours[c];
      for (let r = Math.max(0, py); r < Math.min(h, py + size); r++) {
        pixels.fill(colour, r * w + Math.max(0, px), r * w + Math.min(w, px + size));
      }
    }
    ctx.putImageData(pixelBuffer, 0, 0);
    S.drawn = drawn;
    buildGrid();
    drawMarks();
  }

  function drawMarks() { // the selection, the neighbours and a decoded spot, over the points
    ctx.lineWidth = 1.5 * dpr;
    const ring = (i, colour, r) => {
      if (!(screenX[i] === screenX[i])) return; // hidden class
      ctx.strokeStyle = colour; ctx.beginPath();
      ctx.arc(screenX[i], screenY[i], r * dpr, 0, 2 * Math.PI); ctx.stroke();
    };
    for (const [i] of S.neighbours) ring(i, "#f0a000", 5);
    for (const i of S.selection) ring(i, "#000", 6);
    if (S.selected >= 0) ring(S.selected, "#e00", 8);
    if (S.spot) {
      const x = S.spot[0] * S.view.scale + S.view.tx, y = S.view.ty - S.spot[1] * S.view.scale;
      ctx.strokeStyle = "#e00"; ctx.beginPath();
      ctx.moveTo(x - 7 * dpr, y); ctx.lineTo(x + 7 * dpr, y);
      ctx.moveTo(x, y - 7 * dpr); ctx.lineTo(x, y + 7 * dpr); ctx.stroke();
    }
  }

  function redraw() { if (!frame) frame = requestAnimationFrame(draw); }

  const CELL = 8; // device pixels per cell of the hover index
  function buildGrid() { // the drawn points by screen cell (a counting sort), for hover and click
    const cols = Math.ceil(canvas.width / CELL), rows = Math.ceil(canvas.height / CELL);
    const cellOf = new Int32Array(S.n).fill(-1), start = new Int32Array(cols * rows + 1);
    for (let i = 0; i < S.n; i++) {
      const x = Math.floor(screenX[i] / CELL), y = Math.floor(screenY[i] / CELL);
      if (x >= 0 && y >= 0 && x < cols && y < rows) { cellOf[i] = y * cols + x; start[cellOf[i] + 1]++; }
    }
    for (let k = 0; k < cols * rows; k++) start[k + 1] += start[k];
    const fill = start.slice(0, -1), items = new Int32Array(start[cols * rows]);
    for (let i = 0; i < S.n; i++) if (cellOf[i] >= 0) items[fill[cellOf[i]]++] = i;
    grid = { cols, rows, start, items };
  }

  function pick(x, y, radius) { // the drawn point nearest to device pixel (x, y), or -1
    if (!grid) return -1;
    let best = -1, bestD = radius * radius;
    const cx0 = Math.max(0, Math.floor((x - radius) / CELL)), cx1 = Math.min(grid.cols - 1, Math.floor((x + radius) / CELL));
    const cy0 = Math.max(0, Math.floor((y - radius) / CELL)), cy1 = Math.min(grid.rows - 1, Math.floor((y + radius) / CELL));
    for (let cy = cy0; cy <= cy1; cy++) {
      for (let cx = cx0; cx <= cx1; cx++) {
        const k = cy * grid.cols + cx;
        for (let j = grid.start[k]; j < grid.start[k + 1]; j++) {
          const i = grid.items[j], d = (screenX[i] - x) ** 2 + (screenY[i] - y) ** 2;
          if (d <= bestD) { best = i; bestD = d; }
        }
      }
    }
    return best;
  }

  // -- images --------------------------------------------------------------------------------------
  function paint(target, pixelAt) { // pixelAt(row, col, channel) in [0, 255]
    target.width = W; target.height = H;
    const g = target.getContext("2d"), image = g.createImageData(W, H), px = image.data;
    for (let r = 0; r < H; r++) {
      for (let c = 0; c < W; c++) {
        const o = 4 * (r * W + c);
        if (C === 1) { const v = 255 - pixelAt(r, c, 0); px[o] = px[o + 1] = px[o + 2] = v; }
        else for (let k = 0; k < 3; k++) px[o + k] = pixelAt(r, c, Math.min(k, C - 1));
        px[o + 3] = 255;
      }
    }
    g.putImageData(image, 0, 0);
  }
  // gray images are drawn as the figures draw them: dark ink on white (matplotlib's "binary")
  const paintImage = (target, i) => paint(target, (r, c, k) => S.images[((i * H + r) * W + c) * C + k]);
  const paintDecoded = (target, x) => paint(target, (r, c, k) => Math.round(255 * x[(k * H + r) * W + c]));

  function caption(i) {
    if (i < 0) return "no point";
    const name = meta.classes ? meta.classes[S.labels[i]] : null;
    return name === null ? `#${i}` : `${name} · #${i}`;
  }

  // -- interaction --------------------------------------------------------------------------------
  function nearestInCodings(i, k) { // the k nearest other points by Euclidean distance of codings
    const best = [], z = S.codings.subarray(i * D, (i + 1) * D);
    for (let j = 0; j < S.n; j++) {
      if (j === i) continue;
      let d = 0;
      for (let t = 0, o = j * D; t < D; t++) { const e = S.codings[o + t] - z[t]; d += e * e; }
      if (best.length < k || d < best[best.length - 1][1]) {
        best.push([j, d]); best.sort((a, b) => a[1] - b[1] || a[0] - b[0]);
        if (best.length > k) best.pop();
      }
    }
    return best.map(([j, d]) => [j, Math.sqrt(d)]);
  }

  function select(i, add = false) {
    if (!(i >= 0 && i < S.n)) return;
    if (add && S.selection.has(i)) { deselect(i); return; }
    if (add) S.selection.add(i); else S.selection = new Set([i]);
    S.selected = i; S.spot = null;
    $("point-text").textContent = `${caption(i)} (${S.selection.size} selected)`;
    paintImage($("original"), i);
    S.neighbours = nearestInCodings(i, NEIGHBOURS);
    showNeighbours();
    setCoding(Float32Array.from(S.codings.subarray(i * D, (i + 1) * D)), `the coding of ${caption(i)}`);
    if (meta.decoder) paintDecoded($("reconstruction"), decode(S.z));
    $("download").disabled = false;
    redraw();
  }

  function deselect(i) { // out of the selection; the last point selected becomes the shown one
    S.selection.delete(i);
    const rest = [...S.selection];
    if (rest.length) { select(rest[rest.length - 1], false); S.selection = new Set(rest); }
    else { S.selected = -1; S.neighbours = []; showNeighbours(); }
    $("point-text").textContent = `${caption(S.selected)} (${S.selection.size} selected)`;
    $("download").disabled = S.selection.size === 0;
    redraw();
  }

  function showNeighbours() {
    const box = $("neighbours");
    box.replaceChildren();
    for (const [j, d] of S.neighbours) {
      const figure = document.createElement("figure"), image = document.createElement("canvas");
      const text = document.createElement("figcaption");
      image.className = "image"; paintImage(image, j);
      text.append(caption(j), document.createElement("br"), `distance ${d.toFixed(2)}`);
      figure.title = `select ${caption(j)}`; figure.dataset.index = j;
      figure.append(image, text);
      figure.addEventListener("click", () => select(j));
      box.append(figure);
    }
    $("select-neighbours").disabled = S.neighbours.length === 0;
  }

  function decodeAt(x, y) { // the coding interpolated from the 8 nearest drawn points of the map
    const dx = (x - S.view.tx) / S.view.scale, dy = (S.view.ty - y) / S.view.scale;
    const near = [];
    for (let i = 0; i < S.n; i++) {
      if (!(screenX[i] === screenX[i])) continue;
      const d = (S.coords[2 * i] - dx) ** 2 + (S.coords[2 * i + 1] - dy) ** 2;
      if (near.length < NEIGHBOURS || d < near[near.length - 1][1]) {
        near.push([i, d]); near.sort((a, b) => a[1] - b[1]);
        if (near.length > NEIGHBOURS) near.pop();
      }
    }
    if (!near.length) return;
    const z = new Float32Array(D);
    let total = 0;
    for (const [i, d] of near) {
      const weight = 1 / (d + 1e-12);
      total += weight;
      for (let t = 0; t < D; t++) z[t] += weight * S.codings[i * D + t];
    }
    for (let t = 0; t < D; t++) z[t] /= total;
    S.spot = [dx, dy]; S.selected = -1; S.neighbours = [];
    showNeighbours();
    setCoding(z, `interpolated from the ${near.length} nearest points of the map at (${dx.toFixed(1)}, ${dy.toFixed(1)})`);
    redraw();
  }

  function setCoding(z, what) {
    S.z = z; S.origin = Float32Array.from(z);
    $("decode-reset").disabled = !meta.decoder;
    if (!meta.decoder) { $("decode-text").textContent = meta.decoderNote; return; }
    const which = D > MAX_SLIDERS ? ` (sliders for the ${MAX_SLIDERS} of ${D} dimensions that vary most)` : "";
    $("decode-text").textContent = `Decoding ${what}; move a slider to change one dimension${which}.`;
    buildSliders();
    paintDecoded($("decoded"), decode(z));
  }

  function drawSample() { // the next of the codings drawn from the run's sampler when the page was written
    const k = S.nextDraw, count = S.draws.length / D;
    S.nextDraw = (k + 1) % count;
    setCoding(Float32Array.from(S.draws.subarray(k * D, (k + 1) * D)), `sample ${k + 1} of ${count} drawn from the ${meta.sampler}`);
  }

  let decodeFrame = 0;
  function redecode() { // once a frame, however fast a slider moves
    if (!decodeFrame) decodeFrame = requestAnimationFrame(() => { decodeFrame = 0; paintDecoded($("decoded"), decode(S.z)); });
  }

  function buildSliders() {
    const box = $("sliders");
    box.replaceChildren();
    for (const t of S.sliderDims) {
      const lo = Math.min(S.range[2 * t], S.z[t]), hi = Math.max(S.range[2 * t + 1], S.z[t]);
      const label = document.createElement("label"), input = document.createElement("input");
      const value = document.createElement("span");
      input.type = "range"; input.min = lo; input.max = hi; input.step = (hi - lo) / 400 || 1e-6;
      input.value = S.z[t]; input.dataset.dim = t;
      value.textContent = S.z[t].toFixed(3);
      input.addEventListener("input", () => {
        S.z[t] = Number(input.value); value.textContent = S.z[t].toFixed(3);
        redecode();
      });
      label.append(`z${t}`, input, value);
      box.append(label);
    }
  }

  function codingStatistics() { // each dimension's range, and which get sliders (the widest spread)
    S.range = new Float32Array(2 * D);
    const spread = new Float64Array(D);
    for (let t = 0; t < D; t++) {
      let lo = Infinity, hi = -Infinity, sum = 0, sq = 0;
      for (let i = 0; i < S.n; i++) { const v = S.codings[i * D + t]; lo = Math.min(lo, v); hi = Math.max(hi, v); sum += v; sq += v * v; }
      S.range[2 * t] = lo; S.range[2 * t + 1] = hi;
      spread[t] = sq / S.n - (sum / S.n) ** 2;
    }
    const dims = [...Array(D).keys()];
    S.sliderDims = D <= MAX_SLIDERS ? dims : dims.sort((a, b) => spread[b] - spread[a]).slice(0, MAX_SLIDERS).sort((a, b) => a - b);
  }

  function csvField(text) { // quoted where needed; a leading = + - @ cannot become a formula
    if (/^[=+\-@]/.test(text)) text = "'" + text;
    return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  }

  function downloadSelection() {
    const rows = [["index", "label", "class", "x", "y", ...Array.from({ length: D }, (_, t) => `z${t}`)].join(",")];
    for (const i of [...S.selection].sort((a, b) => a - b)) {
      const label = S.labels ? meta.labelValues[S.labels[i]] : "";
      const name = S.labels ? csvField(meta.classes[S.labels[i]]) : "";
      rows.push([i, label, name, S.coords[2 * i], S.coords[2 * i + 1], ...S.codings.subarray(i * D, (i + 1) * D)].join(","));
    }
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([rows.join("\n") + "\n"], { type: "text/csv" }));
    link.download = `${meta.title}_${meta.split}_selection.csv`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }

  function showTip(i, x, y) {
    const tip = $("tip");
    if (i < 0) { tip.hidden = true; S.hovered = -1; return; }
    if (i !== S.hovered) {
      paintImage($("tip-image"), i);
      $("tip-text").textContent = caption(i);
      tip.dataset.index = i;
      S.hovered = i;
    }
    tip.hidden = false;
    const box = canvas.getBoundingClientRect(), [cx, cy] = toClient(x, y);
    tip.style.left = `${Math.min(cx - box.left + 14, box.width - 100)}px`;
    tip.style.top = `${Math.min(cy - box.top + 14, box.height - 110)}px`;
  }

  function listen() {
    let down = null;
    const at = (e) => toCanvas(e.clientX, e.clientY);
    canvas.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return; // the main button only: others are the browser's
      down = { p: at(e), view: { ...S.view }, moved: false };
      canvas.setPointerCapture(e.pointerId);
    });
    canvas.addEventListener("pointercancel", () => { down = null; });
    canvas.addEventListener("pointermove", (e) => {
      const [x, y] = at(e);
      if (down) {
        const dx = x - down.p[0], dy = y - down.p[1];
        if (Math.abs(dx) + Math.abs(dy) > 3 * dpr) down.moved = true;
        if (down.moved) { S.view.tx = down.view.tx + dx; S.view.ty = down.view.ty + dy; showTip(-1); redraw(); }
        return;
      }
      showTip(pick(x, y, 6 * dpr), x, y);
    });
    canvas.addEventListener("pointerup", (e) => {
      if (e.button !== 0) return;
      if (down && !down.moved) {
        const [x, y] = at(e), i = pick(x, y, 6 * dpr);
        if (i >= 0) select(i, e.shiftKey); else decodeAt(x, y);
      }
      down = null;
    });
    canvas.addEventListener("pointerleave", () => { if (!down) showTip(-1); });
    canvas.addEventListener("wheel", (e) => {
      e.preventDefault();
      if (down) return; // no zoom in the middle of a drag
      const pixels = e.deltaY * (e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1); // lines, pages
      const [x, y] = at(e), f = Math.exp(-pixels * 0.0015);
      S.view.tx = x - (x - S.view.tx) * f; S.view.ty = y - (y - S.view.ty) * f; S.view.scale *= f;
      showTip(-1); redraw();
    }, { passive: false });
    canvas.addEventListener("dblclick", () => { fit(); redraw(); });
    new ResizeObserver(() => { if (resize()) draw(); }).observe(canvas);
    $("find").addEventListener("submit", (e) => { e.preventDefault(); find(Number($("find-index").value)); });
    $("download").addEventListener("click", downloadSelection);
    $("decode-sample").addEventListener("click", drawSample);
    $("decode-reset").addEventListener("click", () => { S.z = Float32Array.from(S.origin); buildSliders(); paintDecoded($("decoded"), decode(S.z)); });
    $("select-neighbours").addEventListener("click", () => {
      for (const [j] of S.neighbours) S.selection.add(j);
      $("point-text").textContent = `${caption(S.selected)} (${S.selection.size} selected)`;
      redraw();
    });
  }

  function find(i) {
    if (!Number.isInteger(i) || i < 0 || i >= S.n) { status(`no point ${i}: indices run from 0 to ${S.n - 1}`, true); return; }
    if (S.labels && !S.visible[S.labels[i]]) { S.visible[S.labels[i]] = 1; buildLegend(); }
    S.view.tx += canvas.width / 2 - (S.coords[2 * i] * S.view.scale + S.view.tx);
    S.view.ty += canvas.height / 2 - (S.view.ty - S.coords[2 * i + 1] * S.view.scale);
    select(i);
    status(describe());
  }

  function buildLegend() {
    const box = $("legend");
    box.replaceChildren();
    if (!meta.classes) { box.textContent = "no labels: one colour"; return; }
    const counts = new Array(meta.classes.length).fill(0);
    for (let i = 0; i < S.n; i++) counts[S.labels[i]]++;
    meta.classes.forEach((name, c) => {
      const button = document.createElement("button"), swatch = document.createElement("i");
      swatch.style.background = colourOf(c);
      button.append(swatch, `${name} (${counts[c]})`);
      button.className = S.visible[c] ? "" : "off";
      button.title = "show or hide this class";
      button.addEventListener("click", () => { S.visible[c] ^= 1; buildLegend(); draw(); });
      box.append(button);
    });
  }

  function status(text, error = false) { $("status").textContent = $("status").title = text; $("status").classList.toggle("error", error); }
  function describe() {
    return `${S.n.toLocaleString("en")} points · ${meta.method} map (${meta.mapFrom}) · codings ${meta.codingsShape.join("×")} · decoder: ${meta.decoderNote}`;
  }

  async function start() {
    api.timings.script = performance.now();
    $("title").textContent = meta.title;
    $("subtitle").textContent = `${meta.kind}${meta.preset ? ` (preset ${meta.preset})` : ""} · ${meta.data}, ${meta.split} split`;
    const names = ["coords", "labels", "images", "codings", "draws", ...weightNames()];
    const arrays = await Promise.all(names.map(readBlob));
    api.timings.arrays = performance.now();
    Object.assign(S, { coords: arrays[0], labels: arrays[1], images: arrays[2], codings: arrays[3], draws: arrays[4], nextDraw: 0, weights: {} });
    names.slice(5).forEach((name, k) => { S.weights[name] = arrays[5 + k]; });
    const classes = meta.classes ? meta.classes.length : 1;
    S.visible = new Uint8Array(classes).fill(1);
    S.colours = Array.from({ length: classes }, (_, c) => rgba32(colourOf(c)));
    order = shuffled(S.n);
    screenX = new Float32Array(S.n); screenY = new Float32Array(S.n);
    for (const id of ["original", "reconstruction", "decoded"]) { $(id).width = W; $(id).height = H; }
    status(describe());
    buildLegend(); resize(); fit(); draw(); codingStatistics(); listen();
    if (!meta.decoder) $("decode-text").textContent = meta.decoderNote;
    $("decode-sample").disabled = !(meta.decoder && S.draws);
    $("decode-sample").title = meta.sampler ? `decode a coding drawn from the ${meta.sampler}` : "this run has no prior and no fitted sampler (autoencode fit-sampler)";
    api.readyAt = performance.now();
    S.ready = true;
  }

  function weightNames() {
    return (meta.decoder || []).flatMap((layer) => [layer.weight, layer.bias].filter(Boolean));
  }

  function shuffled(n) { // a fixed drawing order, so that no class always lies on top
    const p = Int32Array.from({ length: n }, (_, i) => i);
    let seed = 42;
    for (let i = n - 1; i > 0; i--) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      const j = seed % (i + 1), t = p[i]; p[i] = p[j]; p[j] = t;
    }
    return p;
  }

  // what tests (and the curious, from the console) can ask of the page
  const api = {
    meta,
    readyAt: null,
    timings: {}, // performance.now() when the script started and when the arrays were read
    get drawn() { return S.drawn; },
    get selected() { return S.selected; },
    get selection() { return [...S.selection]; },
    get hovered() { return S.hovered; },
    screenOf: (i) => toClient(screenX[i], screenY[i]), // client (CSS) coordinates of point i
    decode: (z) => Array.from(decode(z)),
    neighbours: (i, k = NEIGHBOURS) => nearestInCodings(i, k),
    select, find,
    redrawNow: draw,
  };
  window.explore = api;
  api.ready = start().catch((error) => { status(`this page could not load: ${error}`, true); throw error; });
})();
