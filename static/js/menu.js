// The menu is a <details> element, so it opens and closes without JavaScript. This script only
// keeps it open on wide screens (where it is a sidebar) and closed at first on phones.
(function () {
  "use strict";
  var wide = window.matchMedia("(min-width: 60rem)");

  function fit(menu) {
    menu.open = wide.matches;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var menu = document.querySelector("details[data-menu]");
    if (!menu) {
      return;
    }
    document.documentElement.classList.add("js");
    fit(menu);
    wide.addEventListener("change", function () { fit(menu); });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && menu.open && !wide.matches) {
        menu.open = false;
        menu.querySelector("summary").focus();
      }
    });
  });
})();
