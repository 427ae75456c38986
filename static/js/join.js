/* The join page after a mistyped code: the next try replaces the error page in the history, so
   that Back from the session goes to a clean join page, not to the old error. */
(function () {
  'use strict';
  var form = document.getElementById('join-form');
  if (!form || !form.hasAttribute('data-replace') || !window.URLSearchParams) return;
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var query = new URLSearchParams(new FormData(form)).toString();
    window.location.replace(form.action + '?' + query);
  });
})();
