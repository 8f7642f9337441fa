// Offline search over window.PGSPEC_SEARCH (assets/search-index.js). Plain script, no modules,
// no fetch: it works from file:// as well as from a web server.
(function () {
  'use strict';
  var input = document.getElementById('search');
  var list = document.getElementById('search-results');
  var entries = window.PGSPEC_SEARCH || [];
  var root = document.body.getAttribute('data-root') || '';
  if (!input || !list) return;
  var active = -1;

  function score(e, q) {
    var n = e.n.toLowerCase();
    if (n === q) return 0;
    if (n.indexOf(q) === 0) return 1;
    if (n.indexOf(q) > 0) return 2;
    if ((e.d || '').toLowerCase().indexOf(q) >= 0) return 3;
    return -1;
  }

  function render(results) {
    list.innerHTML = '';
    active = -1;
    results.forEach(function (e) {
      var li = document.createElement('li');
      var a = document.createElement('a');
      a.href = root + e.u;
      var name = document.createElement('span');
      name.textContent = e.n;
      var kind = document.createElement('span');
      kind.className = 'k';
      kind.textContent = e.k;
      var detail = document.createElement('span');
      detail.className = 'd';
      detail.textContent = e.d || '';
      a.appendChild(name);
      a.appendChild(kind);
      a.appendChild(detail);
      li.appendChild(a);
      list.appendChild(li);
    });
    list.hidden = results.length === 0;
  }

  function search() {
    var q = input.value.trim().toLowerCase();
    if (q === '') return render([]);
    var scored = [];
    entries.forEach(function (e) {
      var s = score(e, q);
      if (s >= 0) scored.push({ s: s, e: e });
    });
    scored.sort(function (a, b) { return a.s - b.s || a.e.n.localeCompare(b.e.n); });
    render(scored.slice(0, 20).map(function (x) { return x.e; }));
  }

  function move(delta) {
    var items = list.querySelectorAll('li');
    if (items.length === 0) return;
    if (active >= 0) items[active].classList.remove('active');
    active = (active + delta + items.length) % items.length;
    items[active].classList.add('active');
  }

  input.addEventListener('input', search);
  input.addEventListener('keydown', function (ev) {
    if (ev.key === 'ArrowDown') { move(1); ev.preventDefault(); }
    else if (ev.key === 'ArrowUp') { move(-1); ev.preventDefault(); }
    else if (ev.key === 'Enter') {
      var items = list.querySelectorAll('li a');
      var target = items[active >= 0 ? active : 0];
      if (target) window.location.href = target.href;
    } else if (ev.key === 'Escape') { input.value = ''; render([]); }
  });
  document.addEventListener('click', function (ev) {
    if (!list.contains(ev.target) && ev.target !== input) list.hidden = true;
  });
})();
