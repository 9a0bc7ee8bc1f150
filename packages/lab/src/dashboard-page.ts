import { createHash } from 'node:crypto';

/**
 * The cluster dashboard the gateway serves at `/_stateline/`: one self-contained page (inline CSS
 * and script, nothing fetched from elsewhere) that polls `/_stateline/status` every second, lists
 * the instances with kill / stop / start buttons, and draws requests and errors per second over
 * the last minute as inline SVG. The script is plain browser JavaScript kept as text here (the lab
 * compiles for Node, without DOM types); a test parses it.
 */

const STYLE = String.raw`
:root { color-scheme: light dark; --fg: #1f2933; --muted: #61707f; --bg: #f7f8fa; --card: #fff; --line: #d9dee4; --accent: #2563eb; --bad: #dc2626; --ok: #16a34a; --warn: #d97706; }
@media (prefers-color-scheme: dark) { :root { --fg: #e5e9ee; --muted: #9aa6b2; --bg: #111418; --card: #1a1f25; --line: #2d343c; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; gap: 8px 24px; align-items: baseline; padding: 14px 24px; border-bottom: 1px solid var(--line); background: var(--card); }
h1 { font-size: 18px; margin: 0; }
h2 { font-size: 15px; margin: 0 0 10px; }
main { padding: 18px 24px; display: grid; gap: 18px; max-width: 1100px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
.config span { margin-right: 16px; color: var(--muted); }
.config b { color: var(--fg); font-weight: 600; }
.poll { margin-left: auto; color: var(--muted); }
.poll.bad { color: var(--bad); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { color: var(--muted); font-weight: 500; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.state { font-weight: 600; }
.state-up { color: var(--ok); }
.state-down { color: var(--bad); }
.state-starting, .state-draining { color: var(--warn); }
button { font: inherit; padding: 3px 10px; margin-right: 4px; border: 1px solid var(--line); border-radius: 5px; background: var(--bg); color: var(--fg); cursor: pointer; }
button:hover:not(:disabled) { border-color: var(--accent); }
button:disabled { opacity: 0.45; cursor: default; }
button.kill { color: var(--bad); }
.message { min-height: 1.4em; margin: 10px 0 0; color: var(--muted); }
.message.bad { color: var(--bad); }
svg { width: 100%; height: auto; display: block; }
svg text { fill: var(--muted); font-size: 11px; }
svg .grid { stroke: var(--line); stroke-width: 1; }
.legend { list-style: none; padding: 0; margin: 8px 0 0; display: flex; flex-wrap: wrap; gap: 14px; color: var(--muted); }
.legend svg { width: 22px; height: 10px; display: inline-block; vertical-align: middle; margin-right: 4px; }
form { display: flex; gap: 8px; align-items: center; padding: 12px 24px; background: var(--card); border-bottom: 1px solid var(--line); }
form[hidden] { display: none; }
input { font: inherit; padding: 3px 6px; border: 1px solid var(--line); border-radius: 5px; background: var(--bg); color: var(--fg); }
`;

// Plain browser JavaScript (no template literals: this file holds it in one).
const SCRIPT = String.raw`
(function () {
  'use strict';
  var TOKEN_KEY = 'stateline.adminToken';
  var WINDOW = 60;
  var W = 720, H = 240, PAD_L = 44, PAD_R = 12, PAD_T = 12, PAD_B = 26;
  var COLORS = ['#2563eb', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#db2777', '#65a30d', '#7c3aed'];
  var ERROR_COLOR = '#dc2626';
  var SVG_NS = 'http://www.w3.org/2000/svg';
  var samples = [];
  var busy = {};
  var colorOf = {};
  var last = null;
  var needsToken = document.body.getAttribute('data-auth') === 'token';

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  function svg(tag, attrs) {
    var e = document.createElementNS(SVG_NS, tag);
    for (var k in attrs || {}) e.setAttribute(k, String(attrs[k]));
    return e;
  }
  function token() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; }
  }
  function headers() {
    var t = token();
    return t ? { authorization: 'Bearer ' + t } : {};
  }
  function showMessage(text, bad) {
    var m = $('message');
    m.textContent = text;
    m.className = bad ? 'message bad' : 'message';
  }
  function problemText(status, body) {
    try {
      var p = JSON.parse(body);
      if (p && p.title) {
        var detail = typeof p.detail === 'string' ? p.detail : '';
        return detail && detail.indexOf(p.title) !== 0 ? p.title + ': ' + detail : detail || p.title;
      }
    } catch (e) { /* not a problem document */ }
    return 'HTTP ' + status;
  }
  function askToken(text) {
    $('token-form').hidden = false;
    $('poll').textContent = text;
    $('poll').className = 'poll bad';
  }

  function poll() {
    fetch('/_stateline/status', { headers: headers(), cache: 'no-store' })
      .then(function (res) {
        return res.text().then(function (body) {
          if (res.status === 401) return askToken('admin token needed');
          if (!res.ok) throw new Error(problemText(res.status, body));
          $('token-form').hidden = true;
          update(JSON.parse(body));
        });
      })
      .catch(function (err) {
        $('poll').textContent = 'gateway unreachable (' + (err && err.message ? err.message : err) + ')';
        $('poll').className = 'poll bad';
      })
      .then(function () { setTimeout(poll, 1000); });
  }

  function update(status) {
    last = status;
    var now = Date.now();
    var s = { t: now, served: {}, errors: {} };
    status.instances.forEach(function (i) { s.served[i.id] = i.served; s.errors[i.id] = i.errors || 0; });
    samples.push(s);
    while (samples.length > 0 && samples[0].t < now - (WINDOW + 1) * 1000) samples.shift();
    $('strategy').textContent = status.strategy;
    $('store').textContent = status.store;
    $('balance').textContent = status.balance;
    $('poll').textContent = 'updated ' + new Date(now).toLocaleTimeString();
    $('poll').className = 'poll';
    status.instances.forEach(function (i, n) { if (!colorOf[i.id]) colorOf[i.id] = COLORS[n % COLORS.length]; });
    renderRows(status.instances);
    drawChart(status.instances.map(function (i) { return i.id; }));
  }

  function renderRows(instances) {
    var rows = $('rows');
    rows.textContent = '';
    instances.forEach(function (i) {
      var tr = el('tr', { 'data-testid': 'instance-' + i.id, 'data-state': i.state });
      tr.appendChild(el('td', {}, i.id));
      tr.appendChild(el('td', { class: 'state state-' + i.state, 'data-testid': 'state-' + i.id }, i.state));
      tr.appendChild(el('td', { class: 'num' }, i.pid === null ? '-' : i.pid));
      ['inflight', 'served', 'errors', 'retries', 'websockets', 'restarts'].forEach(function (k) {
        tr.appendChild(el('td', { class: 'num', 'data-testid': k + '-' + i.id }, i[k] === undefined ? '-' : i[k]));
      });
      var td = el('td', {});
      [['kill', i.pid === null], ['stop', i.pid === null], ['start', i.pid !== null]].forEach(function (a) {
        var b = el('button', { type: 'button', class: a[0], 'data-testid': a[0] + '-' + i.id }, a[0]);
        b.disabled = a[1] || !!busy[i.id];
        b.addEventListener('click', function () { act(i.id, a[0]); });
        td.appendChild(b);
      });
      tr.appendChild(td);
      rows.appendChild(tr);
    });
  }

  function act(id, action) {
    busy[id] = true;
    if (last) renderRows(last.instances);
    showMessage(action + ' ' + id + '…', false);
    var path = '/_stateline/instances/' + encodeURIComponent(id) + '/' + action;
    fetch(path, { method: 'POST', headers: headers() })
      .then(function (res) {
        return res.text().then(function (body) {
          if (res.status === 401) askToken('admin token needed');
          if (!res.ok) return showMessage(id + ': ' + action + ' failed: ' + problemText(res.status, body), true);
          var i = JSON.parse(body).instance;
          showMessage(id + ': ' + action + ' done, now ' + (i ? i.state : 'unknown'), false);
        });
      })
      .catch(function (err) { showMessage(id + ': ' + action + ' failed: ' + err.message, true); })
      .then(function () {
        delete busy[id];
        if (last) renderRows(last.instances);
      });
  }

  // Per-second rates between consecutive samples; a counter that went back means a new process.
  function rates(ids) {
    var out = { errors: [] };
    ids.forEach(function (id) { out[id] = []; });
    for (var k = 1; k < samples.length; k++) {
      var a = samples[k - 1], b = samples[k];
      var dt = (b.t - a.t) / 1000;
      if (dt <= 0) continue;
      var errs = 0;
      ids.forEach(function (id) {
        var cur = b.served[id], prev = a.served[id];
        if (cur === undefined) return;
        var d = prev === undefined || cur < prev ? cur : cur - prev;
        out[id].push([b.t, d / dt]);
        var ce = b.errors[id] || 0, pe = a.errors[id];
        errs += pe === undefined || ce < pe ? ce : ce - pe;
      });
      out.errors.push([b.t, errs / dt]);
    }
    return out;
  }

  function niceMax(v) {
    if (v <= 1) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var k = 0; k < steps.length; k++) if (steps[k] * p >= v) return steps[k] * p;
    return 10 * p;
  }

  function drawChart(ids) {
    var chart = $('chart');
    chart.textContent = '';
    var r = rates(ids);
    var max = 0;
    ids.concat(['errors']).forEach(function (id) { r[id].forEach(function (p) { if (p[1] > max) max = p[1]; }); });
    max = niceMax(max);
    var now = samples.length ? samples[samples.length - 1].t : Date.now();
    var x = function (t) { return PAD_L + ((t - (now - WINDOW * 1000)) / (WINDOW * 1000)) * (W - PAD_L - PAD_R); };
    var y = function (v) { return PAD_T + (1 - v / max) * (H - PAD_T - PAD_B); };
    [0, 0.5, 1].forEach(function (f) {
      chart.appendChild(svg('line', { class: 'grid', x1: PAD_L, x2: W - PAD_R, y1: y(max * f), y2: y(max * f) }));
      var label = svg('text', { x: PAD_L - 6, y: y(max * f) + 4, 'text-anchor': 'end' });
      label.textContent = String(Math.round(max * f * 10) / 10);
      chart.appendChild(label);
    });
    [[-60, 'start'], [-30, 'middle'], [0, 'end']].forEach(function (t) {
      var label = svg('text', { x: x(now + t[0] * 1000), y: H - 8, 'text-anchor': t[1] });
      label.textContent = t[0] === 0 ? 'now' : t[0] + ' s';
      chart.appendChild(label);
    });
    var legend = $('legend');
    legend.textContent = '';
    ids.concat(['errors']).forEach(function (id) {
      var color = id === 'errors' ? ERROR_COLOR : colorOf[id];
      var points = r[id].filter(function (p) { return p[0] >= now - WINDOW * 1000; })
        .map(function (p) { return x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1); });
      if (points.length > 0) {
        var line = svg('polyline', { points: points.join(' '), fill: 'none', stroke: color, 'stroke-width': 2, 'stroke-linejoin': 'round', 'data-series': id });
        if (id === 'errors') line.setAttribute('stroke-dasharray', '5 3');
        chart.appendChild(line);
      }
      var li = el('li', {});
      var swatch = svg('svg', { viewBox: '0 0 22 10' });
      var mark = svg('line', { x1: 1, x2: 21, y1: 5, y2: 5, stroke: color, 'stroke-width': 3 });
      if (id === 'errors') mark.setAttribute('stroke-dasharray', '5 3');
      swatch.appendChild(mark);
      li.appendChild(swatch);
      var latest = r[id].length ? r[id][r[id].length - 1][1] : 0;
      li.appendChild(document.createTextNode((id === 'errors' ? 'errors' : id) + ' ' + latest.toFixed(1) + '/s'));
      legend.appendChild(li);
    });
  }

  $('token-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    try { sessionStorage.setItem(TOKEN_KEY, $('token').value.trim()); } catch (e) { /* private mode */ }
    $('token').value = '';
    $('token-form').hidden = true;
  });
  if (needsToken && !token()) askToken('admin token needed');
  poll();
})();
`;

const BODY = String.raw`
<header>
  <h1>Stateline cluster</h1>
  <div class="config" data-testid="cluster-config">
    <span>strategy <b id="strategy" data-testid="strategy">…</b></span>
    <span>store <b id="store" data-testid="store">…</b></span>
    <span>balance <b id="balance" data-testid="balance">…</b></span>
  </div>
  <div id="poll" class="poll" data-testid="poll-state">connecting…</div>
</header>
<form id="token-form" data-testid="token-form" hidden>
  <label>Admin token <input id="token" type="password" autocomplete="off" spellcheck="false"></label>
  <button type="submit">Use token</button>
  <span class="message">Kept in this tab only (sessionStorage) and sent as <code>Authorization: Bearer</code>.</span>
</form>
<main>
  <section>
    <h2>Instances</h2>
    <table data-testid="instances">
      <thead><tr><th>Instance</th><th>State</th><th class="num">PID</th><th class="num">In flight</th><th class="num">Served</th><th class="num">Errors</th><th class="num">Retries</th><th class="num">Sockets</th><th class="num">Restarts</th><th></th></tr></thead>
      <tbody id="rows"></tbody>
    </table>
    <p id="message" class="message" role="status" data-testid="dash-message"></p>
  </section>
  <section>
    <h2>Requests per second per instance, and errors per second, over the last 60 s</h2>
    <svg id="chart" data-testid="chart" viewBox="0 0 720 240" role="img" aria-label="requests and errors per second"></svg>
    <ul id="legend" class="legend"></ul>
  </section>
</main>
`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** Only what the page itself holds may run: its one script and its one style block. */
const CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The dashboard's script, for tests that parse it. */
export const DASHBOARD_SCRIPT = SCRIPT;

/** A complete answer for the dashboard page. */
export interface DashboardPage {
  headers: Record<string, string>;
  body: string;
}

const pages = new Map<boolean, DashboardPage>();

/**
 * The dashboard page. `needsToken`: the control API wants an admin token, so the page asks for it
 * (kept in the tab's sessionStorage) and sends it as a bearer header with each request.
 *
 * @example
 * ```ts
 * const page = dashboardPage(false);
 * res.writeHead(200, page.headers).end(page.body);
 * ```
 */
export function dashboardPage(needsToken: boolean): DashboardPage {
  let page = pages.get(needsToken);
  if (!page) {
    const body = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Stateline cluster</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body data-auth="${needsToken ? 'token' : 'loopback'}">${BODY}<script>${SCRIPT}</script>
</body>
</html>
`;
    page = {
      headers: {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'content-security-policy': CSP,
        'referrer-policy': 'no-referrer',
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
      },
      body,
    };
    pages.set(needsToken, page);
  }
  return page;
}
