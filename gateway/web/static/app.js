// Progressive enhancement only: every form also works without this file.
document.addEventListener("DOMContentLoaded", function () {
  // After a refused form, take keyboard and screen-reader users to the list of errors.
  var summary = document.getElementById("form-errors");
  if (summary) { summary.focus(); }
});
document.addEventListener("htmx:afterSwap", function (event) {
  var summary = event.detail.target.querySelector("#form-errors");
  if (summary) { summary.focus(); }
});
