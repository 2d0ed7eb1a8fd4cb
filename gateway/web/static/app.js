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
// A refused form (422) comes back with its errors: show them like any answer.
document.addEventListener("htmx:beforeSwap", function (event) {
  if (event.detail.xhr.status === 422) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
