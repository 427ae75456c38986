/* The participant's phone: join, optional profile, vote per strand, see the result.
   A vote is shown as "Sending…" until the server acknowledges it (after its commit), and is
   queued while offline, then sent with the same client vote id so a resend is applied once. */
(function () {
  'use strict';
  var L = window.Live, el = L.el;
  var code = document.body.getAttribute('data-code');
  var TOKEN_KEY = 'voting:token:' + code;
  var PENDING_KEY = 'voting:pending:' + code;
  var $ = function (id) { return document.getElementById(id); };

  var memory = {};
  function load(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return memory[key] || null; }
  }
  function save(key, value) {
    try {
      if (value === null) window.localStorage.removeItem(key); else window.localStorage.setItem(key, value);
    } catch (e) { memory[key] = value; }
  }

  var token = load(TOKEN_KEY);
  var state = null;                    // the session as every phone sees it
  var mine = { votes: {}, profile: null };
  var pending = JSON.parse(load(PENDING_KEY) || '{}');  // strand -> vote not yet acknowledged
  var inflight = null;
  var errors = {};                     // strand -> refusal message
  var drafts = {};                     // strand -> comment being typed
  var refused = false;
  var commentSaved = {};               // strand -> its comment was saved (until edited again)
  var lastKey = null;                  // the strand last tapped (for the bar in a self-paced session)
  var ENDED = 'This session has ended. Thank you for taking part.';

  function newVoteId() {
    var bytes = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
  }

  function announce(text) {
    var node = $('announce');
    node.textContent = '';
    window.setTimeout(function () { node.textContent = text; }, 50);
  }

  function setConnection(kind) {
    var text = {
      online: 'Connected',
      connecting: 'Connecting…',
      reconnecting: 'Reconnecting…',
      offline: 'Offline: your vote will be sent when you are back online',
    }[kind];
    var node = $('connection');
    node.textContent = text;
    node.className = 'connection connection-' + kind;
    Object.keys(pending).forEach(updateStrand);   // "Sending…" or "Waiting to send"
    updateBar();
  }

  /* The notice carries a heading when the session has ended, so that focus can go to it. */
  function showNotice(text, asHeading) {
    var node = $('notice');
    if (node.textContent === (text || '') && !!node.querySelector('h2') === !!asHeading) return;
    L.clear(node);
    if (text && asHeading) node.appendChild(el('h2', { className: 'notice-title', id: 'notice-title', tabindex: '-1', text: text }));
    else node.textContent = text || '';
    node.hidden = !text;
  }

  var socket = L.connect(function () { return { role: 'phone', code: code, token: token }; });

  socket.on('connect', function () {
    refused = false;
    retries = 0;
    // The snapshot sent on connecting has already been rendered (socket.io delivers it before
    // this event), so keep the notice it calls for rather than clearing it.
    if (state && state.session.status === 'ended') showNotice(ENDED, true);
    else showNotice('');
    setConnection('online');
    pump();
  });
  socket.on('disconnect', function () { setConnection(navigator.onLine === false ? 'offline' : 'reconnecting'); });
  socket.on('connect_error', function (err) {
    if (!socket.active && err && err.data && err.data.retry) {
      retryLater(err.message);       // the server could not finish the join: try again later
    } else if (!socket.active) {     // refused by the server: it will not retry by itself
      refused = true;
      showNotice(err && err.message ? err.message : 'Could not join this session.');
      setConnection('connecting');
      $('connection').textContent = 'Not connected';
    } else {
      setConnection(navigator.onLine === false ? 'offline' : 'reconnecting');
    }
  });
  // A refused join marked `retry` (the server busy, its database unreachable) is tried again
  // after a pause that doubles each time, up to 30 s, and is randomised so that a room of phones
  // refused together does not come back together.
  var retries = 0, retryTimer = null;
  function retryLater(message) {
    showNotice(message);
    setConnection('reconnecting');
    var delay = Math.min(30000, 1000 * Math.pow(2, retries)) * (0.5 + Math.random());
    retries += 1;
    window.clearTimeout(retryTimer);
    retryTimer = window.setTimeout(function () {
      retryTimer = null;
      if (!socket.connected) socket.connect();
    }, delay);
  }

  // A phone that knows it has lost its network says so at once, and drops the socket rather than
  // wait for the heartbeat to notice (up to 40 s); back online, it reconnects at once rather than
  // at the next step of its back-off.
  window.addEventListener('offline', function () {
    setConnection('offline');
    if (socket.io.engine) socket.io.engine.close();
  });
  window.addEventListener('online', function () {
    if (socket.connected || refused) return;
    setConnection('reconnecting');
    socket.disconnect().connect();
  });

  socket.on('joined', function (data) {
    if (data && data.token) { token = data.token; save(TOKEN_KEY, token); }
  });
  var rounds = {};                     // strand -> round this phone last saw
  // After a console action the server sends phones a `lean` state: all but the framework's text,
  // which came with the snapshot on connecting. Put the text back by strand key; a phone that
  // lacks it for some strand asks for a fresh snapshot instead.
  function withFrameworkText(lean) {
    var had = {};
    (state ? state.strands : []).forEach(function (s) { had[s.key] = s; });
    if (!lean.strands.every(function (s) { return had[s.key]; })) return null;
    lean.strands = lean.strands.map(function (s) {
      var full = {};
      Object.keys(had[s.key]).forEach(function (k) { full[k] = had[s.key][k]; });
      Object.keys(s).forEach(function (k) { full[k] = s[k]; });
      return full;
    });
    delete lean.lean;
    return lean;
  }

  socket.on('state', function (data) {
    if (data.lean) {
      data = withFrameworkText(data);
      if (!data) { socket.emit('sync'); return; }
    }
    // A new round (a re-vote after discussion) starts every phone afresh on that strand.
    data.strands.forEach(function (s) {
      if (rounds[s.key] !== undefined && rounds[s.key] !== s.round) {
        delete mine.votes[s.key];
        delete pending[s.key];
        delete errors[s.key];
        delete drafts[s.key];
        save(PENDING_KEY, JSON.stringify(pending));
      }
      rounds[s.key] = s.round;
    });
    var said = changes(state, data);
    var target = nextThing(state, data);
    state = data;
    L.keepFocus(render);
    if (said) announce(said);
    if (target) showNextThing(target);
  });
  socket.on('me', function (data) { mine = data; L.keepFocus(render); });
  socket.on('my_vote', function (vote) {
    mine.votes[vote.strand] = { level: vote.level, comment: vote.comment };
    updateStrand(vote.strand);
  });
  socket.on('tally', function (data) {
    if (!state || !data.counts) return;
    state.strands.forEach(function (s) {
      if (data.counts[s.key]) { s.counts = data.counts[s.key]; updateResults(s); }
    });
  });

  // ------------------------------------------------------------- sending votes

  function castVote(strand, level, comment) {
    var entry = { strand: strand, level: level, client_vote_id: newVoteId() };
    if (comment !== undefined) entry.comment = comment;
    pending[strand] = entry;
    save(PENDING_KEY, JSON.stringify(pending));
    delete errors[strand];
    lastKey = strand;
    if (comment !== undefined) delete commentSaved[strand];
    updateStrand(strand);
    if (navigator.onLine === false) announce('You are offline. Your vote will be sent when you are back online.');
    else if (!socket.connected) announce('Not connected. Your vote will be sent when the connection returns.');
    pump();
  }

  /* One vote in flight at a time, so that the server stores them in the order they were made. */
  function pump() {
    if (inflight || !socket.connected || navigator.onLine === false) return;
    var keys = Object.keys(pending);
    if (!keys.length) return;
    var entry = pending[keys[0]];
    inflight = entry;
    socket.timeout(10000).emit('vote', entry, function (err, ack) {
      inflight = null;
      if (err) { window.setTimeout(pump, 1000); return; }   // no answer: resend, same id
      var current = pending[entry.strand];
      var superseded = current && current.client_vote_id !== entry.client_vote_id;
      if (!superseded) {
        delete pending[entry.strand];
        save(PENDING_KEY, JSON.stringify(pending));
        if (ack && ack.ok) {
          mine.votes[entry.strand] = { level: ack.vote.level, comment: ack.vote.comment };
          delete drafts[entry.strand];
          if (entry.comment !== undefined) {
            commentSaved[entry.strand] = true;
            announce('Comment saved for ' + strandName(entry.strand) + '.');
          } else {
            announce('Saved: ' + levelName(ack.vote.level) + ' for ' + strandName(entry.strand) + '.');
          }
        } else {
          errors[entry.strand] = (ack && ack.error) || 'Your vote was not saved.';
          announce(errors[entry.strand]);
        }
        updateStrand(entry.strand);
      }
      pump();
    });
  }

  // ------------------------------------------------------------- rendering

  function levelName(number) {
    var level = state && state.levels[number - 1];
    return level ? level.name : String(number);
  }
  function strandName(key) {
    var strand = state && state.strands.filter(function (s) { return s.key === key; })[0];
    return strand ? strand.name : key;
  }

  function visibleStrands() {
    if (!state) return [];
    if (state.session.pacing === 'self_paced') return state.strands;
    return state.strands.filter(function (s) { return s.key === state.session.current; });
  }

  function render() {
    var box = $('strands');
    // A new snapshot rebuilds the cards; descriptors someone had opened stay open.
    var opened = Array.prototype.map.call(box.querySelectorAll('details[open] > summary'),
                                          function (summary) { return summary.id; });
    L.clear(box);
    if (!state) return;
    var session = state.session;
    if (session.status === 'ended') {
      showNotice(ENDED, true);
    } else if (!refused) {
      showNotice('');
    }
    updateBar();
    if (renderProfile()) return;
    var shown = visibleStrands();
    if (!shown.length) {
      box.appendChild(el('p', { className: 'waiting', text: 'You have joined. Voting starts when the facilitator opens the first strand.' }));
      return;
    }
    shown.forEach(function (strand) { box.appendChild(strandCard(strand)); });
    updateBar();
    shown.forEach(function (strand) { updateStrand(strand.key); updateResults(strand); });
    opened.forEach(function (id) { var summary = $(id); if (summary) summary.parentNode.open = true; });
  }

  /* What changed on screen between two snapshots, in words, for screen reader users (who would
     not otherwise notice that voting opened or closed, or that the strand moved on). */
  function changes(before, after) {
    if (!before || after.session.status === 'ended') return '';   // the notice says it has ended
    var said = [];
    if (after.session.pacing === 'live' && before.session.current !== after.session.current) {
      var current = after.strands.filter(function (s) { return s.key === after.session.current; })[0];
      if (current) said.push('Now showing ' + current.label + '.');
    }
    var was = {};
    before.strands.forEach(function (s) { was[s.key] = s; });
    var shown = after.session.pacing === 'live'
      ? after.strands.filter(function (s) { return s.key === after.session.current; }) : after.strands;
    shown.forEach(function (s) {
      var old = was[s.key] || {};
      if (s.status !== old.status && s.status === 'open') said.push('Voting is open on ' + s.name + '.');
      if (s.status !== old.status && s.status === 'closed') said.push('Voting on ' + s.name + ' is closed.');
      if (s.counts && !old.counts) said.push("The room's results are shown.");
      if (s.desk && !old.desk) said.push("The programme team's desk rating for " + s.name + ' is shown.');
    });
    return said.join(' ');
  }

  /* Where the phone should take its person after a snapshot: the heading of what changed, when
     the strand on screen changed, voting opened or closed, results appeared or the session
     ended (null otherwise: a snapshot that changes none of these leaves the page alone). */
  function nextThing(before, after) {
    if (!before) return null;
    if (after.session.status === 'ended') return before.session.status === 'ended' ? null : 'notice-title';
    var live = after.session.pacing === 'live';
    if (live && before.session.current !== after.session.current) return 'title-' + after.session.current;
    var was = {};
    before.strands.forEach(function (s) { was[s.key] = s; });
    var shown = live ? after.strands.filter(function (s) { return s.key === after.session.current; }) : after.strands;
    for (var i = 0; i < shown.length; i++) {
      var s = shown[i], old = was[s.key] || {};
      if (s.status !== old.status || (s.counts && !old.counts) || (s.desk && !old.desk)) return 'title-' + s.key;
    }
    return null;
  }

  function showNextThing(id) {
    var heading = $(id);
    if (!heading || (state.profile && mine.profile && !mine.profile.done && state.session.status !== 'ended')) return;
    // Someone typing a comment keeps their place; the live region has told them what changed.
    var active = document.activeElement;
    if (active && active.tagName === 'TEXTAREA' && state.session.status !== 'ended') return;
    if (state.session.pacing === 'live' || id === 'notice-title') window.scrollTo(0, 0);
    else heading.scrollIntoView({ block: 'start' });
    heading.focus({ preventScroll: true });
  }

  function strandCard(strand) {
    var key = strand.key;
    var open = strand.status === 'open' && state.session.status !== 'ended';
    var options = state.levels.map(function (level, i) {
      var cell = strand.cells[i];
      var id = 'opt-' + key + '-' + level.number;
      var input = el('input', { type: 'radio', name: 'level-' + key, id: id, value: level.number,
                                'aria-describedby': 'sum-' + key + '-' + level.number });
      input.addEventListener('change', function () { castVote(key, level.number); });
      return el('div', { className: 'level-option level-option-' + level.number }, [
        input,
        el('label', { 'for': id }, [
          el('span', { className: 'level-name', text: level.name }),
          el('span', { className: 'level-summary', id: 'sum-' + key + '-' + level.number, text: cell.summary }),
        ]),
        el('details', { className: 'level-more' }, [
          el('summary', { id: 'more-' + key + '-' + level.number }, ['More about ' + level.name, el('span', { className: 'visually-hidden', text: ' for ' + strand.name })]),
          el('ul', {}, cell.descriptors.map(function (d) { return el('li', { text: d }); })),
        ]),
      ]);
    });
    var statusText = open ? 'Voting is open. Tap a level; you can change it while voting is open.'
      : strand.status === 'pending' ? 'Voting on this strand opens soon.'
      : 'Voting on this strand is closed.';
    var commentStatus = el('p', { className: 'comment-status', id: 'comment-status-' + key });
    var comment = el('textarea', { className: 'govuk-textarea', id: 'comment-' + key, rows: '3', maxlength: '500',
                                   'aria-describedby': 'comment-hint-' + key });
    comment.addEventListener('input', function () {
      drafts[key] = comment.value;
      if (commentSaved[key]) { delete commentSaved[key]; updateStrand(key); }
    });
    var saveComment = el('button', { type: 'button', className: 'govuk-button govuk-button--secondary', id: 'save-comment-' + key, text: 'Save comment' });
    saveComment.addEventListener('click', function () {
      var level = chosenLevel(key);
      if (!level) { errors[key] = 'Choose a level before adding a comment.'; updateStrand(key); return; }
      castVote(key, level, comment.value);
    });
    // The results, once shown, come straight after the strand's state, above the levels, so
    // that a phone brought back to the top shows them.
    return el('section', { className: 'strand-card', id: 'card-' + key, 'aria-labelledby': 'title-' + key }, [
      el('h1', { className: 'strand-title', id: 'title-' + key, tabindex: '-1', text: strand.label }),
      aboutStrand(strand),
      el('p', { className: 'strand-state strand-state-' + strand.status, id: 'state-' + key, text: statusText }),
      el('div', { className: 'results', id: 'results-' + key, hidden: true }),
      el('p', { className: 'desk-line', id: 'desk-' + key, hidden: true }),
      el('fieldset', { className: 'govuk-fieldset levels', id: 'levels-' + key, disabled: !open }, [
        el('legend', { className: 'visually-hidden', text: 'Your rating for ' + strand.name }),
      ].concat(options)),
      el('p', { className: 'vote-status', id: 'status-' + key }),
      el('div', { className: 'govuk-form-group comment-group', id: 'comment-group-' + key, hidden: !open }, [
        el('label', { className: 'govuk-label govuk-label--s', 'for': 'comment-' + key, text: 'Add a comment (optional)' }),
        el('p', { className: 'govuk-hint', id: 'comment-hint-' + key, text: 'Evidence or a reason for your rating. Please do not name anyone.' }),
        comment,
        el('div', { className: 'comment-actions' }, [saveComment, commentStatus]),
      ]),
    ]);
  }

  /* "About this strand": its purpose and the model's guidance (subtitle, what it is measured
     by, the local evidence to look for), folded away until asked for. */
  function aboutStrand(strand) {
    var key = strand.key;
    var measures = strand.measures || [], lookFor = strand.look_for || [];
    if (!strand.purpose && !strand.subtitle && !measures.length && !lookFor.length) return null;
    function list(id, heading, items) {
      if (!items.length) return [];
      return [el('p', { className: 'about-heading', id: id + '-title-' + key, text: heading }),
              el('ul', { id: id + '-' + key, 'aria-labelledby': id + '-title-' + key },
                 items.map(function (item) { return el('li', { text: item }); }))];
    }
    return el('details', { className: 'strand-purpose', id: 'about-' + key }, [
      el('summary', { id: 'purpose-' + key }, ['About this strand', el('span', { className: 'visually-hidden', text: ': ' + strand.name })]),
      strand.subtitle ? el('p', { className: 'about-subtitle', id: 'subtitle-' + key, text: strand.subtitle }) : null,
      strand.purpose ? el('p', { className: 'govuk-hint', text: strand.purpose }) : null,
    ].concat(list('measures', 'Measured by', measures), list('look-for', 'Evidence to look for', lookFor)));
  }

  function chosenLevel(key) {
    if (pending[key]) return pending[key].level;
    return mine.votes[key] ? mine.votes[key].level : null;
  }

  function updateStrand(key) {
    var status = $('status-' + key);
    if (!status) return;
    var level = chosenLevel(key);
    if (state) {
      state.levels.forEach(function (lv) {
        var input = $('opt-' + key + '-' + lv.number);
        if (input) input.checked = lv.number === level;
      });
    }
    var comment = $('comment-' + key);
    if (comment && document.activeElement !== comment) {
      var saved = mine.votes[key] ? mine.votes[key].comment : '';
      comment.value = drafts[key] !== undefined ? drafts[key] : (saved || '');
    }
    if (errors[key]) {
      status.textContent = errors[key];
      status.className = 'vote-status vote-error';
    } else if (pending[key]) {
      status.textContent = socket.connected && navigator.onLine !== false ? 'Sending…'
        : navigator.onLine === false ? 'Waiting to send: you are offline.'
        : 'Waiting to send: reconnecting…';
      status.className = 'vote-status vote-sending';
    } else if (mine.votes[key]) {
      status.textContent = 'Your vote is saved: ' + levelName(mine.votes[key].level) + '.';
      status.className = 'vote-status vote-saved';
    } else {
      status.textContent = '';
      status.className = 'vote-status';
    }
    var said = $('comment-status-' + key);
    if (said) {
      var sending = pending[key] && pending[key].comment !== undefined;
      said.textContent = sending ? (socket.connected && navigator.onLine !== false ? 'Saving comment…' : 'Comment waiting to send')
        : commentSaved[key] ? 'Comment saved' : '';
      said.className = 'comment-status' + (commentSaved[key] && !sending ? ' comment-saved' : '');
    }
    updateBar();
  }

  /* The bar at the foot of the screen: what became of the last tap, always in view. */
  function barStrand() {
    if (!state || state.session.status === 'ended') return null;
    var shown = visibleStrands().filter(function (s) { return s.status === 'open'; });
    if (!shown.length) return null;
    var keys = shown.map(function (s) { return s.key; });
    var key = state.session.pacing === 'live' ? keys[0] : (keys.indexOf(lastKey) >= 0 ? lastKey : null);
    if (!key || !$('card-' + key) || !(pending[key] || errors[key] || mine.votes[key])) return null;
    return key;
  }

  function updateBar() {
    var bar = $('vote-bar');
    if (!bar) return;
    var key = barStrand();
    bar.hidden = !key;
    document.body.classList.toggle('has-vote-bar', !!key);
    if (!key) return;
    var live = state.session.pacing === 'live';
    var suffix = live ? '' : ' for ' + strandName(key);
    var kind, words;
    if (errors[key]) {
      kind = 'error'; words = 'Not saved: ' + errors[key];
    } else if (pending[key]) {
      var online = socket.connected && navigator.onLine !== false;
      kind = online ? 'sending' : 'waiting';
      words = online ? 'Sending: ' + levelName(pending[key].level) + suffix + '…'
        : 'Waiting to send: ' + levelName(pending[key].level) + suffix
          + (navigator.onLine === false ? ' (you are offline)' : ' (reconnecting)');
    } else {
      kind = 'saved'; words = 'Saved: ' + levelName(mine.votes[key].level) + suffix;
    }
    bar.className = 'vote-bar vote-bar-' + kind;
    bar.setAttribute('data-strand', key);
    $('vote-bar-mark').textContent = { saved: '✓', sending: '…', waiting: '!', error: '✗' }[kind];
    $('vote-bar-words').textContent = words;
  }

  $('vote-bar-change').addEventListener('click', function () {
    var key = $('vote-bar').getAttribute('data-strand');
    var level = chosenLevel(key);
    var input = $('opt-' + key + '-' + (level || 1));
    if (!input) return;
    input.scrollIntoView({ block: 'center' });
    input.focus({ preventScroll: true });
  });

  function updateResults(strand) {
    var box = $('results-' + strand.key);
    var desk = $('desk-' + strand.key);
    if (!box) return;
    box.hidden = !strand.counts;
    if (strand.counts) {
      // Votes arriving change the figures in place, so a screen reader reading them keeps its place.
      var list = box.querySelector('.bars');
      if (!list || !L.updateBars(list, state.levels, strand.counts, { desk: strand.desk })) {
        L.clear(box);
        box.appendChild(el('h2', { className: 'results-title', text: 'How the room voted' }));
        box.appendChild(L.bars(state.levels, strand.counts, { desk: strand.desk, label: 'Votes per level for ' + strand.name }));
      }
    } else {
      L.clear(box);
    }
    desk.hidden = !strand.desk;
    desk.textContent = strand.desk ? "The programme team's desk rating: " + strand.desk.label : '';
  }

  function renderProfile() {
    var box = $('profile');
    var options = state.profile;
    var needed = options && mine.profile && !mine.profile.done && state.session.status !== 'ended';
    box.hidden = !needed;
    L.clear(box);
    if (!needed) return false;
    var roleRadios = options.roles.map(function (r) {
      return el('div', { className: 'govuk-radios__item' }, [
        el('input', { className: 'govuk-radios__input', type: 'radio', name: 'role', id: 'role-' + r.value, value: r.value }),
        el('label', { className: 'govuk-label govuk-radios__label', 'for': 'role-' + r.value, text: r.label }),
      ]);
    });
    var sector = el('select', { className: 'govuk-select', id: 'sector', name: 'sector' },
      [el('option', { value: '', text: 'Prefer not to say' })].concat(options.sectors.map(function (s) {
        return el('option', { value: s, text: s });
      })));
    var locality = options.localities.length ? el('div', { className: 'govuk-form-group' }, [
      el('label', { className: 'govuk-label govuk-label--s', 'for': 'locality', text: 'Your locality' }),
      el('select', { className: 'govuk-select', id: 'locality', name: 'locality' },
        [el('option', { value: '', text: 'Prefer not to say' })].concat(options.localities.map(function (s) {
          return el('option', { value: s, text: s });
        }))),
    ]) : null;
    var form = el('form', { id: 'profile-form', novalidate: true }, [
      el('h1', { className: 'govuk-heading-l', id: 'profile-title', text: 'About you (optional)' }),
      el('p', { text: 'This helps compare views between groups. Results for groups of fewer than five people are never shown. We never ask your name.' }),
      el('div', { className: 'govuk-form-group' }, [el('fieldset', { className: 'govuk-fieldset' }, [el('legend', { className: 'govuk-fieldset__legend govuk-fieldset__legend--s', text: 'Your role' }), el('div', { className: 'govuk-radios' }, roleRadios)])]),
      el('div', { className: 'govuk-form-group' }, [el('label', { className: 'govuk-label govuk-label--s', 'for': 'sector', text: 'Your sector or agency' }), sector]),
      locality,
      el('p', { className: 'vote-status', id: 'profile-status', role: 'status' }),
      el('div', { className: 'govuk-button-group' }, [
        el('button', { type: 'submit', className: 'govuk-button', text: 'Continue' }),
        el('button', { type: 'button', className: 'govuk-button govuk-button--secondary', id: 'profile-skip', text: 'Skip' }),
      ]),
    ]);
    box.appendChild(form);
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var role = form.querySelector('input[name=role]:checked');
      sendProfile({ role: role ? role.value : '', sector: sector.value,
                    locality: locality ? $('locality').value : '' });
    });
    $('profile-skip').addEventListener('click', function () { sendProfile({}); });
    return true;
  }

  function sendProfile(profile) {
    $('profile-status').textContent = 'Saving…';
    socket.timeout(10000).emit('profile', profile, function (err, ack) {
      if (err || !ack.ok) {
        $('profile-status').textContent = err ? 'No answer from the server. Try again.' : ack.error;
        return;
      }
      mine.profile = ack.profile;
      render();
      var first = document.querySelector('.strand-title, .waiting');
      if (first) { first.setAttribute('tabindex', '-1'); first.focus(); }
    });
  }

  setConnection('connecting');
})();
