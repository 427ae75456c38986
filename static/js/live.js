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

  function connect(auth) {
    // auth is a function so that a reconnect sends what we know by then (the phone's token).
    return window.io({ auth: function (cb) { cb(auth()); }, reconnectionDelayMax: 5000 });
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function keepFocus(render) {
    var active = document.activeElement;
    var id = active && active.id;
    render();
    if (id && document.activeElement !== active) {
      var again = document.getElementById(id);
      if (again) again.focus();
    }
  }

  window.Live = { el: el, bars: bars, connect: connect, clear: clear, percent: percent,
                  keepFocus: keepFocus };
})();
