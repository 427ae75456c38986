/* "Download PNG" for the server-drawn SVG charts: the SVG is drawn onto a canvas in the
   browser, so no image library is needed on the server and nothing leaves the machine. */
(function () {
  'use strict';
  document.querySelectorAll('.png-download').forEach(function (button) {
    button.addEventListener('click', function () {
      var svg = document.getElementById(button.getAttribute('data-chart'));
      if (!svg) return;
      var width = svg.viewBox.baseVal.width, height = svg.viewBox.baseVal.height, scale = 2;
      var text = new XMLSerializer().serializeToString(svg);
      var image = new Image();
      image.onload = function () {
        var canvas = document.createElement('canvas');
        canvas.width = width * scale;
        canvas.height = height * scale;
        var context = canvas.getContext('2d');
        context.fillStyle = '#ffffff';
        context.fillRect(0, 0, canvas.width, canvas.height);
        context.drawImage(image, 0, 0, canvas.width, canvas.height);
        var link = document.createElement('a');
        link.download = button.getAttribute('data-filename') || 'chart.png';
        link.href = canvas.toDataURL('image/png');
        document.body.appendChild(link);
        link.click();
        link.remove();
      };
      image.src = 'data:image/svg+xml;base64,' + window.btoa(unescape(encodeURIComponent(text)));
    });
  });
})();
