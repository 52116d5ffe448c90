// The reports page's two charts, drawn as inline SVG from the figures the page
// carries as JSON (#report-data, #report-strings). No library, no inline script (CSP);
// every text goes in with textContent. Colours are SVG attributes, not style.
(function () {
  "use strict";
  var dataNode = document.getElementById("report-data");
  if (!dataNode) return;
  var R = JSON.parse(dataNode.textContent);
  var T = JSON.parse(document.getElementById("report-strings").textContent);
  var NS = "http://www.w3.org/2000/svg";

  function svg(tag, attrs, text) {
    var e = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  function titled(node, text) { node.appendChild(svg("title", {}, text)); return node; }
  function pct(v) { return v === null || v === undefined ? "–" : Math.round(v * 100) + "%"; }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  // From the page's pale green to its accent colour (style.css --accent #1f6f5c).
  function shade(t) {
    var a = [238, 246, 243], b = [31, 111, 92];
    var c = a.map(function (v, i) { return Math.round(v + (b[i] - v) * t); });
    return "rgb(" + c.join(",") + ")";
  }
  function frame(w, h, label) {
    var root = svg("svg", {viewBox: "0 0 " + w + " " + h, width: "100%", role: "img", "aria-label": label,
                           preserveAspectRatio: "xMinYMin meet", "font-size": 11, "font-family": "inherit"});
    return root;
  }

  function heatmap(figure) {
    var counts = R.calls_per_hour.counts, max = R.calls_per_hour.max;
    var cw = 28, ch = 22, left = 40, top = 18, w = left + 24 * cw + 4, h = top + 7 * ch + 4;
    var root = frame(w, h, figure.getAttribute("aria-label"));
    for (var hour = 0; hour < 24; hour++) {
      root.appendChild(svg("text", {x: left + hour * cw + cw / 2, y: 12, "text-anchor": "middle", fill: "#66706c"}, hour));
    }
    counts.forEach(function (row, day) {
      root.appendChild(svg("text", {x: left - 6, y: top + day * ch + ch / 2 + 4, "text-anchor": "end", fill: "#1c2421"},
                           T.days[day]));
      row.forEach(function (n, hour) {
        var t = max ? n / max : 0;
        var cell = svg("rect", {x: left + hour * cw + 1, y: top + day * ch + 1, width: cw - 2, height: ch - 2, rx: 3,
                                fill: n ? shade(0.15 + 0.85 * t) : "#f4f6f5", "class": "cell",
                                "data-day": day, "data-hour": hour, "data-count": n});
        titled(cell, T.days[day] + " " + pad(hour) + ":00–" + pad((hour + 1) % 24) + ":00 · " + n + " " + T.calls);
        root.appendChild(cell);
        if (n && max < 1000) {
          root.appendChild(svg("text", {x: left + hour * cw + cw / 2, y: top + day * ch + ch / 2 + 4,
                                        "text-anchor": "middle", "font-size": 10, "pointer-events": "none",
                                        fill: t > 0.5 ? "#fff" : "#1c2421"}, n));
        }
      });
    });
    figure.appendChild(root);
    if (!max) figure.appendChild(Object.assign(document.createElement("p"), {className: "muted", textContent: T.no_data}));
  }

  function daily(figure) {
    var days = R.days, n = days.length;
    var left = 44, right = 44, top = 12, bottom = 46, w = 720, h = 250;
    var pw = w - left - right, ph = h - top - bottom, step = pw / Math.max(n, 1);
    var maxOffered = Math.max.apply(null, days.map(function (d) { return d.offered; }).concat([1]));
    var root = frame(w, h, figure.getAttribute("aria-label"));
    function y(v) { return top + ph - v * ph; }
    function x(i) { return left + step * i + step / 2; }
    [0, 0.25, 0.5, 0.75, 1].forEach(function (v) {
      root.appendChild(svg("line", {x1: left, x2: left + pw, y1: y(v), y2: y(v), stroke: "#d9dfdc"}));
      root.appendChild(svg("text", {x: left - 6, y: y(v) + 4, "text-anchor": "end", fill: "#66706c"}, Math.round(v * 100) + "%"));
    });
    root.appendChild(svg("text", {x: left + pw + 6, y: y(1) + 4, fill: "#8a9490"}, maxOffered));
    root.appendChild(svg("text", {x: left + pw + 6, y: y(0) + 4, fill: "#8a9490"}, 0));
    var every = Math.ceil(n / 12);
    days.forEach(function (d, i) {
      var bh = ph * d.offered / maxOffered;
      root.appendChild(titled(svg("rect", {x: x(i) - step * 0.35, y: top + ph - bh, width: step * 0.7, height: bh,
                                           fill: "#e3e9e6", "class": "bar", "data-day": d.day}),
                              d.day + " · " + T.offered + ": " + d.offered));
      if (i % every === 0) {
        root.appendChild(svg("text", {x: x(i), y: top + ph + 16, "text-anchor": "middle", fill: "#66706c"}, d.day.slice(5)));
      }
    });
    function series(key, colour, cls) {
      var path = "", pen = false;
      days.forEach(function (d, i) {
        var v = d[key];
        if (v === null || v === undefined) { pen = false; return; }
        path += (pen ? " L" : " M") + x(i).toFixed(1) + " " + y(v).toFixed(1);
        pen = true;
      });
      if (path) root.appendChild(svg("path", {d: path.trim(), fill: "none", stroke: colour, "stroke-width": 2, "class": cls}));
      days.forEach(function (d, i) {
        var v = d[key];
        if (v === null || v === undefined) return;
        root.appendChild(titled(svg("circle", {cx: x(i), cy: y(v), r: 3.5, fill: colour, "class": cls + "-point",
                                               "data-day": d.day, "data-value": v}),
                                d.day + " · " + T[key] + ": " + pct(v)));
      });
    }
    series("service_level", "#1e7b3a", "sl");
    series("abandon_rate", "#b3261e", "abandon");
    var ly = h - 12;
    [[T.service_level, "#1e7b3a"], [T.abandon_rate, "#b3261e"], [T.offered, "#c9d3cf"]].forEach(function (item, i) {
      var lx = left + i * 200;
      root.appendChild(svg("rect", {x: lx, y: ly - 9, width: 14, height: 10, fill: item[1]}));
      root.appendChild(svg("text", {x: lx + 20, y: ly, fill: "#1c2421"}, item[0]));
    });
    figure.appendChild(root);
  }

  heatmap(document.getElementById("heatmap"));
  daily(document.getElementById("daily"));
  document.body.setAttribute("data-charts", "drawn");
})();
