// Calls the box places for the owner (record the greeting by phone, a test call through a line):
// a button with data-service-call posts its form's fields (data-fields) to the form's action (or
// its formaction) asking for JSON, then follows the job in the element data-status names by polling
// GET /api/service-calls/<id> until it is finished. Without this script the form posts as usual and
// the page shows the job's state when it comes back.
(function () {
  var meta = document.querySelector('meta[name="csrf-token"]');

  function show(box, text, kind) {
    box.textContent = text;
    box.classList.remove("ok", "error");
    if (kind) box.classList.add(kind);
  }

  function update(box, job) {
    box.setAttribute("data-job", job.id);
    box.setAttribute("data-state", job.state);
    box.setAttribute("data-finished", job.finished ? "yes" : "no");
    show(box, job.label, job.finished ? (job.ok ? "ok" : "error") : null);
    if (job.finished && job.ok && box.getAttribute("data-audio")) {
      var audio = document.getElementById(box.getAttribute("data-audio"));
      if (audio) {
        audio.src = audio.getAttribute("data-src") + "?v=" + Date.now();
        if (audio.parentNode) audio.parentNode.hidden = false;
      }
    }
  }

  // The JSON answer; anything else (a login page after the session ended) is an error.
  function answer(response) {
    return response.json().then(function (data) { return { ok: response.ok, data: data }; },
                                function () { return { ok: false, data: {} }; });
  }

  function failed(box, data) {
    show(box, data.error || box.getAttribute("data-error"), "error");
  }

  function poll(box, button) {
    var url = box.getAttribute("data-poll").replace("JOB", encodeURIComponent(box.getAttribute("data-job")));
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(answer)
      .then(function (res) {
        if (!res.ok) {
          failed(box, res.data);
          if (button) button.disabled = false;
          return;
        }
        update(box, res.data);
        if (res.data.finished) {
          if (button) button.disabled = false;
        } else {
          setTimeout(function () { poll(box, button); }, 1000);
        }
      }, function () { setTimeout(function () { poll(box, button); }, 3000); });
  }

  document.querySelectorAll("button[data-service-call]").forEach(function (button) {
    var box = document.getElementById(button.getAttribute("data-status"));
    if (!box) return;
    button.addEventListener("click", function (ev) {
      ev.preventDefault();
      var form = button.form, body = new FormData();
      body.append("csrf_token", meta ? meta.getAttribute("content") : "");
      (button.getAttribute("data-fields") || "").split(" ").forEach(function (name) {
        if (name && form.elements[name]) body.append(name, form.elements[name].value);
      });
      button.disabled = true;
      fetch(button.getAttribute("formaction") || form.getAttribute("action") || location.href, {
        method: "POST", body: body, headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(answer)
        .then(function (res) {
          if (!res.ok) {
            failed(box, res.data);
            button.disabled = false;
            return;
          }
          update(box, res.data);
          if (res.data.finished) button.disabled = false;
          else setTimeout(function () { poll(box, button); }, 1000);
        }, function () { failed(box, {}); button.disabled = false; });
    });
    // A call started before (a plain form post, or before a reload): follow it.
    if (box.getAttribute("data-job") && box.getAttribute("data-finished") === "no") {
      button.disabled = true;
      poll(box, button);
    }
  });
})();
