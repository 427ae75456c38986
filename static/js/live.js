/* Shared helpers for the phone, console and presenter pages. No framework: these pages must
   load fast on old phones over weak connections. All text goes in with textContent. */
(function () {
  'use strict';

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === null || value === undefined || value === false) return;
      if (name === 'text') node.textContent = value;
      else if (name === 'className') node.className = value;
      else node.setAttribute(name, value === true ? '' : value);
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    });
    return node;
  }

  function percent(count, total) {
    return total > 0 ? Math.round((100 * count) / total) : 0;
  }

  /* A labelled bar per level: the text carries the figures, the bar only illustrates them. */
  function bars(levels, counts, options) {
    options = options || {};
    var total = counts.reduce(function (a, b) { return a + b; }, 0);
    var desk = options.desk || null;
    var list = el('ul', { className: 'bars', 'aria-label': options.label || 'Votes per level' });
    levels.forEach(function (level, i) {
      var n = counts[i] || 0;
      var isDesk = desk && (desk.level === level.number || desk.upper_level === level.number);
      var fill = el('span', { className: 'bar-fill level-' + level.number });
      fill.style.width = percent(n, total) + '%';
      /* The server picks the colour for the number of levels (voting/colours.py). Set through
         the CSSOM, which the Content-Security-Policy allows (a style attribute it would not). */
      fill.style.backgroundColor = level.colour;
      list.appendChild(el('li', { className: 'bar-row' + (isDesk ? ' is-desk' : '') }, [
        el('span', { className: 'bar-label', text: level.name }),
        el('span', { className: 'bar-track', 'aria-hidden': 'true' }, [fill]),
        el('span', { className: 'bar-value', text: n + ' (' + percent(n, total) + '%)' }),
        isDesk ? el('span', { className: 'desk-tag', text: 'Desk' }) : null,
      ]));
    });
    return list;
  }

  /* The same figures in bars already drawn, changed in place (no node replaced, so a screen
     reader reading them keeps its place). False when the bars cannot be updated so (another
     number of levels, or the desk rating moved): draw them anew. */
  function updateBars(list, levels, counts, options) {
    options = options || {};
    var rows = list.querySelectorAll('.bar-row');
    if (rows.length !== levels.length) return false;
    var desk = options.desk || null;
    var total = counts.reduce(function (a, b) { return a + b; }, 0);
    for (var i = 0; i < levels.length; i++) {
      var isDesk = !!(desk && (desk.level === levels[i].number || desk.upper_level === levels[i].number));
      if (isDesk !== rows[i].classList.contains('is-desk')) return false;
    }
    levels.forEach(function (level, i) {
      var n = counts[i] || 0;
      rows[i].querySelector('.bar-fill').style.width = percent(n, total) + '%';
      var value = rows[i].querySelector('.bar-value');
      var text = n + ' (' + percent(n, total) + '%)';
      if (value.textContent !== text) value.textContent = text;
    });
    return true;
  }

  function connect(auth) {
    // auth is a function so that a reconnect sends what we know by then (the phone's token).
    return window.io({ auth: function (cb) { cb(auth()); }, reconnectionDelayMax: 5000 });
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  /* Re-render without losing the keyboard's place: the focused element, or the element that
     replaces it (the same id, or the same data-focus: "Close voting" replaces "Open voting"). */
  function keepFocus(render) {
    var active = document.activeElement;
    var id = active && active.id;
    var slot = active && active.getAttribute && active.getAttribute('data-focus');
    var fallback = active && active.getAttribute && active.getAttribute('data-focus-fallback');
    render();
    if (document.activeElement === active && document.contains(active)) return;
    var again = (slot && document.querySelector('[data-focus="' + slot + '"]')) ||
                (id && document.getElementById(id)) ||
                (fallback && document.querySelector('[data-focus="' + fallback + '"]'));
    if (again && !again.disabled && !again.hidden) again.focus();
  }

  window.Live = { el: el, bars: bars, updateBars: updateBars, connect: connect, clear: clear,
                  percent: percent, keepFocus: keepFocus };
})();
