// On phones a table is shown as one card per row (portal.css), each value under its column's name:
// this copies each column's header text into the cells' data-label. Only labels are added, so
// without JavaScript the cards still show every value.
(function () {
  "use strict";

  function headers(table) {
    var row = table.tHead && table.tHead.rows[table.tHead.rows.length - 1];
    var names = [];
    if (!row) {
      return names;
    }
    Array.prototype.forEach.call(row.cells, function (cell) {
      // A header holding a control ("select all") stays in the header: it names no value.
      var name = cell.querySelector("input, select, button") ? "" : cell.textContent.trim();
      for (var i = 0; i < (cell.colSpan || 1); i += 1) {
        names.push(name);
      }
    });
    return names;
  }

  function label(table) {
    var names = headers(table);
    if (!names.length) {
      return;
    }
    Array.prototype.forEach.call(table.tBodies, function (body) { labelRows(body.rows, names); });
    if (table.tFoot) {
      labelRows(table.tFoot.rows, names);
    }
  }

  function labelRows(rows, names) {
    Array.prototype.forEach.call(rows, function (row) {
      var column = 0;
      Array.prototype.forEach.call(row.cells, function (cell) {
        if (!cell.hasAttribute("data-label") && cell.colSpan === 1) {
          cell.setAttribute("data-label", names[column] || "");
        }
        column += cell.colSpan || 1;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("main table"), label);
  });
})();
