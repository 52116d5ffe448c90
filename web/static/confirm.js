// Buttons with data-confirm ask before submitting their form (no inline script: CSP).
document.addEventListener("click", function (ev) {
  var button = ev.target.closest("button[data-confirm]");
  if (button && !window.confirm(button.getAttribute("data-confirm"))) ev.preventDefault();
});
