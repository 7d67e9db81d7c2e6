(function () {
  "use strict";
  var payload = JSON.parse(document.getElementById("queue-data").textContent);
  var cols = payload.columns, rows = payload.rows, at = {};
  cols.forEach(function (c, i) { at[c] = i; });
  var state = { sort: "rank", desc: false, page: 0, size: 50 };
  var view = rows.slice();
  var $ = function (id) { return document.getElementById(id); };
  var body = document.querySelector("#queue tbody");
  var money = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  var words = function (s) { return s ? s.split(" ") : []; };

  function cell(tr, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function apply() {
    var subject = $("f-subject").value.trim().toLowerCase();
    var minScore = parseFloat($("f-score").value) || 0;
    var family = $("f-family").value, typology = $("f-typology").value, role = $("f-role").value;
    view = rows.filter(function (r) {
      return r[at.risk_score] >= minScore &&
        (!subject || r[at.subject_id].toLowerCase().indexOf(subject) >= 0) &&
        (!family || words(r[at.families]).indexOf(family) >= 0) &&
        (!typology || words(r[at.typology_ids]).indexOf(typology) >= 0) &&
        (!role || r[at.likely_role] === role);
    });
    var k = at[state.sort], sign = state.desc ? -1 : 1, rank = at.rank;
    view.sort(function (a, b) {
      var x = a[k], y = b[k];
      if (x < y) return -sign;
      if (x > y) return sign;
      return a[rank] - b[rank];
    });
    state.page = 0;
    draw();
  }

  function draw() {
    var pages = Math.max(1, Math.ceil(view.length / state.size));
    state.page = Math.min(state.page, pages - 1);
    var start = state.page * state.size, part = view.slice(start, start + state.size);
    var frag = document.createDocumentFragment();
    part.forEach(function (r) {
      var tr = document.createElement("tr");
      cell(tr, r[at.rank], "num");
      var td = document.createElement("td");
      if (r[at.page]) {
        var a = document.createElement("a");
        a.href = "alerts/" + r[at.alert_id] + ".html";
        a.textContent = r[at.subject_id];
        td.appendChild(a);
      } else {
        td.textContent = r[at.subject_id];
      }
      tr.appendChild(td);
      cell(tr, r[at.risk_score].toFixed(2), "num");
      cell(tr, r[at.likely_role]);
      cell(tr, r[at.families]);
      cell(tr, r[at.typology_ids], "wrap");
      cell(tr, r[at.hit_count], "num");
      cell(tr, money.format(r[at.amount_total]), "num");
      cell(tr, r[at.evidence_count], "num");
      cell(tr, r[at.first_activity]);
      cell(tr, r[at.last_activity]);
      frag.appendChild(tr);
    });
    body.replaceChildren(frag);
    $("count").textContent = view.length.toLocaleString("en-US") + " of " + rows.length.toLocaleString("en-US") + " alerts";
    $("p-info").textContent = "page " + (state.page + 1) + " of " + pages;
    $("p-prev").disabled = $("p-first").disabled = state.page === 0;
    $("p-next").disabled = state.page >= pages - 1;
    document.querySelectorAll("#queue th").forEach(function (th) {
      th.classList.remove("sorted-asc", "sorted-desc");
      if (th.dataset.col === state.sort) th.classList.add(state.desc ? "sorted-desc" : "sorted-asc");
    });
  }

  document.querySelectorAll("#queue th").forEach(function (th) {
    th.addEventListener("click", function () {
      var col = th.dataset.col;
      if (state.sort === col) { state.desc = !state.desc; }
      else { state.sort = col; state.desc = ["risk_score", "hit_count", "amount_total", "evidence_count"].indexOf(col) >= 0; }
      apply();
    });
  });
  ["f-subject", "f-score", "f-family", "f-typology", "f-role"].forEach(function (id) {
    $(id).addEventListener("input", apply);
  });
  $("f-reset").addEventListener("click", function () {
    $("f-subject").value = ""; $("f-score").value = "0";
    $("f-family").value = $("f-typology").value = $("f-role").value = "";
    state.sort = "rank"; state.desc = false; apply();
  });
  $("p-first").addEventListener("click", function () { state.page = 0; draw(); });
  $("p-prev").addEventListener("click", function () { state.page -= 1; draw(); });
  $("p-next").addEventListener("click", function () { state.page += 1; draw(); });
  $("p-size").addEventListener("change", function () { state.size = parseInt($("p-size").value, 10); state.page = 0; draw(); });
  apply();
})();
