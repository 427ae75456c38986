/* The projector: no controls, large type. Three screens: how to join (before the start, and
   whenever the facilitator asks), the strand on screen with a join strip, and a thank-you after
   the end. Bars only once a strand's results are visible, the desk rating only once revealed
   (the server sends nothing else). */
(function () {
  'use strict';
  var L = window.Live, el = L.el;
  var sessionId = parseInt(document.body.getAttribute('data-session-id'), 10);
  var $ = function (id) { return document.getElementById(id); };
  var state = null;

  var socket = L.connect(function () { return { role: 'presenter', session_id: sessionId }; });
  socket.on('connect', function () { $('connection').textContent = ''; });
  socket.on('disconnect', function (reason) {
    // The server closes a screen whose facilitator logged out; it will not come back by itself.
    $('connection').textContent = reason === 'io server disconnect'
      ? 'Disconnected: log in again and reload this page.' : 'Reconnecting…';
  });
  socket.on('connect_error', function (err) {
    $('connection').textContent = socket.active ? 'Reconnecting…' : err.message;
  });
  socket.on('state', function (data) { state = data; render(); });
  socket.on('tally', function (data) {
    if (!state) return;
    state.joined = data.joined;
    state.strands.forEach(function (s) {
      s.voted = data.voted[s.key];
      if (data.counts && data.counts[s.key]) s.counts = data.counts[s.key];
    });
    render();
  });

  function statusLine(s) {
    var words = { pending: 'Voting opens soon', open: 'Voting is open', closed: 'Voting is closed' }[s.status];
    return words + ' · ' + s.voted + ' voted';
  }

  function showScreen(name) {
    $('join-screen').hidden = name !== 'join';
    $('strand-screen').hidden = name === 'join';
    $('join-strip').hidden = name !== 'strand';
    document.body.setAttribute('data-screen', name);
  }

  function render() {
    if (!state) return;
    $('joined').textContent = String(state.joined);
    $('join-screen-count').textContent = String(state.joined);
    var session = state.session;
    var list = $('strand-list');
    L.clear(list);
    var results = $('strand-results');
    var desk = $('strand-desk');
    showEvidence(null);
    if (session.status === 'ended') {
      // No QR code or join code: nobody can join an ended session.
      showScreen('ended');
      L.clear(results);
      $('strand-title').textContent = 'Thank you: this session has ended';
      $('strand-purpose').textContent = state.joined === 1 ? '1 person took part.' : state.joined + ' people took part.';
      $('strand-status').textContent = '';
      desk.hidden = true;
      return;
    }
    if (session.status === 'draft' || session.show_join) {
      showScreen('join');
      return;
    }
    showScreen('strand');
    if (session.pacing === 'self_paced') {
      L.clear(results);
      $('strand-title').textContent = 'Rate each strand on your phone';
      $('strand-purpose').textContent = session.closes_at ? 'Voting closes ' + new Date(session.closes_at).toLocaleString('en-GB') : '';
      $('strand-status').textContent = '';
      desk.hidden = true;
      state.strands.forEach(function (s) {
        list.appendChild(el('section', { className: 'presenter-row' }, [
          el('h2', { text: s.label }),
          el('p', { text: statusLine(s) }),
          s.counts ? L.bars(state.levels, s.counts, { desk: s.desk, label: 'Votes per level for ' + s.name }) : null,
          s.desk ? el('p', { className: 'presenter-desk', text: 'Desk rating: ' + s.desk.label }) : null,
        ]));
      });
      return;
    }
    var strand = state.strands.filter(function (s) { return s.key === session.current; })[0];
    if (!strand) {
      L.clear(results);
      $('strand-title').textContent = 'Waiting for the first strand';
      return;
    }
    $('strand-title').textContent = strand.label;
    $('strand-purpose').textContent = strand.purpose || '';
    var line = statusLine(strand);
    if ($('strand-status').textContent !== line) $('strand-status').textContent = line;
    showEvidence(strand.evidence);
    // A tally changes the bars in place; a new strand or a revealed desk rating draws them anew.
    var drawn = results.querySelector('.bars');
    if (!strand.counts) L.clear(results);
    else if (!drawn || results.getAttribute('data-strand') !== strand.key ||
             !L.updateBars(drawn, state.levels, strand.counts, { desk: strand.desk })) {
      L.clear(results);
      results.appendChild(L.bars(state.levels, strand.counts, { desk: strand.desk, label: 'Votes per level' }));
    }
    results.setAttribute('data-strand', strand.key);
    desk.hidden = !strand.desk;
    desk.textContent = strand.desk ? "Programme team's desk rating: " + strand.desk.label : '';
  }

  /* The desk team's evidence for the strand on screen, put up by the facilitator; the server
     sends its words only while it is shown, and never the rating with it. */
  function showEvidence(evidence) {
    $('strand-evidence').hidden = !evidence;
    $('evidence-text').textContent = evidence ? evidence.evidence : '';
    $('evidence-sources').textContent = evidence && evidence.sources ? 'Sources: ' + evidence.sources : '';
  }

  // ------------------------------------------------------------- full screen

  /* The projector's browser shows only the presenter view. Esc also leaves full screen. */
  var full = $('fullscreen');
  var root = document.documentElement;
  var request = root.requestFullscreen || root.webkitRequestFullscreen;
  var exit = document.exitFullscreen || document.webkitExitFullscreen;
  function fullscreenElement() { return document.fullscreenElement || document.webkitFullscreenElement || null; }
  function showFullscreen() { full.textContent = fullscreenElement() ? 'Exit full screen' : 'Full screen'; }
  if (request && exit && (document.fullscreenEnabled || document.webkitFullscreenEnabled)) {
    full.hidden = false;
    full.addEventListener('click', function () {
      var done = fullscreenElement() ? exit.call(document) : request.call(root);
      if (done && done.catch) done.catch(function () { $('connection').textContent = 'This browser did not allow full screen.'; });
    });
    document.addEventListener('fullscreenchange', showFullscreen);
    document.addEventListener('webkitfullscreenchange', showFullscreen);
  }
})();
