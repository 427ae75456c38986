/* The facilitator's console: every control is a `control` event, answered with a line to show. */
(function () {
  'use strict';
  var L = window.Live, el = L.el;
  var sessionId = parseInt(document.body.getAttribute('data-session-id'), 10);
  var $ = function (id) { return document.getElementById(id); };
  var state = null;

  var socket = L.connect(function () { return { role: 'console', session_id: sessionId }; });
  socket.on('connect', function () { $('connection').textContent = 'Connected'; });
  socket.on('disconnect', function (reason) {
    // The server closes a screen whose facilitator logged out; it will not come back by itself.
    $('connection').textContent = reason === 'io server disconnect'
      ? 'Disconnected: log in again and reload this page.' : 'Reconnecting…';
  });
  socket.on('connect_error', function (err) {
    $('connection').textContent = socket.active ? 'Reconnecting…' : 'Refused: ' + err.message;
  });
  socket.on('state', function (data) { state = data; L.keepFocus(render); });
  socket.on('tally', function (data) {
    if (!state) return;
    state.joined = data.joined;
    state.strands.forEach(function (s) {
      if (data.counts[s.key]) { s.counts = data.counts[s.key]; s.voted = data.voted[s.key]; }
    });
    L.keepFocus(render);
  });

  function message(text, isError) {
    var node = $('console-message');
    node.textContent = text;
    node.className = 'console-message' + (isError ? ' is-error' : '');
  }

  function act(payload) {
    socket.timeout(10000).emit('control', payload, function (err, ack) {
      if (err) { message('No answer from the server. Check the connection and try again.', true); return; }
      message(ack.ok ? ack.message : ack.error, !ack.ok);
    });
  }

  document.querySelectorAll('[data-action]').forEach(function (button) {
    button.addEventListener('click', function () {
      var action = button.getAttribute('data-action');
      if (action === 'end' && !window.confirm('End this session? Phones can no longer vote. Votes are kept.')) return;
      if (action === 'results') { act({ action: 'results', show: !state.session.show_results }); return; }
      act({ action: action });
    });
  });

  var STATUS = { pending: 'Not opened', open: 'Open', closed: 'Closed' };
  var SESSION = { draft: 'Not started', running: 'Running', ended: 'Ended' };

  /* A row's buttons read the same in every row, so their names also say which strand they act on
     (the visible words come first, so that speech input can still use them). */
  function button(id, text, payload, kind) {
    var strand = state.strands.filter(function (s) { return s.key === payload.strand; })[0];
    var b = el('button', { type: 'button', id: id, className: 'govuk-button govuk-!-margin-bottom-2 ' + (kind === undefined ? 'govuk-button--secondary' : kind), text: text,
                           'aria-label': strand ? text + ', ' + strand.label : null });
    b.addEventListener('click', function () { act(payload); });
    return b;
  }

  function render() {
    if (!state) return;
    var session = state.session;
    $('status').textContent = SESSION[session.status] || session.status;
    $('joined').textContent = String(state.joined);
    var toggle = $('results-toggle');
    toggle.textContent = session.show_results ? 'Hide live results' : 'Show live results';
    toggle.setAttribute('aria-pressed', session.show_results ? 'true' : 'false');
    document.querySelector('[data-action=start]').hidden = session.status !== 'draft';
    document.querySelector('[data-action=end]').disabled = session.status === 'ended';
    var live = session.pacing === 'live';
    document.querySelector('[data-action=previous]').hidden = !live;
    document.querySelector('[data-action=next]').hidden = !live;
    document.querySelectorAll('[data-live-only]').forEach(function (row) { row.hidden = !live; });
    var rows = $('strand-rows');
    L.clear(rows);
    state.strands.forEach(function (s) {
      var onScreen = live && session.current === s.key;
      var actions = [];
      if (live && !onScreen) actions.push(button('goto-' + s.key, 'Show on screen', { action: 'goto', strand: s.key }));
      if (s.status === 'open') actions.push(button('close-' + s.key, 'Close voting', { action: 'close', strand: s.key }, 'govuk-button--warning'));
      else actions.push(button('open-' + s.key, s.status === 'closed' ? 'Reopen voting' : 'Open voting', { action: 'open', strand: s.key }, ''));
      if (s.status === 'closed') {
        actions.push(button('revote-' + s.key, 'Re-vote (round ' + (s.round + 1) + ')', { action: 'revote', strand: s.key }));
      }
      if (s.has_evidence) {
        actions.push(s.evidence_shown
          ? button('evidence-' + s.key, 'Hide evidence', { action: 'evidence', strand: s.key, show: false })
          : button('evidence-' + s.key, 'Show evidence', { action: 'evidence', strand: s.key, show: true }));
      }
      if (s.desk) {
        actions.push(s.revealed
          ? button('reveal-' + s.key, 'Hide desk rating', { action: 'reveal', strand: s.key, reveal: false })
          : button('reveal-' + s.key, 'Reveal desk rating', { action: 'reveal', strand: s.key, reveal: true }));
      }
      var distribution = state.levels.map(function (lv, i) { return lv.name + ' ' + s.counts[i]; }).join(' · ');
      rows.appendChild(el('tr', { className: 'govuk-table__row' + (onScreen ? ' is-current' : '') }, [
        el('th', { className: 'govuk-table__header', scope: 'row' }, [s.label, onScreen ? el('span', { className: 'govuk-tag tag', text: 'On screen' }) : null]),
        el('td', { className: 'govuk-table__cell', text: (STATUS[s.status] || s.status) + (s.round > 1 ? ' (round ' + s.round + ')' : '') }),
        el('td', { className: 'govuk-table__cell govuk-table__cell--numeric num', text: s.voted + ' of ' + state.joined }),
        el('td', { className: 'govuk-table__cell' }, [el('span', { className: 'distribution', text: distribution }),
                      L.bars(state.levels, s.counts, { desk: s.revealed ? s.desk : null, label: 'Votes per level for ' + s.name })]),
        el('td', { className: 'govuk-table__cell', text: s.desk ? s.desk.label + (s.revealed ? ' (revealed)' : ' (hidden)') : 'Not recorded' }),
        el('td', { className: 'govuk-table__cell actions' }, actions),
      ]));
    });
  }

  // ------------------------------------------------------------- keyboard shortcuts

  /* Single keys, so (WCAG 2.1.4) they can be turned off, and they never act while the focus is
     in a field, nor with Ctrl, Alt or Meta held (the browser's and screen readers' own keys). */
  var SHORTCUTS_KEY = 'voting:console-shortcuts';
  var KEYS = { n: 'next', arrowright: 'next', p: 'previous', arrowleft: 'previous',
               o: 'voting', r: 'results', d: 'desk' };
  var ARIA_KEYS = { next: 'N ArrowRight', previous: 'P ArrowLeft', results: 'R' };
  var shortcutsOn = $('shortcuts-on');

  try { shortcutsOn.checked = window.localStorage.getItem(SHORTCUTS_KEY) !== 'off'; } catch (e) { /* kept on */ }
  function announceKeys() {
    Object.keys(ARIA_KEYS).forEach(function (action) {
      var b = document.querySelector('[data-action=' + action + ']');
      if (shortcutsOn.checked) b.setAttribute('aria-keyshortcuts', ARIA_KEYS[action]);
      else b.removeAttribute('aria-keyshortcuts');
    });
  }
  announceKeys();
  shortcutsOn.addEventListener('change', function () {
    try { window.localStorage.setItem(SHORTCUTS_KEY, shortcutsOn.checked ? 'on' : 'off'); } catch (e) { /* this page only */ }
    announceKeys();
  });

  function typing(target) {
    return !!(target && target.closest &&
              target.closest('input, textarea, select, [contenteditable]:not([contenteditable="false"])'));
  }

  function shortcut(command) {
    if (command === 'results') { act({ action: 'results', show: !state.session.show_results }); return; }
    if (state.session.pacing !== 'live') {
      message('A self-paced session has no strand on screen: use the buttons in the table.', true);
      return;
    }
    if (command === 'next' || command === 'previous') { act({ action: command }); return; }
    var strand = state.strands.filter(function (s) { return s.key === state.session.current; })[0];
    if (!strand) { message('No strand is on screen yet: press N to show the first.', true); return; }
    if (command === 'voting') act({ action: strand.status === 'open' ? 'close' : 'open', strand: strand.key });
    else act({ action: 'reveal', strand: strand.key, reveal: !strand.revealed });
  }

  document.addEventListener('keydown', function (event) {
    if (!shortcutsOn.checked || !state || !event.key) return;
    if (event.ctrlKey || event.altKey || event.metaKey || event.isComposing || typing(event.target)) return;
    var command = KEYS[event.key.toLowerCase()];
    if (!command) return;
    event.preventDefault();
    if (!event.repeat) shortcut(command);   // holding a key down acts once
  });
})();
