// The dashboard: polls the JSON API and redraws; acts through the API with the
// page's CSRF token. Plain DOM (textContent only: nothing from the box is parsed as HTML).
(function () {
  "use strict";
  var root = document.getElementById("dashboard");
  if (!root) return;
  var T = JSON.parse(document.getElementById("i18n").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var role = root.getAttribute("data-role");
  var STATUS_EVERY_MS = 2000, PANEL_EVERY_MS = 3000;

  function $(id) { return document.getElementById(id); }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function duration(s) {
    if (s === null || s === undefined) return "–";
    s = Math.round(s);
    var m = Math.floor(s / 60), r = s % 60;
    return m ? m + ":" + (r < 10 ? "0" : "") + r : r + " " + T.seconds;
  }
  function pct(v) { return v === null || v === undefined ? "–" : Math.round(v * 100) + "%"; }
  function stateName(s) { return s ? (T.states[s] || s) : T.states.unknown; }
  function row(cells) {
    var tr = el("tr");
    cells.forEach(function (c) {
      var td = el("td");
      if (c instanceof Node) td.appendChild(c); else td.textContent = c === null || c === undefined ? "–" : String(c);
      tr.appendChild(td);
    });
    return tr;
  }
  function emptyRow(tbody, cols, text) {
    var td = el("td", text, "muted"); td.colSpan = cols;
    var tr = el("tr"); tr.appendChild(td); tbody.appendChild(tr);
  }

  function request(method, url, body) {
    var opts = {method: method, credentials: "same-origin", headers: {"Accept": "application/json"}};
    if (method !== "GET") {
      opts.headers["Content-Type"] = "application/json";
      opts.headers["X-CSRFToken"] = csrf;
      opts.body = JSON.stringify(body || {});
    }
    return fetch(url, opts).then(function (r) {
      if (r.status === 401) { window.location.reload(); throw new Error("logged out"); }
      return r.json().then(function (data) { return {status: r.status, data: data}; });
    });
  }

  function actionButton(extension, action) {
    var b = el("button", T.actions[action], "small");
    b.type = "button";
    b.setAttribute("data-action", action);
    b.addEventListener("click", function () {
      b.disabled = true;
      request("POST", "/api/agents/" + encodeURIComponent(extension) + "/" + action, {})
        .then(function (r) { if (r.status !== 200) window.alert(T.failed + " " + (r.data.error || r.status)); })
        .catch(function () {})
        .then(function () { b.disabled = false; poll(); });
    });
    return b;
  }
  function actionsFor(agent) {
    var span = el("span", null, "buttons");
    var list = {"logged-out": ["login"], "available": ["pause", "logout"], "paused": ["unpause", "logout"],
                "wrap-up": ["pause"], "ringing": [], "on-call": []}[agent.state] || [];
    list.forEach(function (a) { span.appendChild(actionButton(agent.extension, a)); span.appendChild(document.createTextNode(" ")); });
    return span;
  }
  function stateBadge(state) { return el("span", stateName(state), "state state-" + (state || "unknown")); }

  function showCore(core) {
    var banner = $("core-down");
    banner.hidden = core.reachable;
    banner.textContent = core.reachable ? "" : T.core_down;
    root.setAttribute("data-core", core.reachable ? "up" : "down");
  }

  function drawAdmin(d) {
    var agents = $("agents"); clear(agents);
    if (!d.agents.length) emptyRow(agents, 6, T.no_agents);
    d.agents.forEach(function (a) {
      var tr = row([a.extension, a.name, stateBadge(a.state), a.state ? duration(a.in_state_s) : "–",
                    a.calls, d.core.reachable ? actionsFor(a) : ""]);
      tr.setAttribute("data-extension", a.extension);
      agents.appendChild(tr);
    });
    var waiting = $("waiting"); clear(waiting);
    var count = 0;
    d.queues.forEach(function (q) {
      (q.callers || []).forEach(function (c) { count++; waiting.appendChild(row([q.name, c.caller, duration(c.wait_s)])); });
    });
    if (!count) emptyRow(waiting, 3, T.nobody_waiting);
    $("waiting-count").textContent = d.core.reachable ? count : "–";
    var today = $("today"); clear(today);
    if (!d.today.length) emptyRow(today, 6, T.no_calls);
    d.today.forEach(function (t) {
      today.appendChild(row([t.name, t.offered, t.answered, t.abandoned, pct(t.service_level),
                             duration(t.average_speed_of_answer_s)]));
    });
    var lines = $("lines"); clear(lines);
    if (!d.lines.length) lines.appendChild(el("li", T.no_lines, "muted"));
    d.lines.forEach(function (l) { lines.appendChild(el("li", l.name + ": " + (T.lines[l.state] || l.state))); });
    var calls = $("calls"); clear(calls);
    if (!d.calls.length) calls.appendChild(el("li", T.none, "muted"));
    d.calls.forEach(function (c) { calls.appendChild(el("li", c.caller + " → " + c.dialed + " · " + duration(c.duration))); });
    var conds = $("conditions"); clear(conds);
    if (!d.time_conditions.length) conds.appendChild(el("li", T.none, "muted"));
    d.time_conditions.forEach(function (tc) {
      var li = el("li", (T.tc_names[tc.id] || tc.id) + ": " + T.override["now_" + (tc.override || "auto")] + " ");
      ["open", "closed", "auto"].forEach(function (mode) {
        if ((tc.override || "auto") === mode) return;
        var b = el("button", T.override[mode], "small");
        b.type = "button";
        b.addEventListener("click", function () {
          request("POST", "/api/time-conditions/" + encodeURIComponent(tc.id) + "/override", {mode: mode})
            .then(function (r) { if (r.status !== 200) window.alert(T.failed + " " + (r.data.error || r.status)); })
            .catch(function () {}).then(poll);
        });
        li.appendChild(b); li.appendChild(document.createTextNode(" "));
      });
      conds.appendChild(li);
    });
  }

  function drawAgent(d) {
    var me = d.me;
    $("my-state").textContent = stateName(me.state);
    var box = $("my-actions"); clear(box);
    if (d.core.reachable && me.state !== "not-a-member") box.appendChild(actionsFor(me));
    $("my-calls-count").textContent = d.today.calls;
    $("my-answered").textContent = d.today.answered;
    $("my-talk").textContent = duration(d.today.talk_time_s);
    var tbody = $("my-calls"); clear(tbody);
    if (!d.calls.length) emptyRow(tbody, 6, T.no_calls);
    d.calls.forEach(function (c) {
      var when = new Date(c.arrived * 1000).toLocaleTimeString();
      tbody.appendChild(row([when, c.caller, c.queue, duration(c.wait_s), duration(c.talk_s),
                             T.dispositions[c.disposition] || c.disposition]));
    });
  }

  var busy = false;
  function poll() {
    if (busy) return;
    busy = true;
    request("GET", root.getAttribute("data-status-url")).then(function (r) {
      if (r.status !== 200) return;
      showCore(r.data.core);
      if (role === "admin") drawAdmin(r.data); else drawAgent(r.data);
      $("updated") && ($("updated").textContent = new Date().toLocaleTimeString());
      root.setAttribute("data-updated", String(Date.now()));
    }).catch(function () {}).then(function () { busy = false; });
  }

  function pollPanel() {
    var url = root.getAttribute("data-panel-url");
    if (!url) return;
    request("GET", url).then(function (r) {
      var img = $("panel-img"), leds = $("leds");
      if (r.status !== 200) { img.hidden = true; clear(leds); $("panel-note").textContent = T.no_panel; return; }
      $("panel-note").textContent = "";
      img.src = "data:image/png;base64," + r.data.png_base64;
      img.hidden = false;
      clear(leds);
      Object.keys(r.data.leds || {}).forEach(function (name) {
        var mode = r.data.leds[name];
        var li = el("li"); li.setAttribute("data-led", name);
        li.appendChild(el("span", null, "led " + mode));
        li.appendChild(el("span", (T.led_names[name] || name) + ": " + (T.leds[mode] || mode)));
        leds.appendChild(li);
      });
    }).catch(function () {});
  }

  poll();
  pollPanel();
  setInterval(poll, STATUS_EVERY_MS);
  if (role === "admin") setInterval(pollPanel, PANEL_EVERY_MS);
})();
