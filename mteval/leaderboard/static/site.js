/* mteval leaderboard: client-side sorting and filtering of static tables.
   No external requests, no inline handlers, no HTML built from data (CSP: script-src 'self'). */
(function () {
  "use strict";

  function sortValue(cell, numeric) {
    if (!cell) { return null; }
    var raw = cell.getAttribute("data-sort");
    if (raw === null) { raw = cell.textContent.trim(); }
    if (numeric) {
      if (raw === "") { return null; }
      var number = parseFloat(raw);
      return isNaN(number) ? null : number;
    }
    return raw.toLowerCase();
  }

  function compare(a, b, numeric, direction) {
    if (a === null && b === null) { return 0; }
    if (a === null) { return 1; }   /* missing values always last */
    if (b === null) { return -1; }
    if (numeric) { return direction * (a - b); }
    return direction * (a < b ? -1 : a > b ? 1 : 0);
  }

  function sortTable(table, index, header) {
    var body = table.tBodies[0];
    if (!body) { return; }
    var numeric = header.getAttribute("data-type") === "num";
    var current = header.getAttribute("aria-sort");
    /* numbers start high-to-low, text A-to-Z; a second click reverses */
    var lowerBetter = header.getAttribute("data-lower") === "1";
    /* best first: lower-is-better columns (data-lower) start low-to-high */
    var descending = current ? current === "ascending" : (numeric && !lowerBetter);
    var direction = descending ? -1 : 1;
    var rows = Array.prototype.slice.call(body.rows).map(function (row, position) {
      return { row: row, position: position, key: sortValue(row.cells[index], numeric) };
    });
    rows.sort(function (x, y) {
      return compare(x.key, y.key, numeric, direction) || x.position - y.position;
    });
    rows.forEach(function (item) { body.appendChild(item.row); });
    Array.prototype.forEach.call(header.parentNode.cells, function (th) { th.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", descending ? "descending" : "ascending");
  }

  function initSorting(table) {
    var head = table.tHead;
    if (!head || !head.rows.length) { return; }
    Array.prototype.forEach.call(head.rows[0].cells, function (header, index) {
      var button = header.querySelector("button.sort");
      if (!button) { return; }
      button.addEventListener("click", function () { sortTable(table, index, header); });
    });
  }

  function parseList(element, name) {
    try {
      var value = JSON.parse(element.getAttribute(name) || "[]");
      return Array.isArray(value) ? value : [];
    } catch (e) {
      return [];
    }
  }

  function initFilters(table) {
    var form = document.getElementById("filters");
    if (!form) { return; }
    var model = document.getElementById("filter-model");
    var history = document.getElementById("filter-history");
    var family = document.getElementById("filter-family");
    var task = document.getElementById("filter-task");
    var source = document.getElementById("filter-source");
    var counter = document.getElementById("filter-count");
    var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);

    function apply() {
      var text = model ? model.value.trim().toLowerCase() : "";
      var wantHistory = history ? history.value : "";
      var wantFamily = family ? family.value : "";
      var wantTask = task ? task.value : "";
      var wantSource = source ? source.value : "";
      var shown = 0;
      var rows = Array.prototype.slice.call(table.tBodies[0].rows);
      rows.forEach(function (row) {
        var ok = true;
        if (text && (row.getAttribute("data-model") || "").indexOf(text) === -1) { ok = false; }
        if (wantHistory && row.getAttribute("data-history") !== wantHistory) { ok = false; }
        if (wantFamily && parseList(row, "data-families").indexOf(wantFamily) === -1) { ok = false; }
        if (wantTask && parseList(row, "data-tasks").indexOf(wantTask) === -1) { ok = false; }
        if (wantSource === "native" && row.getAttribute("data-source") !== "native") { ok = false; }
        if (wantSource === "imported" && row.getAttribute("data-source") === "native") { ok = false; }
        row.hidden = !ok;
        if (ok) { shown += 1; }
      });
      headers.forEach(function (header, index) {
        var kind = header.getAttribute("data-kind");
        var visible = true;
        if (kind && kind !== "label" && kind !== "overall") {
          if (wantFamily && parseList(header, "data-families").indexOf(wantFamily) === -1) { visible = false; }
          if (wantTask && parseList(header, "data-tasks").indexOf(wantTask) === -1) { visible = false; }
        }
        header.hidden = !visible;
        rows.forEach(function (row) {
          if (row.cells[index]) { row.cells[index].hidden = !visible; }
        });
      });
      if (counter) { counter.textContent = shown + " of " + rows.length + " rows"; }
    }

    [model, history, family, task, source].forEach(function (control) {
      if (control) {
        control.addEventListener("input", apply);
        control.addEventListener("change", apply);
      }
    });
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    apply();
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), initSorting);
    var board = document.querySelector("table.filterable");
    if (board) { initFilters(board); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
