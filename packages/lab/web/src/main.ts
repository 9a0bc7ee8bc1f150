// The cluster dashboard served at /_stateline/: polls the control API's status once a second,
// lists the instances with kill / stop / start buttons (a kill is confirmed first), marks the one
// that served this browser's shop page last, and charts requests and errors per second with the
// instances' down/up events. The chart starts from the gateway's last 60 s, however late it opens.
import './style.css';
import {
  fetchHistory,
  fetchStatus,
  postAction,
  servedThisBrowser,
  SERVED_BY_KEY,
  storedToken,
  storeToken,
  type Action,
} from './api.js';
import type { ClusterStatus } from '../../src/cluster-status.js';
import { drawChart, WINDOW_S } from './chart.js';
import { byId, el } from './dom.js';
import { renderRows } from './instances.js';
import type { Sample } from './rates.js';

const POLL_MS = 1000;
const samples: Sample[] = [];
const busy = new Set<string>();
let last: ClusterStatus | undefined;

const poll = byId('poll', HTMLElement);
const tokenForm = byId('token-form', HTMLFormElement);
const tokenInput = byId('token', HTMLInputElement);
const rows = byId('rows', HTMLElement);
const message = byId('message', HTMLElement);

function showPoll(text: string, bad: boolean): void {
  poll.textContent = text;
  poll.className = bad ? 'poll bad' : 'poll';
}

function showMessage(text: string, bad: boolean): void {
  message.textContent = text;
  message.className = bad ? 'message bad' : 'message';
}

function askToken(text: string): void {
  tokenForm.hidden = false;
  showPoll(text, true);
}

function redrawRows(): void {
  if (last) renderRows(rows, last.instances, busy, (id, action) => void ask(id, action), servedThisBrowser());
}

/** A kill loses what only that process holds: it is confirmed first. */
function ask(id: string, action: Action): void {
  const you = servedThisBrowser() === id ? ' It served this browser last.' : '';
  if (
    action === 'kill' &&
    !window.confirm(`Kill ${id} (SIGKILL)? Whatever only its memory holds is lost.${you}`)
  )
    return;
  void act(id, action);
}

function renderEvents(status: ClusterStatus): void {
  const list = byId('events', HTMLElement);
  list.textContent = '';
  for (const e of [...status.events].reverse())
    list.append(el('li', { class: e.kind }, `${new Date(e.t).toLocaleTimeString()} ${e.text}`));
  if (status.events.length === 0) list.append(el('li', {}, 'no instance went down in the last 60 s'));
}

function update(status: ClusterStatus): void {
  last = status;
  const now = status.time;
  samples.push({
    t: now,
    served: new Map(status.instances.map((i) => [i.id, i.served])),
    errors: new Map(status.instances.map((i) => [i.id, i.errors])),
  });
  const oldest = now - (WINDOW_S + 1) * 1000;
  while ((samples[0]?.t ?? oldest) < oldest) samples.shift();
  byId('strategy', HTMLElement).textContent = status.strategy;
  byId('store', HTMLElement).textContent = status.store;
  byId('balance', HTMLElement).textContent = status.balance;
  showPoll(`updated ${new Date(now).toLocaleTimeString()}`, false);
  redrawRows();
  renderEvents(status);
  drawChart(
    byId('chart', SVGSVGElement),
    byId('legend', HTMLElement),
    samples,
    status.instances.map((i) => i.id),
    status.events,
  );
}

async function pollOnce(): Promise<void> {
  try {
    const r = await fetchStatus();
    if (r.ok) {
      tokenForm.hidden = true;
      update(r.value);
    } else if (r.needsToken) askToken('admin token needed');
    else showPoll(`gateway unreachable (${r.message})`, true);
  } catch (err) {
    showPoll(`gateway unreachable (${err instanceof Error ? err.message : String(err)})`, true);
  }
  setTimeout(() => void pollOnce(), POLL_MS);
}

async function act(id: string, action: Action): Promise<void> {
  busy.add(id);
  redrawRows();
  showMessage(`${action} ${id}…`, false);
  try {
    const r = await postAction(id, action);
    if (r.ok) showMessage(`${id}: ${action} done, now ${r.value.instance?.state ?? 'unknown'}`, false);
    else {
      if (r.needsToken) askToken('admin token needed');
      showMessage(`${id}: ${action} failed: ${r.message}`, true);
    }
  } catch (err) {
    showMessage(`${id}: ${action} failed: ${err instanceof Error ? err.message : String(err)}`, true);
  } finally {
    busy.delete(id);
    redrawRows();
  }
}

tokenForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  storeToken(tokenInput.value.trim());
  tokenInput.value = '';
  tokenForm.hidden = true;
});
/** Seeds the chart with the last 60 s the lab kept, so a late-opened dashboard is not empty. */
async function loadHistory(): Promise<void> {
  try {
    const r = await fetchHistory();
    if (!r.ok) return;
    for (const s of r.value.samples)
      samples.push({
        t: s.t,
        served: new Map(Object.entries(s.served)),
        errors: new Map(Object.entries(s.errors)),
      });
  } catch {
    // The poll reports an unreachable gateway.
  }
}

// The shop page in another tab notes the instance of its answers: re-mark at once.
window.addEventListener('storage', (e) => {
  if (e.key === SERVED_BY_KEY) redrawRows();
});
if (document.body.dataset.auth === 'token' && !storedToken()) askToken('admin token needed');
void loadHistory().then(() => pollOnce());
