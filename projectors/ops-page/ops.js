// The ops page: polls /v1/ops/overview every 2 s with the admin token given in the form and draws
// it. Everything from the server goes in as text (never as HTML): dead letters hold what users
// sent. Buttons show and redrive a projection's dead letters.
const POLL_MS = 2000;
const TOKEN_KEY = 'parley.ops.token';

const $ = (id) => document.getElementById(id);
let timer;

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = String(text);
  if (className) td.className = className;
  return td;
}

function row(...cells) {
  const tr = document.createElement('tr');
  tr.append(...cells);
  return tr;
}

function say(message) {
  $('status').textContent = message;
}

async function api(path, init = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const response = await fetch(path, {
    ...init,
    headers: { ...(init.headers ?? {}), authorization: `Bearer ${token}` },
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(body.detail ?? body.title ?? `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

function readinessClass(status) {
  if (status === 'ready') return 'good';
  return status === 'degraded' ? 'warn' : 'bad';
}

function drawServices(services) {
  $('services').replaceChildren(
    ...services.map((s) =>
      row(
        cell(s.name),
        cell(s.status, readinessClass(s.status)),
        cell(s.failing.length ? s.failing.join(', ') : 'none'),
        cell(
          s.breakers.length
            ? s.breakers.map((b) => `${b.dependency}: ${b.state}`).join(', ')
            : 'none',
        ),
      ),
    ),
  );
}

function drawGroups(groups) {
  const rows = [];
  for (const g of groups) {
    for (const p of g.partitions) {
      rows.push(
        row(
          cell(g.group),
          cell(
            g.members > 0 ? `${g.state}, ${g.members} consumers` : g.state,
            g.members > 0 ? '' : 'warn',
          ),
          cell(p.topic),
          cell(p.partition, 'number'),
          cell(p.lagEvents, p.lagEvents > 0 ? 'number warn' : 'number'),
          cell(p.lagSeconds.toFixed(1), 'number'),
        ),
      );
    }
  }
  $('groups').replaceChildren(...rows);
}

function button(label, name, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.setAttribute('aria-label', name);
  b.addEventListener('click', onClick);
  return b;
}

async function showDeadLetters(projection) {
  const detail = $('dead-letter-detail');
  say(`Reading the dead letters of ${projection}…`);
  try {
    const { deadLetters } = await api(`/v1/ops/dead-letters/${projection}`);
    const heading = document.createElement('h3');
    heading.textContent = `Dead letters of ${projection}`;
    const list = document.createElement('ul');
    for (const d of deadLetters) {
      const item = document.createElement('li');
      const text = document.createElement('span');
      text.textContent = `${d.position} ${d.waiting ? 'waiting' : 'redriven'}: ${d.reason} (from ${d.source}, ${d.at}) `;
      item.append(
        text,
        button('Details', `Details of dead letter ${d.position}`, () =>
          showOne(projection, d.position),
        ),
      );
      list.append(item);
    }
    const pre = document.createElement('pre');
    pre.id = 'dead-letter-record';
    detail.replaceChildren(heading, deadLetters.length ? list : 'None.', pre);
    detail.focus();
    say(`${deadLetters.length} dead letters of ${projection}.`);
  } catch (error) {
    say(`Could not read the dead letters: ${error.message}`);
  }
}

async function showOne(projection, position) {
  try {
    const letter = await api(`/v1/ops/dead-letters/${projection}/${position}`);
    $('dead-letter-record').textContent = JSON.stringify(letter, null, 2);
  } catch (error) {
    say(`Could not read the dead letter: ${error.message}`);
  }
}

async function redrive(projection, control) {
  control.disabled = true;
  say(`Redriving the dead letters of ${projection}…`);
  try {
    const result = await api(`/v1/ops/dead-letters/${projection}/redrive`, { method: 'POST' });
    say(
      `${projection}: ${result.redriven.length} redriven, ${result.failed.length} still failing` +
        (result.failed.length ? ' (kept for the next redrive).' : '.'),
    );
    await refresh();
  } catch (error) {
    say(`Redrive of ${projection} failed: ${error.message}`);
  } finally {
    control.disabled = false;
  }
}

function drawDeadLetters(deadLetters) {
  $('dead-letters').replaceChildren(
    ...deadLetters.map((d) => {
      const actions = document.createElement('td');
      actions.append(
        button('Show', `Show the dead letters of ${d.projection}`, () =>
          showDeadLetters(d.projection),
        ),
        button('Redrive', `Redrive the dead letters of ${d.projection}`, (event) =>
          redrive(d.projection, event.currentTarget),
        ),
      );
      return row(
        cell(d.projection),
        cell(d.waiting, d.waiting > 0 ? 'number warn' : 'number'),
        actions,
      );
    }),
  );
}

function drawRebuilds(rebuilds) {
  if (rebuilds.length === 0) {
    const none = cell('No rebuild in progress.');
    none.colSpan = 6;
    $('rebuilds').replaceChildren(row(none));
    return;
  }
  $('rebuilds').replaceChildren(
    ...rebuilds.map((r) => {
      const progress = document.createElement('progress');
      progress.max = 1;
      progress.value = r.progress;
      progress.setAttribute('aria-label', `Rebuild of ${r.projection} generation ${r.generation}`);
      const share = cell(` ${Math.round(r.progress * 100)}%`);
      share.prepend(progress);
      return row(
        cell(r.projection),
        cell(r.generation, 'number'),
        cell(new Date(r.startedAt).toLocaleString()),
        share,
        cell(r.remainingEvents, 'number'),
        cell(r.running ? 'yes' : 'no (stopped or not started)', r.running ? '' : 'warn'),
      );
    }),
  );
}

async function refresh() {
  try {
    const overview = await api('/v1/ops/overview');
    drawServices(overview.services);
    drawGroups(overview.groups);
    drawDeadLetters(overview.deadLetters);
    drawRebuilds(overview.rebuilds);
    $('updated').textContent = `Updated ${new Date(overview.generatedAt).toLocaleTimeString()}.`;
  } catch (error) {
    if (error.status === 401 || error.status === 403) {
      clearInterval(timer);
      sessionStorage.removeItem(TOKEN_KEY);
      say(`Refused: ${error.message}. Enter an admin token.`);
      $('token').focus();
    } else {
      $('updated').textContent = `Not updated: ${error.message}`;
    }
  }
}

function start() {
  clearInterval(timer);
  say('');
  void refresh();
  timer = setInterval(refresh, POLL_MS);
}

$('sign-in').addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
  $('token').value = '';
  start();
});

if (sessionStorage.getItem(TOKEN_KEY)) start();
