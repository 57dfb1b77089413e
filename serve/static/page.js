// The page: choose creatives, rank them with /v1/rank, explain a pair with /v1/compare, download the results.

import { ApiError, getJson, postForm, token } from "./api.js";
import { showExplanation } from "./explain.js";

const $ = (id) => document.getElementById(id);
const state = { files: [], maxImages: 64, maxBodyMb: Infinity, run: null, result: null, explanations: [], model: null };

// ------------------------------------------------------------------ status, errors, progress

function setStatus(text) {
  $("status").textContent = text;
}

function showError(err) {
  const api = err instanceof ApiError;
  const answered = api && err.status > 0;
  $("error-summary").textContent = api ? err.summary : "Something went wrong in the page.";
  $("error-detail").textContent = answered ? `The server said: ${err.detail} (HTTP ${err.status}, ${err.kind})` : String(api ? err.detail : err);
  $("error-id").textContent = (answered && err.requestId) || "none (no answer from the server)";
  $("error").hidden = false;
}

function hideError() {
  $("error").hidden = true;
}

function startProgress(text) {
  const started = performance.now();
  const bar = $("progress");
  let label = text;
  const tick = () => {
    $("progress-text").textContent = `${label} ${((performance.now() - started) / 1000).toFixed(1)} s`;
  };
  bar.removeAttribute("value");
  $("progress-box").hidden = false;
  const timer = setInterval(tick, 100);
  tick();
  return {
    upload(fraction) {
      bar.value = fraction;
      label = `Uploading ${Math.round(fraction * 100)}%…`;
      tick();
    },
    phase(text2) {
      bar.removeAttribute("value");
      label = text2;
      tick();
    },
    stop() {
      clearInterval(timer);
      $("progress-box").hidden = true;
    },
  };
}

/** Run one request with the page marked busy, progress shown and Cancel offered; errors are shown. */
async function busy(label, serverLabel, send) {
  hideError();
  const progress = startProgress(label);
  const request = send({ onUpload: (f) => progress.upload(f), onSent: () => progress.phase(serverLabel) });
  state.run = request;
  refreshButtons();
  try {
    return await request.done;
  } catch (e) {
    if (e.kind === "aborted") setStatus("Cancelled.");
    else {
      setStatus(`The last request failed: ${e.summary || e}`);
      showError(e);
    }
    return null;
  } finally {
    state.run = null;
    progress.stop();
    refreshButtons();
  }
}

// ------------------------------------------------------------------ the chosen files

function uniqueName(name) {
  const taken = new Set(state.files.map((f) => f.name));
  if (!taken.has(name)) return name;
  const dot = name.lastIndexOf(".");
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ""];
  let i = 2;
  while (taken.has(`${stem} (${i})${ext}`)) i += 1;
  return `${stem} (${i})${ext}`;
}

function addFiles(list) {
  for (const file of list) {
    state.files.push({ file, name: uniqueName(file.name || "image"), url: URL.createObjectURL(file) });
  }
  selectionChanged();
}

function removeFile(index) {
  URL.revokeObjectURL(state.files[index].url);
  state.files.splice(index, 1);
  selectionChanged();
}

function thumb(entry) {
  const img = document.createElement("img");
  img.src = entry.url;
  img.alt = entry.name;
  img.addEventListener("error", () => {
    const none = document.createElement("span");
    none.className = "no-preview";
    none.textContent = "no preview";
    img.replaceWith(none);
  }, { once: true });
  return img;
}

function renderSelection() {
  const items = state.files.map((entry, i) => {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.textContent = entry.name;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "remove";
    remove.textContent = "×";
    remove.setAttribute("aria-label", `Remove ${entry.name}`);
    remove.addEventListener("click", () => removeFile(i));
    li.append(thumb(entry), name, remove);
    return li;
  });
  $("selection").replaceChildren(...items);
  const n = state.files.length;
  let over = "";
  if (n > state.maxImages) over = ` — this server ranks at most ${state.maxImages} at once`;
  else if (tooBig()) over = ` — ${(totalBytes() / 1048576).toFixed(2)} MB, above this server's ${state.maxBodyMb} MB a request`;
  $("count").textContent = n ? `${n} image${n === 1 ? "" : "s"} chosen${over}.` : "No images yet.";
}

function totalBytes() {
  return state.files.reduce((sum, f) => sum + f.file.size, 0);
}

function tooBig() {  // the multipart framing and the text fields take a little of the server's --max-body-mb
  return totalBytes() > state.maxBodyMb * 1048576 * 0.98;
}

function selectionChanged() {
  clearResults();
  renderSelection();
  refreshButtons();
}

function refreshButtons() {
  const n = state.files.length;
  $("rank").disabled = Boolean(state.run) || n < 2 || n > state.maxImages || tooBig();
  $("clear").disabled = Boolean(state.run) || n === 0;
  $("explain").disabled = Boolean(state.run) || !state.result;
  $("download").disabled = Boolean(state.run) || !state.result;
  $("cancel").hidden = !state.run;
}

// ------------------------------------------------------------------ rank

function ranked() {
  return state.result.order.map((i) => ({ index: i, ...state.files[i], score: state.result.scores[String(i)] }));
}

function resultCard(entry, place) {
  const li = document.createElement("li");
  li.className = place === 0 ? "card winner" : "card";
  li.dataset.name = entry.name;
  li.dataset.index = String(entry.index);
  const head = document.createElement("p");
  head.className = "place";
  head.textContent = `#${place + 1}`;
  if (place === 0) {
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.textContent = "Winner";
    head.append(" ", badge);
  }
  const name = document.createElement("p");
  name.className = "name";
  name.textContent = entry.name;
  const score = document.createElement("p");
  score.className = "score";
  score.dataset.score = String(entry.score);
  score.textContent = `score ${(Math.abs(entry.score) < 5e-4 ? 0 : entry.score).toFixed(3)}`;
  const pick = document.createElement("label");
  pick.className = "pick";
  const box = document.createElement("input");
  box.type = "checkbox";
  box.value = String(place);
  box.addEventListener("change", () => picked(box));
  pick.append(box, ` Pick #${place + 1} to explain`);
  li.append(head, thumb(entry), name, score, pick);
  return li;
}

function renderResults() {
  const r = state.result;
  $("results").replaceChildren(...ranked().map(resultCard));
  const cut = Object.keys(r.truncated || {});
  $("results-note").textContent = `Best first. Score: Bradley–Terry log-strength from ${r.comparisons.length} pairwise comparisons`
    + ` (${r.strategy}); higher is better. Ranked in ${(r.server.run_ms / 1000).toFixed(2)} s.`
    + (cut.length ? ` The ${cut.join(" and ")} was cut to the model's token budget.` : "");
  $("results-section").hidden = false;
  updateExplainLabel();
  refreshButtons();
  $("results-h").focus();
}

function clearResults() {
  state.result = null;
  state.explanations = [];
  $("results-section").hidden = true;
  $("explain-section").hidden = true;
}

function form(extra) {
  const data = new FormData();
  data.append("query", $("query").value);
  data.append("title", $("title").value);
  for (const [k, v] of Object.entries(extra)) data.append(k, v);
  return data;
}

async function rank(event) {
  event.preventDefault();
  if (state.run || state.files.length < 2) return;
  clearResults();
  const data = form({});
  for (const f of state.files) data.append("images", f.file, f.name);
  const n = state.files.length;
  const result = await busy(`Sending ${n} images…`, `Ranking ${n} creatives on the server…`, (cb) => postForm("/v1/rank", data, cb));
  if (!result) return;
  state.result = result;
  setStatus(`Ranked ${n} creatives (request ${result.request_id}).`);
  renderResults();
}

// ------------------------------------------------------------------ explain

function pickedPlaces() {
  return [...$("results").querySelectorAll("input[type=checkbox]:checked")].map((b) => Number(b.value)).sort((a, b) => a - b);
}

function picked(box) {
  const checked = [...$("results").querySelectorAll("input[type=checkbox]:checked")];
  if (checked.length > 2) checked.filter((b) => b !== box)[0].checked = false;
  updateExplainLabel();
}

function explainPair() {
  const places = pickedPlaces();
  return places.length === 2 ? places : [0, 1];
}

function updateExplainLabel() {
  const [a, b] = explainPair();
  $("explain").textContent = `Explain #${a + 1} vs #${b + 1}`;
}

async function explain() {
  if (!state.result) return;
  const [pa, pb] = explainPair();
  const list = ranked();
  const a = list[pa];
  const b = list[pb];
  const data = form({ explain: "true" });
  data.append("image_a", a.file, a.name);
  data.append("image_b", b.file, b.name);
  const result = await busy("Sending 2 images…", `Explaining #${pa + 1} vs #${pb + 1} on the server…`,
    (cb) => postForm("/v1/compare", data, cb));
  if (!result) return;
  state.explanations.push({ a: { place: pa + 1, name: a.name }, b: { place: pb + 1, name: b.name }, compare: result });
  showExplanation($("explain-section"), result, a, b);
  $("explain-h").textContent = `Why: #${pa + 1} ${a.name} (A) vs #${pb + 1} ${b.name} (B)`;
  $("explain-h").focus();
}

// ------------------------------------------------------------------ download

function download() {
  const out = {
    saved_at: new Date().toISOString(),
    server: location.origin,
    model: state.model,
    query: $("query").value,
    title: $("title").value,
    images: state.files.map((f) => ({ name: f.name, bytes: f.file.size, type: f.file.type })),
    ranking: ranked().map((e, place) => ({ place: place + 1, name: e.name, index: e.index, score: e.score })),
    rank: state.result,
    explanations: state.explanations,
  };
  const url = URL.createObjectURL(new Blob([JSON.stringify(out, null, 2)], { type: "application/json" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = `ranking-${state.result.request_id}.json`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// ------------------------------------------------------------------ the server: readiness, token, limits

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitReady() {
  for (;;) {
    try {
      return await getJson("/readyz");
    } catch (e) {
      setStatus(e.kind === "not_ready" ? "The model is starting…" : `${e.summary} Retrying…`);
      await sleep(1000);
    }
  }
}

async function checkServer() {
  await waitReady();
  try {
    const m = await getJson("/v1/model");
    state.model = m;
    state.maxImages = m.serve.max_rank_images;
    state.maxBodyMb = m.serve.max_body_mb;
    $("max-images").textContent = String(state.maxImages);
    $("token-field").hidden = !token.get();
    const name = [(m.model.path || "").split("/").pop(), m.model.model_type].filter(Boolean).join(", ") || "model";
    setStatus(`Ready: ${name} · ${m.precision} on ${m.selector.backend} · up to ${state.maxImages} images a ranking.`);
  } catch (e) {
    if (e.kind !== "unauthorized") return showError(e);
    $("token-field").hidden = false;
    setStatus(token.get() ? "The server refused this access token: check it below." : "This server needs an access token: enter it below.");
  }
  renderSelection();
  refreshButtons();
}

function setToken() {
  token.set($("token").value.trim());
  hideError();
  checkServer();
}

// ------------------------------------------------------------------ wiring

function wireDrop() {
  const zone = $("drop");
  for (const type of ["dragover", "drop"]) document.addEventListener(type, (e) => e.preventDefault());
  zone.addEventListener("dragover", () => zone.classList.add("over"));
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    zone.classList.remove("over");
    addFiles(e.dataTransfer.files);
  });
}

function init() {
  $("token").value = token.get();
  $("pick").addEventListener("click", () => $("files").click());
  $("files").addEventListener("change", (e) => {
    addFiles(e.target.files);
    e.target.value = "";
  });
  $("clear").addEventListener("click", () => {
    state.files.forEach((f) => URL.revokeObjectURL(f.url));
    state.files = [];
    selectionChanged();
  });
  $("brief").addEventListener("submit", rank);
  $("cancel").addEventListener("click", () => state.run && state.run.abort());
  document.addEventListener("keydown", (e) => e.key === "Escape" && state.run && state.run.abort());
  $("explain").addEventListener("click", explain);
  $("download").addEventListener("click", download);
  $("token").addEventListener("change", setToken);
  $("forget").addEventListener("click", () => {
    $("token").value = "";
    setToken();
  });
  wireDrop();
  refreshButtons();
  checkServer();
}

init();
