/* The facilitator's console: every control is a `control` event, answered with a line to show.
   The panel's buttons are made once and change their words as the session moves on, and a
   table row keeps a data-focus slot for its buttons, so a keyboard or screen reader user keeps
   their place; votes arriving change figures in place rather than rebuilding the table. */
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
  socket.on('state', function (data) {
    var wasEnded = state && state.session.status === 'ended';
    state = data;
    L.keepFocus(render);
    // The controls have gone with the end of the session: the keyboard goes to what replaced them.
    var active = document.activeElement;
    if (data.session.status === 'ended' && !wasEnded &&
        (!active || active === document.body || $('strand-panel').contains(active) || !active.offsetParent)) {
      $('ended-title').focus();
    }
  });
  socket.on('tally', function (data) {
    if (!state) return;
    state.joined = data.joined;
    state.strands.forEach(function (s) {
      if (data.counts[s.key]) { s.counts = data.counts[s.key]; s.voted = data.voted[s.key]; }
    });
    updateFigures();
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

  function current() {
    if (!state || state.session.pacing !== 'live') return null;
    return state.strands.filter(function (s) { return s.key === state.session.current; })[0] || null;
  }

  function votingAction(strand) {
    return { action: strand.status === 'open' ? 'close' : 'open', strand: strand.key };
  }

  document.querySelectorAll('[data-action]').forEach(function (button) {
    button.addEventListener('click', function () {
      var action = button.getAttribute('data-action');
      if (action === 'end' && !window.confirm('End this session? Phones can no longer vote. Votes are kept.')) return;
      if (action === 'results') { act({ action: 'results', show: !state.session.show_results }); return; }
      if (action === 'join') { act({ action: 'join', show: !state.session.show_join }); return; }
      act({ action: action });
    });
  });
  $('panel-voting').addEventListener('click', function () {
    var strand = current();
    if (strand) act(votingAction(strand));
  });
  $('panel-evidence').addEventListener('click', function () {
    var strand = current();
    if (strand) act({ action: 'evidence', strand: strand.key, show: !strand.evidence_shown });
  });
  $('panel-desk').addEventListener('click', function () {
    var strand = current();
    if (strand) act({ action: 'reveal', strand: strand.key, reveal: !strand.revealed });
  });

  var STATUS = { pending: 'Not opened', open: 'Open', closed: 'Closed' };
  var SESSION = { draft: 'Not started', running: 'Running', ended: 'Ended' };

  /* A row's buttons read the same in every row, so their names also say which strand they act on
     (the visible words come first, so that speech input can still use them). */
  function button(id, slot, text, payload, kind) {
    var strand = state.strands.filter(function (s) { return s.key === payload.strand; })[0];
    var b = el('button', { type: 'button', id: id, 'data-focus': slot,
                           className: 'govuk-button govuk-!-margin-bottom-2 ' + (kind === undefined ? 'govuk-button--secondary' : kind), text: text,
                           'aria-label': strand ? text + ', ' + strand.label : null });
    b.addEventListener('click', function () { act(payload); });
    return b;
  }

  function votedText(s) { return s.voted + ' of ' + state.joined; }
  function distributionText(s) {
    return state.levels.map(function (lv, i) { return lv.name + ' ' + s.counts[i]; }).join(' · ');
  }
  function resultsWords(s) {
    if (s.status === 'pending') return 'nothing to show yet';
    return s.shown ? 'results shown to the room' : 'results hidden from the room until voting closes';
  }

  function renderPanel() {
    var session = state.session;
    var live = session.pacing === 'live';
    var ended = session.status === 'ended';
    $('strand-panel').hidden = ended;
    $('ended-panel').hidden = !ended;
    $('shortcuts').hidden = ended;
    $('strand-table').classList.toggle('is-ended', ended);
    document.querySelector('[data-action=start]').hidden = session.status !== 'draft';
    document.querySelector('[data-action=previous]').hidden = !live;
    document.querySelector('[data-action=next]').hidden = !live;
    document.querySelectorAll('[data-live-only]').forEach(function (row) { row.hidden = !live; });
    var join = $('join-toggle');
    var joinShown = session.show_join || session.status === 'draft';
    join.textContent = joinShown ? 'Hide join screen' : 'Show join screen';
    join.setAttribute('aria-pressed', joinShown ? 'true' : 'false');
    join.hidden = session.status !== 'running';   // before the start the projector always shows it
    var strand = current();
    var toggle = $('results-toggle');
    var voting = $('panel-voting');
    var desk = $('panel-desk');
    var evidence = $('panel-evidence');
    evidence.hidden = true;
    if (!live) {
      $('panel-strand').textContent = 'every strand, self-paced';
      $('panel-state').textContent = session.live_results ? 'Live bars while voting: on.'
        : session.show_results ? 'Results of open strands are shown to the room.'
        : 'Results of open strands are hidden from the room until they close.';
      voting.hidden = true;
      desk.hidden = true;
      toggle.hidden = session.live_results || ended;
      toggle.textContent = session.show_results ? 'Hide results' : 'Show results';
      toggle.setAttribute('aria-pressed', session.show_results ? 'true' : 'false');
      return;
    }
    $('panel-strand').textContent = strand ? strand.label : 'no strand yet';
    if (!strand) {
      $('panel-state').textContent = '';
      voting.hidden = desk.hidden = toggle.hidden = true;
      return;
    }
    $('panel-state').textContent = (STATUS[strand.status] || strand.status) +
      (strand.round > 1 ? ' (round ' + strand.round + ')' : '') + ' · ' + votedText(strand) + ' voted · ' + resultsWords(strand) +
      (strand.desk ? ' · desk rating ' + (strand.revealed ? 'revealed' : 'hidden') : ' · no desk rating');
    voting.hidden = false;
    voting.textContent = strand.status === 'open' ? 'Close voting' : strand.status === 'closed' ? 'Reopen voting' : 'Open voting';
    voting.className = 'govuk-button ' + (strand.status === 'open' ? 'govuk-button--warning' : strand.status === 'closed' ? 'govuk-button--secondary' : '');
    toggle.hidden = strand.status !== 'open' || session.live_results;
    toggle.textContent = session.show_results ? 'Hide results' : 'Show results';
    toggle.setAttribute('aria-pressed', session.show_results ? 'true' : 'false');
    desk.hidden = !strand.desk || strand.status === 'open';
    desk.textContent = strand.revealed ? 'Hide desk rating' : 'Reveal desk rating';
    evidence.hidden = !strand.has_evidence;
    evidence.textContent = strand.evidence_shown ? 'Hide evidence' : 'Show evidence';
  }

  function render() {
    if (!state) return;
    var session = state.session;
    $('status').textContent = SESSION[session.status] || session.status;
    $('joined').textContent = String(state.joined);
    renderPanel();
    var live = session.pacing === 'live';
    var ended = session.status === 'ended';
    var rows = $('strand-rows');
    L.clear(rows);
    state.strands.forEach(function (s) {
      var onScreen = live && session.current === s.key;
      var actions = [];
      if (!ended) {
        if (live && !onScreen) {
          // Once on screen it has no "Show on screen": the keyboard moves on to its voting button.
          var goto = button('goto-' + s.key, 'goto-' + s.key, 'Show on screen', { action: 'goto', strand: s.key });
          goto.setAttribute('data-focus-fallback', 'voting-' + s.key);
          actions.push(goto);
        }
        // One slot for open, close and reopen: the button that replaces the one pressed takes the focus.
        if (s.status === 'open') actions.push(button('close-' + s.key, 'voting-' + s.key, 'Close voting', { action: 'close', strand: s.key }, 'govuk-button--warning'));
        else if (s.status === 'closed') actions.push(button('open-' + s.key, 'voting-' + s.key, 'Reopen voting', { action: 'open', strand: s.key }));
        else actions.push(button('open-' + s.key, 'voting-' + s.key, 'Open voting', { action: 'open', strand: s.key }, onScreen ? '' : undefined));
        if (s.status === 'closed') {
          actions.push(button('revote-' + s.key, 'revote-' + s.key, 'Re-vote (round ' + (s.round + 1) + ')', { action: 'revote', strand: s.key }));
        }
        if (s.has_evidence) {
          actions.push(s.evidence_shown
            ? button('evidence-' + s.key, 'evidence-' + s.key, 'Hide evidence', { action: 'evidence', strand: s.key, show: false })
            : button('evidence-' + s.key, 'evidence-' + s.key, 'Show evidence', { action: 'evidence', strand: s.key, show: true }));
        }
        if (s.desk) {
          actions.push(s.revealed
            ? button('reveal-' + s.key, 'reveal-' + s.key, 'Hide desk rating', { action: 'reveal', strand: s.key, reveal: false })
            : button('reveal-' + s.key, 'reveal-' + s.key, 'Reveal desk rating', { action: 'reveal', strand: s.key, reveal: true }));
        }
      }
      rows.appendChild(el('tr', { className: 'govuk-table__row' + (onScreen ? ' is-current' : ''), id: 'row-' + s.key }, [
        el('th', { className: 'govuk-table__header', scope: 'row' }, [s.label, onScreen ? el('span', { className: 'govuk-tag tag', text: 'On screen' }) : null]),
        el('td', { className: 'govuk-table__cell', text: (STATUS[s.status] || s.status) + (s.round > 1 ? ' (round ' + s.round + ')' : '') }),
        el('td', { className: 'govuk-table__cell govuk-table__cell--numeric num', id: 'voted-' + s.key, text: votedText(s) }),
        el('td', { className: 'govuk-table__cell', id: 'figures-' + s.key }, [el('span', { className: 'distribution', id: 'dist-' + s.key, text: distributionText(s) }),
                      L.bars(state.levels, s.counts, { desk: s.revealed ? s.desk : null, label: 'Votes per level for ' + s.name })]),
        el('td', { className: 'govuk-table__cell', text: s.desk ? s.desk.label + (s.revealed ? ' (revealed)' : ' (hidden)') : 'Not recorded' }),
        el('td', { className: 'govuk-table__cell actions' }, actions),
      ]));
    });
  }

  /* A tally: new figures, written into the cells that hold them (nothing is rebuilt). */
  function updateFigures() {
    $('joined').textContent = String(state.joined);
    state.strands.forEach(function (s) {
      var voted = $('voted-' + s.key), dist = $('dist-' + s.key), cell = $('figures-' + s.key);
      if (!voted || !dist || !cell) return;
      if (voted.textContent !== votedText(s)) voted.textContent = votedText(s);
      if (dist.textContent !== distributionText(s)) dist.textContent = distributionText(s);
      L.updateBars(cell.querySelector('.bars'), state.levels, s.counts, { desk: s.revealed ? s.desk : null });
    });
    var strand = current();
    if (strand) renderPanel();
  }

  // ------------------------------------------------------------- keyboard shortcuts

  /* Single keys, so (WCAG 2.1.4) they can be turned off, and they never act while the focus is
     in a field, nor with Ctrl, Alt or Meta held (the browser's and screen readers' own keys). */
  var SHORTCUTS_KEY = 'voting:console-shortcuts';
  var KEYS = { n: 'next', arrowright: 'next', p: 'previous', arrowleft: 'previous',
               o: 'voting', r: 'results', d: 'desk', j: 'join' };
  var ARIA_KEYS = { next: 'N ArrowRight', previous: 'P ArrowLeft', results: 'R', join: 'J' };
  var shortcutsOn = $('shortcuts-on');

  try { shortcutsOn.checked = window.localStorage.getItem(SHORTCUTS_KEY) !== 'off'; } catch (e) { /* kept on */ }
  function announceKeys() {
    Object.keys(ARIA_KEYS).forEach(function (action) {
      var b = document.querySelector('[data-action=' + action + ']');
      if (shortcutsOn.checked) b.setAttribute('aria-keyshortcuts', ARIA_KEYS[action]);
      else b.removeAttribute('aria-keyshortcuts');
    });
    if (shortcutsOn.checked) $('panel-voting').setAttribute('aria-keyshortcuts', 'O');
    else $('panel-voting').removeAttribute('aria-keyshortcuts');
    if (shortcutsOn.checked) $('panel-desk').setAttribute('aria-keyshortcuts', 'D');
    else $('panel-desk').removeAttribute('aria-keyshortcuts');
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
    if (state.session.status === 'ended') { message('The session has ended.', true); return; }
    if (command === 'results') { act({ action: 'results', show: !state.session.show_results }); return; }
    if (command === 'join') { act({ action: 'join', show: !state.session.show_join }); return; }
    if (state.session.pacing !== 'live') {
      message('A self-paced session has no strand on screen: use the buttons in the table.', true);
      return;
    }
    if (command === 'next' || command === 'previous') { act({ action: command }); return; }
    var strand = current();
    if (!strand) { message('No strand is on screen yet: press N to show the first.', true); return; }
    if (command === 'voting') act(votingAction(strand));
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
