/* lookback's web console: a client of the public API.
 *
 * Everything it shows comes from the API the integrators use — coverage
 * (GET /cameras/media/coverage), retrievals (POST and GET
 * /cameras/media/retrieval), the media list (GET /cameras/media), the quota
 * (GET /cameras/media/quota) — and recorder health from GET /metrics.  The
 * token is kept in sessionStorage: for this tab, until it closes or signs
 * out.
 *
 * Rules kept here:
 *  - every value from the API enters the page as text (el(), textContent,
 *    setAttribute), never as markup; URLs only when they are http(s);
 *  - reads share the token's rate limit (5 a second by default): they go
 *    through one queue that spaces them and honours Retry-After;
 *  - no framework, no build step, nothing loaded from elsewhere.
 */
'use strict';

(function () {
  const SEC = 1000;
  const MIN = 60 * SEC;
  const HOUR = 60 * MIN;
  const DAY = 24 * HOUR;
  const READ_SPACING_MS = 250;      /* at most 4 reads a second */
  const POLL_MS = 1000;             /* pending retrievals */
  const HEALTH_MS = 5000;           /* /metrics */
  const COVERAGE_MS = 15000;        /* the timeline's window */
  const QUOTA_MS = 60000;
  const KEEP_RETRIEVALS = 30;       /* in sessionStorage */
  const LIST_PAGES = 3;             /* of GET /cameras/media, 100 each */
  const TERMINAL = ['available', 'failed', 'unavailable', 'invalid'];
  const TYPE_HINTS = [              /* the vendor's default maximums */
    [60 * SEC, 'videoHighRes'], [10 * MIN, 'videoLowRes'], [40 * MIN, 'hyperlapse'],
  ];

  const $ = (id) => document.getElementById(id);

  /* ---- the page: text in, never markup ---------------------------------- */

  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false)
        continue;
      if (k === 'class')
        e.className = v;
      else if (k === 'dataset')
        Object.assign(e.dataset, v);
      else if (k === 'style')
        Object.assign(e.style, v);
      else if (k.startsWith('on'))
        e.addEventListener(k.slice(2), v);
      else
        e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c !== undefined && c !== null && c !== false)
        e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }

  /* A URL from the API, only if it is http(s). */
  function safeUrl(text) {
    try {
      const u = new URL(text, location.href);
      return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
    } catch (e) {
      return null;
    }
  }

  function setText(id, text) {
    $(id).textContent = text;
  }

  /* ---- time: milliseconds since the epoch, shown in UTC ------------------ */

  function iso(ms) {
    return new Date(ms).toISOString().replace('.000Z', 'Z');
  }

  /* "2026-01-01 10:00:20" (".500" when not whole); @short drops the date. */
  function fmt(ms, short) {
    const s = new Date(ms).toISOString();
    const frac = s.slice(19, 23) === '.000' ? '' : s.slice(19, 23);
    return (short ? '' : s.slice(0, 10) + ' ') + s.slice(11, 19) + frac;
  }

  /* The second part of a range: without the date when it is the same day. */
  function fmtRange(a, b) {
    const sameDay = iso(a).slice(0, 10) === iso(b).slice(0, 10);
    return fmt(a) + ' – ' + fmt(b, sameDay);
  }

  function fmtDuration(ms) {
    const neg = ms < 0;
    ms = Math.abs(ms);
    let out;
    if (ms < MIN)
      out = (Math.round(ms / 100) / 10) + ' s';
    else if (ms < HOUR)
      out = Math.floor(ms / MIN) + ' min' + (ms % MIN >= SEC ? ' ' + Math.floor((ms % MIN) / SEC) + ' s' : '');
    else if (ms < DAY)
      out = Math.floor(ms / HOUR) + ' h' + (ms % HOUR >= MIN ? ' ' + Math.floor((ms % HOUR) / MIN) + ' min' : '');
    else
      out = Math.floor(ms / DAY) + ' d' + (ms % DAY >= HOUR ? ' ' + Math.floor((ms % DAY) / HOUR) + ' h' : '');
    return (neg ? '-' : '') + out;
  }

  /* RFC 3339, or "YYYY-MM-DD[ HH:MM[:SS[.sss]]]" taken as UTC; NaN if
   * neither. */
  function parseTime(text) {
    text = text.trim();
    const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?$/.exec(text);
    if (m)
      return Date.parse(m[1] + 'T' + (m[2] || '00:00') + 'Z');
    if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(text))
      return Date.parse(text);
    return NaN;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  /* ---- the API ----------------------------------------------------------- */

  const session = { token: null, metricsToken: null };

  class ApiError extends Error {
    constructor(status, message, requestId) {
      super(message);
      this.status = status;
      this.requestId = requestId;
    }
  }

  async function call(method, path, body, token) {
    const headers = { Authorization: 'Bearer ' + (token || session.token) };
    if (body)
      headers['Content-Type'] = 'application/json';
    const r = await fetch(path, {
      method, headers, cache: 'no-store', credentials: 'omit',
      body: body ? JSON.stringify(body) : undefined,
    });
    const type = r.headers.get('Content-Type') || '';
    const reply = { status: r.status, headers: r.headers, json: null, text: null };
    if (type.startsWith('application/json'))
      reply.json = await r.json().catch(() => null);
    else
      reply.text = await r.text();
    return reply;
  }

  /* The JSON of a 2xx answer; otherwise an ApiError with the server's
   * message.  A token the server no longer knows signs out. */
  function check(reply) {
    if (reply.status >= 200 && reply.status < 300)
      return reply.json;
    const j = reply.json || {};
    const message = j.message || 'HTTP ' + reply.status;
    if (reply.status === 401 && session.token)
      signOut('The box no longer accepts this token: ' + message);
    throw new ApiError(reply.status, message, j.requestId);
  }

  /* Reads go one at a time, spaced, and wait out a 429's Retry-After.  A
   * read already queued under the same key is not asked twice. */
  const reads = { queue: [], keys: new Map(), busy: false, last: 0 };

  function apiRead(path, key) {
    key = key || path;
    if (reads.keys.has(key))
      return reads.keys.get(key);
    const p = new Promise((resolve, reject) => {
      reads.queue.push({ path, key, resolve, reject });
    });
    reads.keys.set(key, p);
    pumpReads();
    return p;
  }

  async function pumpReads() {
    if (reads.busy)
      return;
    reads.busy = true;
    while (reads.queue.length && session.token) {
      const job = reads.queue[0];
      const wait = reads.last + READ_SPACING_MS - Date.now();
      if (wait > 0)
        await sleep(wait);
      reads.last = Date.now();
      let reply = null, failure = null;
      try {
        reply = await call('GET', job.path);
      } catch (e) {
        failure = e;
      }
      if (reply && reply.status === 429) {
        const after = parseFloat(reply.headers.get('Retry-After'));
        await sleep(1000 * (after > 0 ? Math.min(after, 60) : 1));
        continue;
      }
      reads.queue.shift();
      reads.keys.delete(job.key);
      if (failure)
        job.reject(failure);
      else
        job.resolve(reply);
    }
    for (const job of reads.queue.splice(0))
      job.reject(new ApiError(0, 'Signed out.'));
    reads.keys.clear();
    reads.busy = false;
  }

  async function apiCreate(body) {
    const reply = await call('POST', '/cameras/media/retrieval', body);
    if (reply.status === 429 && reply.json) {
      const after = reply.headers.get('Retry-After');
      reply.json.message += after ? ' (retry after ' + after + ' s)' : '';
    }
    return check(reply);
  }

  /* ---- state ------------------------------------------------------------- */

  const state = {
    span: HOUR,
    end: Date.now(),
    coverage: [],        /* per input, from GET /cameras/media/coverage */
    loadedOnce: false,
    health: null,        /* Map "vehicle\0input" → metrics, or null */
    healthAt: 0,
    healthNote: '',
    selection: null,     /* {vehicle, input, start, end} */
    still: null,         /* {id, vehicle, input, at} */
    retrievals: [],      /* newest first */
    timers: [],
  };

  const winStart = () => state.end - state.span;
  const inputKey = (v, i) => v + '\u0000' + i;

  /* ---- sign in and out --------------------------------------------------- */

  async function signIn(token, metricsToken, quiet) {
    session.token = token;
    session.metricsToken = metricsToken || null;
    setText('sign-in-error', '');
    $('sign-in-button').disabled = true;
    try {
      const quota = check(await apiRead('/cameras/media/quota'));
      sessionStorage.setItem('lookback.token', token);
      sessionStorage.setItem('lookback.metricsToken', metricsToken || '');
      showQuota(quota.data);
      startConsole();
    } catch (e) {
      session.token = null;
      showSignIn(quiet ? '' : 'Sign-in refused: ' + e.message);
    } finally {
      $('sign-in-button').disabled = false;
    }
  }

  function signOut(why) {
    session.token = null;
    sessionStorage.removeItem('lookback.token');
    sessionStorage.removeItem('lookback.metricsToken');
    for (const t of state.timers)
      clearInterval(t);
    state.timers = [];
    showSignIn(why || '');
  }

  function showSignIn(message) {
    $('console').hidden = true;
    $('quota').hidden = true;
    $('sign-out').hidden = true;
    $('sign-in').hidden = false;
    setText('sign-in-error', message);
    $('token').value = '';
    $('token').focus();
  }

  function startConsole() {
    $('sign-in').hidden = true;
    $('console').hidden = false;
    $('sign-out').hidden = false;
    loadRetrievals();
    state.loadedOnce = false;
    setWindow(HOUR, Date.now() + HOUR / 50);
    refreshHealth();
    state.timers.push(setInterval(pollRetrievals, POLL_MS));
    state.timers.push(setInterval(refreshHealth, HEALTH_MS));
    state.timers.push(setInterval(refreshCoverage, COVERAGE_MS));
    state.timers.push(setInterval(refreshQuota, QUOTA_MS));
  }

  /* ---- quota ------------------------------------------------------------- */

  function showQuota(q) {
    const used = q.usedSeconds, allowance = q.allowanceSeconds;
    const pct = allowance > 0 ? Math.min(100, 100 * used / allowance) : 100;
    let text = q.organization + ' · quota ' + used.toFixed(1) + ' s of ' +
      allowance.toFixed(0) + ' s high-res this month';
    if (q.reservedSeconds > 0)
      text += ' (+' + q.reservedSeconds.toFixed(1) + ' s reserved)';
    setText('quota-text', text);
    $('quota').title = q.quotaStatus + ' Period ' + q.period + ', resets ' + q.periodEndTime + '.';
    $('quota-bar').style.width = pct + '%';
    $('quota').hidden = false;
  }

  async function refreshQuota() {
    try {
      showQuota(check(await apiRead('/cameras/media/quota')).data);
    } catch (e) {
      /* shown again at the next refresh */
    }
  }

  /* ---- the timeline's window -------------------------------------------- */

  let coverageTimer = 0;
  let coverageSeq = 0;

  function setWindow(span, end) {
    state.span = span;
    state.end = Math.round(end / SEC) * SEC;
    for (const b of document.querySelectorAll('button.zoom'))
      b.classList.toggle('active', Number(b.dataset.zoom) === span);
    setText('window-label', fmtRange(winStart(), state.end) + ' UTC');
    renderAxis();
    renderTracks();
    clearTimeout(coverageTimer);
    coverageTimer = setTimeout(() => {
      refreshCoverage();
      refreshMedia();
    }, 150);
  }

  function zoomTo(span, center) {
    if (center === undefined)
      center = state.end - state.span / 2;
    setWindow(span, center + span / 2);
  }

  function latestFootage() {
    let latest = NaN;
    for (const c of state.coverage)
      if (c.last && !(c.last <= latest))
        latest = c.last;
    return latest;
  }

  function goToLatest() {
    const latest = latestFootage();
    if (!isNaN(latest))
      setWindow(state.span, latest + state.span * 0.15);
  }

  function ranges(list) {
    return (list || []).map((r) => ({
      start: Date.parse(r.startTime), end: Date.parse(r.endTime),
      startText: r.startTime, endText: r.endTime,
    }));
  }

  async function refreshCoverage() {
    if (!session.token)
      return;
    const seq = ++coverageSeq;
    const start = winStart(), end = state.end;
    const items = [];
    try {
      let after = '';
      do {
        const q = new URLSearchParams({ startTime: iso(start), endTime: iso(end) });
        if (after)
          q.set('after', after);
        const json = check(await apiRead('/cameras/media/coverage?' + q));
        items.push(...json.data.coverage);
        after = json.pagination.hasNextPage ? json.pagination.endCursor : '';
      } while (after && seq === coverageSeq);
      setText('timeline-error', '');
    } catch (e) {
      if (seq === coverageSeq)
        setText('timeline-error', 'Coverage: ' + e.message);
      return;
    }
    if (seq !== coverageSeq)
      return;                       /* a newer window was asked for */
    state.coverage = items.map((c) => ({
      vehicle: c.vehicleId, input: c.input, role: c.cameraRole,
      first: c.firstRecordedTime ? Date.parse(c.firstRecordedTime) : null,
      last: c.lastRecordedTime ? Date.parse(c.lastRecordedTime) : null,
      recorded: ranges(c.recorded), gaps: ranges(c.gaps),
      unsync: ranges(c.unsynchronized), mergedMs: c.gapsMergedUpToMs || 0,
      start, end,
    }));
    /* The first view opens on the latest footage when "now" has none. */
    if (!state.loadedOnce) {
      state.loadedOnce = true;
      const latest = latestFootage();
      if (!isNaN(latest) && latest < start) {
        goToLatest();
        return;
      }
    }
    renderTracks();
  }

  /* ---- drawing the timeline ---------------------------------------------- */

  const TICKS = [
    [10 * MIN + 1, MIN], [HOUR + 1, 5 * MIN], [6 * HOUR + 1, 30 * MIN],
    [DAY + 1, 2 * HOUR], [Infinity, DAY],
  ];

  function renderAxis() {
    const axis = $('axis');
    axis.replaceChildren();
    const start = winStart();
    const step = TICKS.find(([upTo]) => state.span < upTo)[1];
    const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
    for (let t = Math.ceil(start / step) * step; t < state.end; t += step) {
      const s = iso(t);
      const label = step >= DAY ? days[new Date(t).getUTCDay()] + ' ' + s.slice(5, 10)
        : t % DAY === 0 ? s.slice(5, 10) : s.slice(11, 16);
      axis.append(el('span', { class: 'tick', style: { left: pct(t) } }, label));
    }
  }

  function pct(t) {
    return (100 * (t - winStart()) / state.span) + '%';
  }

  function widthPct(a, b) {
    return (100 * (b - a) / state.span) + '%';
  }

  function seg(cls, a, b, title, data) {
    const s = Math.max(a, winStart()), e = Math.min(b, state.end);
    if (e <= s)
      return null;
    return el('div', {
      class: 'seg ' + cls, title, dataset: data,
      style: { left: pct(s), width: widthPct(s, e), minWidth: '1px' },
    });
  }

  function healthBadge(c) {
    if (state.health === null)
      return el('span', { class: 'health idle', title: state.healthNote }, 'health unknown');
    const h = state.health.get(inputKey(c.vehicle, c.input));
    if (!h)
      return el('span', { class: 'health idle', title: 'No recorder runs for this input.' },
        'not recording');
    const since = Math.round((state.healthAt - h.age * SEC) / SEC) * SEC;
    if (h.connected)
      return el('span', {
        class: 'health live',
        title: 'Last frame ' + h.age.toFixed(1) + ' s ago; ' + h.frames + ' frames, ' +
          h.gaps + ' gaps since lookbackd started.',
      }, 'live');
    return el('span', {
      class: 'health lost', dataset: { since: iso(since) },
      title: (h.frames ? 'Last frame ' : 'No frame since lookbackd started, ') +
        fmtDuration(h.age * SEC) + ' ago.',
    }, (h.frames ? 'lost since ' : 'no video since ') + fmt(since) +
      ' (' + fmtDuration(Date.now() - since) + ' ago)');
  }

  function summary(c) {
    if (!c.first)
      return 'no footage';
    const inWindow = c.recorded.reduce((sum, r) => sum + (r.end - r.start), 0);
    const gaps = c.gaps.filter((g) => g.end > c.first && g.start < c.last).length;
    let text = fmtDuration(inWindow) + ' recorded here, ' + gaps + (gaps === 1 ? ' gap' : ' gaps');
    if (c.mergedMs)
      text += ' (gaps under ' + fmtDuration(c.mergedMs) + ' not shown)';
    return text;
  }

  function trackContent(c) {
    const parts = [];
    const now = Date.now();
    if (now < state.end)
      parts.push(seg('future', now, state.end, 'not yet'));
    for (const r of c.recorded)
      parts.push(seg('rec', r.start, r.end, 'recorded ' + fmtRange(r.start, r.end),
        { start: r.startText, end: r.endText }));
    for (const g of c.gaps) {
      /* Before the first and after the last footage is not a gap. */
      if (!c.first || g.end <= c.first || g.start >= c.last)
        continue;
      const a = Math.max(g.start, c.first), b = Math.min(g.end, c.last);
      parts.push(seg('gap', a, b, 'gap ' + fmtRange(a, b) + ' (' + fmtDuration(b - a) + ')',
        { start: iso(a), end: iso(b) }));
    }
    for (const u of c.unsync)
      parts.push(seg('unsync', u.start, u.end, 'recorded while the clock was not synchronised: ' +
        fmtRange(u.start, u.end)));
    const sel = state.selection;
    if (sel && sel.vehicle === c.vehicle && sel.input === c.input)
      parts.push(el('div', { class: 'sel', style: { left: pct(sel.start), width: widthPct(sel.start, sel.end) } }));
    const still = state.still;
    if (still && still.vehicle === c.vehicle && still.input === c.input &&
        still.at >= winStart() && still.at <= state.end)
      parts.push(el('div', { class: 'mark', style: { left: pct(still.at) } }));
    return parts;
  }

  function renderTracks() {
    const tracks = $('tracks');
    tracks.replaceChildren();
    let vehicle = null;
    for (const c of state.coverage) {
      if (c.vehicle !== vehicle) {
        vehicle = c.vehicle;
        tracks.append(el('div', { class: 'tl-row' }, el('div', { class: 'tl-vehicle' }, 'Vehicle ' + vehicle)));
      }
      /* Drawn against the window it was read for, until the next read. */
      const stale = c.start !== winStart() || c.end !== state.end;
      const track = el('div', {
        class: 'track', dataset: { vehicle: c.vehicle, input: c.input },
        style: { opacity: stale ? '0.5' : '1' },
      }, stale ? [] : trackContent(c));
      attachTrack(track, c);
      tracks.append(el('div', { class: 'tl-row', dataset: { vehicle: c.vehicle, input: c.input } },
        el('div', { class: 'tl-label' },
          el('span', { class: 'input' }, c.input), ' ',
          c.role ? el('span', { class: 'role' }, '(' + c.role + ')') : null,
          healthBadge(c),
          el('span', { class: 'summary' }, stale ? 'loading…' : summary(c))),
        track));
    }
    if (state.coverage.length === 0)
      tracks.append(el('p', { class: 'muted' }, 'Loading what was recorded…'));
  }

  /* ---- pointing at the timeline ----------------------------------------- */

  function timeAt(track, clientX) {
    const r = track.getBoundingClientRect();
    const f = Math.min(1, Math.max(0, (clientX - r.left) / r.width));
    return winStart() + f * state.span;
  }

  function showCursor(track, clientX) {
    let cursor = track.querySelector('.cursor');
    if (!cursor) {
      cursor = el('div', { class: 'cursor' }, el('span'));
      track.append(cursor);
    }
    const t = timeAt(track, clientX);
    cursor.style.left = pct(t);
    cursor.firstChild.textContent = fmt(Math.round(t / SEC) * SEC, state.span <= DAY);
  }

  function attachTrack(track, c) {
    let down = null;
    let clickTimer = 0;
    track.addEventListener('pointerdown', (ev) => {
      if (ev.button !== 0)
        return;
      track.setPointerCapture(ev.pointerId);
      down = { x: ev.clientX, t: timeAt(track, ev.clientX), moved: false };
    });
    track.addEventListener('pointermove', (ev) => {
      showCursor(track, ev.clientX);
      if (!down)
        return;
      if (Math.abs(ev.clientX - down.x) >= 4)
        down.moved = true;
      if (down.moved)
        select(c, down.t, timeAt(track, ev.clientX), false);
    });
    track.addEventListener('pointerup', (ev) => {
      if (!down)
        return;
      const d = down;
      down = null;
      if (d.moved) {
        select(c, d.t, timeAt(track, ev.clientX), true);
        return;
      }
      /* A still, unless this is the first click of a double-click. */
      clearTimeout(clickTimer);
      clickTimer = setTimeout(() => requestStill(c, d.t), 300);
    });
    track.addEventListener('pointerleave', () => {
      const cursor = track.querySelector('.cursor');
      if (cursor)
        cursor.remove();
    });
    track.addEventListener('dblclick', (ev) => {
      clearTimeout(clickTimer);
      const t = timeAt(track, ev.clientX);
      const i = ZOOMS.indexOf(state.span);
      zoomTo(i > 0 ? ZOOMS[i - 1] : state.span, t);
    });
  }

  const ZOOMS = [10 * MIN, HOUR, DAY, 7 * DAY];

  /* ---- asking for media -------------------------------------------------- */

  function select(c, a, b, done) {
    a = Math.round(a / SEC) * SEC;
    b = Math.round(b / SEC) * SEC;
    if (b < a)
      [a, b] = [b, a];
    state.selection = { vehicle: c.vehicle, input: c.input, start: a, end: b };
    const track = document.querySelector('.track[data-vehicle="' + CSS.escape(c.vehicle) +
      '"][data-input="' + CSS.escape(c.input) + '"]');
    if (track) {
      let sel = track.querySelector('.sel');
      if (!sel)
        track.append(sel = el('div', { class: 'sel' }));
      sel.style.left = pct(a);
      sel.style.width = widthPct(a, b);
    }
    if (!done)
      return;
    fillRequest(c.vehicle, c.input, a, b);
    renderTracks();
  }

  function fillRequest(vehicle, input, a, b) {
    setText('req-vehicle', vehicle);
    $('req-vehicle').dataset.vehicle = vehicle;
    const box = $('req-inputs');
    box.replaceChildren(el('legend', null, 'Inputs'));
    for (const c of state.coverage.filter((x) => x.vehicle === vehicle)) {
      box.append(el('label', null, el('input', {
        type: 'checkbox', name: 'input', value: c.input, checked: c.input === input,
      }), ' ' + c.input));
    }
    const hint = TYPE_HINTS.find(([max]) => b - a <= max);
    $('req-type').value = b > a ? (hint ? hint[1] : 'hyperlapse') : 'image';
    $('req-start').value = iso(a);
    $('req-end').value = iso(b);
    setText('req-message', '');
    checkRequest();
  }

  /* The request the form describes, or null (with the reason shown). */
  function checkRequest() {
    const vehicle = $('req-vehicle').dataset.vehicle;
    const type = $('req-type').value;
    const inputs = [...document.querySelectorAll('#req-inputs input:checked')].map((i) => i.value);
    const start = parseTime($('req-start').value);
    let end = parseTime($('req-end').value);
    $('req-end').disabled = type === 'image';
    if (type === 'image')
      end = start;
    let why = '';
    if (!vehicle)
      why = 'Select a range on the timeline.';
    else if (!inputs.length)
      why = 'Choose at least one input.';
    else if (isNaN(start) || isNaN(end))
      why = 'Times are RFC 3339 (2026-01-01T10:00:00Z) or "2026-01-01 10:00:00" in UTC.';
    else if (end < start)
      why = 'The end is before the start.';
    setText('req-length', isNaN(start) || isNaN(end) ? '—' : fmtDuration(end - start));
    $('req-submit').disabled = !!why;
    if (why) {
      $('req-message').className = 'muted';
      setText('req-message', why);
      return null;
    }
    if ($('req-message').className === 'muted')
      setText('req-message', '');
    return { vehicleId: vehicle, mediaType: type, inputs, startTime: iso(start), endTime: iso(end) };
  }

  async function submitRequest(ev) {
    ev.preventDefault();
    const body = checkRequest();
    if (!body)
      return;
    $('req-submit').disabled = true;
    try {
      const r = await createRetrieval(body, 'request');
      $('req-message').className = '';
      setText('req-message', 'Asked: retrieval ' + r.id + '.');
    } catch (e) {
      $('req-message').className = 'error';
      setText('req-message', e.message);
    } finally {
      checkRequest();
    }
  }

  async function createRetrieval(body, kind) {
    const json = await apiCreate(body);
    const r = {
      id: json.data.retrievalId, kind, vehicle: body.vehicleId, inputs: body.inputs,
      mediaType: body.mediaType, start: body.startTime, end: body.endTime,
      created: Date.now(), media: null, done: false, error: '',
    };
    state.retrievals.unshift(r);
    state.retrievals.length = Math.min(state.retrievals.length, KEEP_RETRIEVALS);
    saveRetrievals();
    renderRetrievals();
    refreshQuota();
    return r;
  }

  async function requestStill(c, t) {
    t = Math.round(t / SEC) * SEC;
    state.still = { id: null, vehicle: c.vehicle, input: c.input, at: t };
    renderTracks();
    renderPreview();
    try {
      const r = await createRetrieval({
        vehicleId: c.vehicle, mediaType: 'image', inputs: [c.input],
        startTime: iso(t), endTime: iso(t),
      }, 'still');
      if (state.still && state.still.at === t)
        state.still.id = r.id;
    } catch (e) {
      state.still.error = e.message;
    }
    renderPreview();
  }

  /* ---- retrievals -------------------------------------------------------- */

  function saveRetrievals() {
    const keep = state.retrievals.map((r) => ({ ...r, media: null, done: false }));
    sessionStorage.setItem('lookback.retrievals', JSON.stringify(keep));
  }

  /* Those of this tab; asked again at once (their URLs are fresh on each
   * GET). */
  function loadRetrievals() {
    try {
      const list = JSON.parse(sessionStorage.getItem('lookback.retrievals') || '[]');
      state.retrievals = Array.isArray(list) ? list.filter((r) => typeof r.id === 'string') : [];
    } catch (e) {
      state.retrievals = [];
    }
    renderRetrievals();
  }

  async function pollRetrievals() {
    for (const r of state.retrievals) {
      if (r.done || r.polling)
        continue;
      r.polling = true;
      apiRead('/cameras/media/retrieval?retrievalId=' + encodeURIComponent(r.id), 'r:' + r.id)
        .then((reply) => {
          const json = check(reply);
          r.media = json.data.media;
          r.error = '';
          r.done = r.media.every((m) => TERMINAL.includes(m.status));
          if (r.done) {
            refreshQuota();
            refreshMedia();
          }
        })
        .catch((e) => {
          r.error = e.message;
          r.done = e.status === 404;
        })
        .finally(() => {
          r.polling = false;
          renderRetrieval(r);
          if (state.still && state.still.id === r.id)
            renderPreview();
        });
    }
  }

  function statusOf(r) {
    if (!r.media)
      return 'pending';
    const all = r.media.map((m) => m.status);
    return all.every((s) => s === all[0]) ? all[0] : all.includes('pending') ? 'pending' : 'mixed';
  }

  function player(m) {
    const url = safeUrl(m.urlInfo && m.urlInfo.url);
    if (!url)
      return null;
    const view = m.mediaType === 'image'
      ? el('img', { src: url, alt: 'Still of ' + m.input + ' at ' + m.startTime })
      : el('video', { src: url, controls: true, preload: 'metadata', muted: true, playsinline: true });
    const name = m.vehicleId + '-' + m.input + '-' + m.startTime.replace(/[:.]/g, '') +
      (m.mediaType === 'image' ? '.jpg' : '.mp4');
    return el('div', { class: 'player' }, view,
      el('a', { href: url, download: name }, 'Download'));
  }

  function manifest(m) {
    const c = m.coverage;
    if (!c)
      return [];
    const gaps = (c.gaps || []).map((g) => fmtRange(Date.parse(g.startTime), Date.parse(g.endTime)));
    const unsync = (c.unsynchronized || []).map((g) => fmtRange(Date.parse(g.startTime), Date.parse(g.endTime)));
    return [
      el('dt', null, 'Offset'), el('dd', { class: 'offset' }, c.offsetMs + ' ms from the requested start'),
      el('dt', null, 'Gaps'), el('dd', { class: 'gaps' }, gaps.length ? gaps.join(', ') : 'none'),
      unsync.length ? el('dt', null, 'Clock') : null,
      unsync.length ? el('dd', null, 'not synchronised: ' + unsync.join(', ')) : null,
    ];
  }

  function mediaItem(m) {
    const status = m.status;
    const rows = [
      el('dt', null, m.input || m.cameraRole), el('dd', null,
        el('span', { class: 'status ' + status }, status),
        status === 'pending' && typeof m.progress === 'number'
          ? [' ', el('progress', { max: 1, value: m.progress }), ' ' + Math.round(100 * m.progress) + '%']
          : null),
    ];
    if (status === 'available') {
      const a = Date.parse(m.startTime), b = Date.parse(m.endTime);
      rows.push(el('dt', null, 'Delivered'), el('dd', {
        class: 'delivered', dataset: { start: m.startTime, end: m.endTime },
      }, fmtRange(a, b) + (b > a ? ' (' + fmtDuration(b - a) + ')' : '')));
      rows.push(...manifest(m));
    }
    if (m.failureReason)
      rows.push(el('dt', null, 'Reason'), el('dd', { class: 'reason' }, m.failureReason));
    return el('div', { class: 'media-item', dataset: { status, input: m.input || '' } },
      el('dl', null, rows), status === 'available' ? player(m) : null);
  }

  function retrievalCard(r) {
    const a = Date.parse(r.start), b = Date.parse(r.end);
    const status = statusOf(r);
    const head = el('div', null,
      el('div', { class: 'title' }, r.mediaType + ' · vehicle ' + r.vehicle +
        (r.kind === 'still' ? ' · still from the timeline' : '')),
      el('div', { class: 'id' }, r.id),
      el('dl', null, el('dt', null, 'Requested'),
        el('dd', { class: 'requested' }, fmtRange(a, b) + (b > a ? ' (' + fmtDuration(b - a) + ')' : ''))),
      r.error ? el('p', { class: 'error' }, r.error) : null,
      r.media ? r.media.map(mediaItem) : el('p', { class: 'muted' }, 'Asking…'));
    return el('div', { class: 'retrieval', dataset: { retrievalId: r.id, status } }, head);
  }

  function renderRetrieval(r) {
    const old = document.querySelector('.retrieval[data-retrieval-id="' + CSS.escape(r.id) + '"]');
    if (old)
      old.replaceWith(retrievalCard(r));
    else
      renderRetrievals();
  }

  function renderRetrievals() {
    const box = $('retrievals');
    box.replaceChildren(...state.retrievals.map(retrievalCard));
    if (!state.retrievals.length)
      box.append(el('p', { class: 'muted' }, 'None yet.'));
  }

  function renderPreview() {
    const box = $('preview');
    const s = state.still;
    if (!s)
      return;
    const r = s.id && state.retrievals.find((x) => x.id === s.id);
    const m = r && r.media && r.media[0];
    const caption = s.vehicle + ' · ' + s.input + ' · asked for ' + fmt(s.at);
    if (s.error) {
      box.replaceChildren(el('p', { class: 'error' }, caption + ': ' + s.error));
      return;
    }
    if (!m || m.status !== 'available') {
      box.replaceChildren(el('p', { class: 'muted' }, caption + ': ' +
        (m ? m.status + (m.failureReason ? ' — ' + m.failureReason : '') : 'asking…')));
      return;
    }
    const url = safeUrl(m.urlInfo.url);
    box.replaceChildren(el('figure', { dataset: { retrievalId: s.id } },
      url ? el('img', { src: url, alt: 'Still of ' + s.input + ' at ' + m.startTime }) : null,
      el('figcaption', null, caption + '; the frame shown is at ' + fmt(Date.parse(m.startTime)) +
        (m.coverage ? ' (' + m.coverage.offsetMs + ' ms away)' : ''))));
  }

  /* ---- media made in the window (GET /cameras/media) -------------------- */

  async function refreshMedia() {
    const box = $('media');
    const vehicles = [...new Set(state.coverage.map((c) => c.vehicle))];
    if (state.span > DAY) {
      box.replaceChildren(el('p', { class: 'muted' }, 'Zoom to a day or less to list them.'));
      return;
    }
    if (!vehicles.length) {
      box.replaceChildren(el('p', { class: 'muted' }, 'No vehicle.'));
      return;
    }
    const rows = [];
    let more = false;
    try {
      for (let i = 0; i < vehicles.length; i += 20) {
        let after = '';
        let pages = 0;
        do {
          const q = new URLSearchParams({
            vehicleIds: vehicles.slice(i, i + 20).join(','),
            startTime: iso(winStart()), endTime: iso(state.end),
          });
          if (after)
            q.set('after', after);
          const json = check(await apiRead('/cameras/media?' + q));
          rows.push(...json.data.media);
          after = json.pagination.hasNextPage ? json.pagination.endCursor : '';
        } while (after && ++pages < LIST_PAGES);
        more = more || !!after;
      }
    } catch (e) {
      box.replaceChildren(el('p', { class: 'error' }, e.message));
      return;
    }
    if (!rows.length) {
      box.replaceChildren(el('p', { class: 'muted' }, 'None.'));
      return;
    }
    const table = el('table', { class: 'media' },
      el('tr', null, ['Time', 'Vehicle', 'Input', 'Type', 'Trigger', ''].map((h) => el('th', null, h))),
      rows.map((m) => {
        const url = safeUrl(m.urlInfo && m.urlInfo.url);
        return el('tr', null,
          el('td', null, fmtRange(Date.parse(m.startTime), Date.parse(m.endTime))),
          el('td', null, m.vehicleId), el('td', null, m.input), el('td', null, m.mediaType),
          el('td', null, m.triggerReason),
          el('td', null, url ? el('a', { href: url, target: '_blank', rel: 'noopener' }, 'Open') : ''));
      }));
    box.replaceChildren(table);
    if (more)
      box.append(el('p', { class: 'muted' }, 'More than these: narrow the window.'));
  }

  /* ---- recorder health (GET /metrics) ------------------------------------ */

  const HEALTH_METRICS = {
    lookback_input_connected: 'connected',
    lookback_input_last_frame_age_seconds: 'age',
    lookback_input_frames_total: 'frames',
    lookback_input_gaps_total: 'gaps',
  };

  /* The per-input series of Prometheus' text format. */
  function parseMetrics(text) {
    const out = new Map();
    for (const line of text.split('\n')) {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
      if (!m || !(m[1] in HEALTH_METRICS))
        continue;
      const labels = {};
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
      let l;
      while ((l = re.exec(m[2] || '')))
        labels[l[1]] = l[2].replace(/\\(.)/g, (_, ch) => (ch === 'n' ? '\n' : ch));
      const key = inputKey(labels.vehicle, labels.input);
      if (!out.has(key))
        out.set(key, { connected: 0, age: 0, frames: 0, gaps: 0 });
      out.get(key)[HEALTH_METRICS[m[1]]] = Number(m[3]);
    }
    return out;
  }

  async function refreshHealth() {
    if (!session.token)
      return;
    try {
      const reply = await call('GET', '/metrics', null, session.metricsToken);
      if (reply.status === 401) {
        state.health = null;
        state.healthNote = '/metrics wants the metrics token: sign in again with it.';
        for (const t of state.timers.splice(1, 1))
          clearInterval(t);
      } else if (reply.status === 200) {
        state.health = parseMetrics(reply.text || '');
        state.healthAt = Date.now();
      } else {
        state.healthNote = '/metrics answered ' + reply.status + '.';
      }
    } catch (e) {
      state.healthNote = '/metrics: ' + e.message;
    }
    for (const row of document.querySelectorAll('#tracks .tl-row[data-input]')) {
      const c = state.coverage.find((x) => x.vehicle === row.dataset.vehicle && x.input === row.dataset.input);
      const old = row.querySelector('.health');
      if (c && old)
        old.replaceWith(healthBadge(c));
    }
  }

  /* ---- wiring ------------------------------------------------------------ */

  function init() {
    setText('box-name', location.host);
    $('sign-in-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      signIn($('token').value.trim(), $('metrics-token').value.trim(), false);
    });
    $('sign-out').addEventListener('click', () => signOut(''));
    for (const b of document.querySelectorAll('button.zoom'))
      b.addEventListener('click', () => zoomTo(Number(b.dataset.zoom)));
    $('earlier').addEventListener('click', () => setWindow(state.span, state.end - state.span / 2));
    $('later').addEventListener('click', () => setWindow(state.span, state.end + state.span / 2));
    $('latest').addEventListener('click', goToLatest);
    $('now').addEventListener('click', () => setWindow(state.span, Date.now() + state.span / 50));
    $('goto-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const t = parseTime($('goto').value);
      if (isNaN(t))
        setText('timeline-error', 'Go to: not a time: ' + $('goto').value);
      else
        zoomTo(state.span, t);
    });
    $('request-form').addEventListener('submit', submitRequest);
    for (const id of ['req-type', 'req-start', 'req-end'])
      $(id).addEventListener('input', checkRequest);
    $('req-inputs').addEventListener('change', checkRequest);
    window.addEventListener('resize', renderAxis);

    const token = sessionStorage.getItem('lookback.token');
    if (token)
      signIn(token, sessionStorage.getItem('lookback.metricsToken'), true);
    else
      showSignIn('');
  }

  init();
})();
