(function () {
  'use strict';
  /* Paging and filtering of long tables. Rows come from JSON in
     <script type="application/json"> and are written with textContent only. */
  function setup(box) {
    var dataEl = document.getElementById('data-' + box.getAttribute('data-table'));
    var pager = box.querySelector('.pager');
    if (!dataEl || !pager) { return; }
    var input = pager.querySelector('.filter');
    var prev = pager.querySelector('.prev');
    var next = pager.querySelector('.next');
    var pos = pager.querySelector('.pos');
    var tbody = box.querySelector('tbody');
    var size = parseInt(box.getAttribute('data-page'), 10) || 200;
    var all = null, hay = null, rows = null, page = 0, timer = null;
    function load() {
      if (all === null) {
        all = JSON.parse(dataEl.textContent);
        rows = all;
      }
    }
    function draw() {
      var pages = Math.max(1, Math.ceil(rows.length / size));
      if (page >= pages) { page = pages - 1; }
      if (page < 0) { page = 0; }
      var start = page * size, end = Math.min(rows.length, start + size);
      var frag = document.createDocumentFragment();
      for (var i = start; i < end; i++) {
        var r = rows[i], tr = document.createElement('tr');
        tr.className = String(r[0]);
        for (var j = 1; j < r.length; j++) {
          var td = document.createElement('td');
          td.textContent = String(r[j]);
          tr.appendChild(td);
        }
        frag.appendChild(tr);
      }
      tbody.textContent = '';
      tbody.appendChild(frag);
      pos.textContent = (rows.length ? start + 1 : 0) + '\u2013' + end + ' / ' + rows.length;
      prev.disabled = page === 0;
      next.disabled = page >= pages - 1;
    }
    function filter() {
      load();
      var q = input.value.trim().toLowerCase();
      if (!q) {
        rows = all;
      } else {
        if (hay === null) {
          hay = all.map(function (r) { return r.slice(1).join('\u0001').toLowerCase(); });
        }
        rows = [];
        for (var i = 0; i < all.length; i++) {
          if (hay[i].indexOf(q) !== -1) { rows.push(all[i]); }
        }
      }
      page = 0;
      draw();
    }
    prev.disabled = true;
    prev.addEventListener('click', function () { load(); page -= 1; draw(); });
    next.addEventListener('click', function () { load(); page += 1; draw(); });
    input.addEventListener('input', function () {
      if (timer !== null) { clearTimeout(timer); }
      timer = setTimeout(filter, 200);
    });
    pager.hidden = false;
  }
  var boxes = document.querySelectorAll('div.tbl[data-table]');
  for (var i = 0; i < boxes.length; i++) { setup(boxes[i]); }
  window.addEventListener('beforeprint', function () {
    var ds = document.querySelectorAll('details');
    for (var k = 0; k < ds.length; k++) { ds[k].open = true; }
  });
}());
