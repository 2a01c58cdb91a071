// Filter forms: typing a date switches the period to "custom"; picking a preset clears the dates
// (the server fills them in from the preset), so a stale date never overrides the chosen period.
(function () {
  "use strict";
  function wire(form) {
    var preset = form.querySelector("select[name=preset]");
    var dates = form.querySelectorAll("input[name=start], input[name=end]");
    if (!preset) { return; }
    dates.forEach(function (input) {
      input.addEventListener("change", function () { preset.value = "custom"; });
    });
    preset.addEventListener("change", function () {
      if (preset.value !== "custom") {
        dates.forEach(function (input) { input.disabled = true; });
        form.submit();
      }
    });
    form.addEventListener("submit", function () {
      if (preset.value !== "custom") {
        dates.forEach(function (input) { input.disabled = true; });
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-filters]").forEach(wire);
  });
})();
