// The page `dlhost run --status` serves at "/": one self-contained HTML
// document (inline CSS and JS, nothing loaded from elsewhere, so it works on
// a machine with no internet access). Its script fetches /stats every second
// and renders the job and one table row per proxy. Every number is written
// as text and also as a data-value attribute with the raw number, which is
// what the tests (and anyone scraping the page) read. Text (the plugin's
// name, proxy ids and states) is set with textContent, never as HTML, and its
// control characters are shown as \xNN, as dlhost's terminal output shows
// them (util::printable), so a page cannot be garbled by what a plugin or a
// server said.
#include "dlhost/host/status_server.hpp"

namespace dlhost {

const std::string &status_page_html() {
  static const std::string page = R"HTML(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>dlhost status</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; margin: 0 0 .3em; }
#conn { color: #666; margin-bottom: 1em; }
#conn.down { color: #b00; }
.bar { height: 14px; background: #eee; border-radius: 3px; max-width: 40em; }
.bar div { height: 100%; background: #3a7; border-radius: 3px; width: 0; }
table { border-collapse: collapse; margin-top: 1em; }
th, td { padding: .25em .8em; text-align: right; border-bottom: 1px solid #ddd; }
th:first-child, td:first-child { text-align: left; }
.healthy { color: #171; } .down, .auth_failed { color: #b00; } .probing { color: #b70; }
</style>
</head>
<body>
<h1>dlhost: <span id="plugin">?</span> <span id="state"></span></h1>
<div id="conn">connecting...</div>
<div class="bar"><div id="bar"></div></div>
<table id="job">
<tr><th>files</th><th>completed</th><th>skipped</th><th>failed</th><th>deferred</th>
<th>bytes</th><th>rate</th><th>elapsed</th></tr>
<tr><td id="files-total">-</td><td id="files-completed">-</td><td id="files-skipped">-</td>
<td id="files-failed">-</td><td id="files-deferred">-</td><td id="bytes">-</td>
<td id="rate">-</td><td id="elapsed">-</td></tr>
</table>
<table id="proxies">
<thead><tr><th>proxy</th><th>state</th><th>in flight</th><th>completed</th><th>failed</th>
<th>retries</th><th>rate limited</th><th>bytes</th><th>p50 ms</th><th>p95 ms</th></tr></thead>
<tbody></tbody>
</table>
<script>
"use strict";
function human(n) {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"]; let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(n)) + " " + u[i];
}
function shown(text) {
  const escaped = c => Array.from(new TextEncoder().encode(c),
                                  b => "\\x" + b.toString(16).padStart(2, "0")).join("");
  return String(text).replace(
      /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g,
      escaped);
}
function put(el, value, text) {
  el.dataset.value = String(value);
  el.textContent = shown(text === undefined ? value : text);
}
function cell(row, value, text) { put(row.insertCell(), value, text); }
let last = null;
function renderJob(s) {
  const f = s.files || {};
  document.getElementById("plugin").textContent = shown(s.plugin + " " + (s.plugin_version || ""));
  document.getElementById("state").textContent = s.interrupted ? "(interrupted)" : "";
  for (const k of ["total", "completed", "skipped", "failed", "deferred"])
    put(document.getElementById("files-" + k), f[k] || 0);
  put(document.getElementById("bytes"), s.bytes, human(s.bytes));
  put(document.getElementById("elapsed"), s.elapsed_s, s.elapsed_s.toFixed(1) + " s");
  let rate = s.elapsed_s > 0 ? s.bytes / s.elapsed_s : 0;
  if (last && s.elapsed_s - last.elapsed_s >= 0.9)  // else too short to measure
    rate = (s.bytes - last.bytes) / (s.elapsed_s - last.elapsed_s);
  put(document.getElementById("rate"), Math.round(rate), human(Math.round(rate)) + "/s");
  const settled = (f.completed || 0) + (f.skipped || 0) + (f.failed || 0) + (f.deferred || 0);
  document.getElementById("bar").style.width =
      (f.total ? Math.min(100, 100 * settled / f.total) : 0) + "%";
}
function renderProxies(list) {
  const body = document.querySelector("#proxies tbody");
  body.textContent = "";
  for (const p of list || []) {
    const row = body.insertRow();
    row.dataset.proxyId = p.id;
    cell(row, p.id);
    cell(row, p.state);
    row.cells[1].className = shown(p.state);
    for (const k of ["in_flight", "completed", "failed", "retries", "rate_limited"])
      cell(row, p[k] || 0);
    cell(row, p.bytes || 0, human(p.bytes || 0));
    const lat = p.latency_ms || {};
    cell(row, lat.p50 || 0, (lat.p50 || 0).toFixed(0));
    cell(row, lat.p95 || 0, (lat.p95 || 0).toFixed(0));
  }
}
async function tick() {
  const conn = document.getElementById("conn");
  try {
    const r = await fetch("/stats", {cache: "no-store"});
    const s = await r.json();
    renderJob(s);
    renderProxies(s.proxies);
    last = s;
    conn.className = "";
    conn.textContent = "live, updated " + new Date().toLocaleTimeString();
    conn.dataset.updates = String(Number(conn.dataset.updates || 0) + 1);
  } catch (e) {
    conn.className = "down";
    conn.textContent = "no answer from dlhost (the job has ended?); last numbers shown";
  }
}
tick();
setInterval(tick, 1000);
</script>
</body>
</html>
)HTML";
  return page;
}

}  // namespace dlhost
