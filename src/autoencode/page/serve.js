// The drop page of `autoencode serve`: it talks to the service that served it, and nothing else.
"use strict";
const $ = (id) => document.getElementById(id);
let objectUrls = [];

function headers() {
  const token = $("token").value;
  return token ? { Authorization: "Bearer " + token } : {};
}

function runPath(path) {
  return "/runs/" + encodeURIComponent($("run").value) + path;
}

async function call(path, body) {
  const response = await fetch(runPath(path), { method: "POST", body, headers: headers() });
  if (!response.ok) {
    let message = response.status + " " + response.statusText;
    try { message = (await response.json()).error; } catch (e) { /* not JSON */ }
    throw new Error(message);
  }
  return response;
}

function track(url) { objectUrls.push(url); return url; }

async function show(file) {
  $("error").textContent = "";
  objectUrls.forEach(URL.revokeObjectURL);
  objectUrls = [];
  const bytes = await file.arrayBuffer();
  try {
    const [reconstruction, score, search] = await Promise.all([
      call("/reconstruct?format=png", bytes), call("/score", bytes), call("/search?k=8", bytes),
    ]);
    $("original").src = track(URL.createObjectURL(new Blob([bytes], { type: file.type })));
    $("reconstruction").src = track(URL.createObjectURL(await reconstruction.blob()));
    showScore(await score.json());
    await showNeighbours(await search.json());
    $("result").hidden = false;
  } catch (e) {
    $("error").textContent = e.message;
  }
}

function showScore(s) {
  const flagged = s.flagged[0];
  $("score").innerHTML = "";
  const line = (text, cls) => {
    const p = document.createElement("p");
    p.textContent = text;
    if (cls) p.className = cls;
    $("score").appendChild(p);
  };
  line(flagged ? "anomalous" : "normal", flagged ? "flagged" : "normal");
  line("score " + s.score[0].toFixed(4) + " (rule " + s.rule + ", threshold " +
       s.threshold.toFixed(4) + " at a false-positive rate of " + s.fpr + ")");
  line("reconstruction error " + s.reconstruction[0].toFixed(5) + "; distance to the " + s.k +
       " nearest training codings " + s.codings_distance[0].toFixed(4));
}

async function showNeighbours(result) {
  const row = $("neighbours");
  row.innerHTML = "";
  const images = await Promise.all(result.neighbours[0].map(async (n) => {
    const response = await fetch(runPath("/images/" + n.index + ".png"), { headers: headers() });
    if (!response.ok) throw new Error("image " + n.index + ": " + response.status);
    return track(URL.createObjectURL(await response.blob()));
  }));
  for (const [i, n] of result.neighbours[0].entries()) {
    const figure = document.createElement("figure");
    const img = document.createElement("img");
    img.alt = "neighbour " + n.index;
    img.src = images[i];
    const caption = document.createElement("figcaption");
    caption.textContent = "#" + n.index + (n["class"] !== undefined ? " " + n["class"] : "") +
      " · " + n.distance.toFixed(3);
    figure.append(img, caption);
    row.appendChild(figure);
  }
  $("neighbours-title").hidden = false;
  $("neighbours-title").textContent = "nearest in coding space (" + result["in"] + ")";
}

async function start() {
  const health = await (await fetch("/health")).json();
  $("token-label").hidden = !health.token_required;
  for (const name of health.runs) {
    const option = document.createElement("option");
    option.value = option.textContent = name;
    $("run").appendChild(option);
  }
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files.length) show(e.dataTransfer.files[0]);
  });
  $("file").addEventListener("change", () => { if ($("file").files.length) show($("file").files[0]); });
  document.body.dataset.ready = "1";
}

start();
