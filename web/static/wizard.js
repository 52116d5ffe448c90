// Setup wizard helpers (progressive: every step works without this script).
(function () {
  // Time zone: pre-select the browser's zone the first time the step is shown.
  var box = document.getElementById("zone-box");
  if (box && box.getAttribute("data-guess-zone") === "yes" && window.Intl) {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var select = box.querySelector("select");
    if (zone && select && select.querySelector('option[value="' + zone.replace(/"/g, "") + '"]')) select.value = zone;
  }
})();

(function () {
  // Greeting: show the text box, the file chooser or the phone call that goes with the choice.
  var radios = document.querySelectorAll('input[name="mode"]');
  if (!radios.length) return;
  var text = document.getElementById("text-field"), audio = document.getElementById("audio-field");
  var phone = document.getElementById("phone-field");
  function update() {
    var mode = (document.querySelector('input[name="mode"]:checked') || {}).value;
    if (text) text.hidden = mode !== "tts";
    if (audio) audio.hidden = mode !== "upload";
    if (phone) phone.hidden = mode !== "phone";
  }
  radios.forEach(function (r) { r.addEventListener("change", update); });
  update();
})();
