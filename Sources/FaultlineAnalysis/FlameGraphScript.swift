// The flame graph's script: zoom on click, details on hover, search by regular expression.
// It looks up its own <svg> by id and touches nothing outside it, so it works alike in a
// standalone .svg and inlined into `report --html` beside another picture.

extension FlameGraphSVG {
    static func script(id: String, width: Double, total: UInt64, unit: String) -> String {
        // The id is passed as a JSON-style string literal; ids are ours, but quote anyway.
        let quotedID = "\"" + id.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        return """
        (function () {
          var svg = document.getElementById(\(quotedID));
          if (!svg) return;
          var W = \(SVG.num(width)), PAD = \(SVG.num(pad)), CW = \(SVG.num(charWidth)), TOTAL = \(total);
          var frames = Array.prototype.slice.call(svg.querySelectorAll("g.f"));
          var details = svg.querySelector(".details"), matched = svg.querySelector(".matched");
          var reset = svg.querySelector(".reset"), search = svg.querySelector(".search");
          var zoomed = null;
          frames.forEach(function (g) {
            g._s = +g.getAttribute("data-s"); g._c = +g.getAttribute("data-c"); g._d = +g.getAttribute("data-d");
            g._name = g.getAttribute("data-n");
            g._info = g.querySelector("title").textContent;
            g.addEventListener("mouseover", function () { details.textContent = g._info; });
            g.addEventListener("mouseout", function () { details.textContent = " "; });
            g.addEventListener("click", function () { if (g._d === 0) unzoom(); else zoom(g); });
          });
          function place(g, x, w) {
            var r = g.querySelector("rect"), t = g.querySelector("text");
            r.setAttribute("x", x.toFixed(2)); r.setAttribute("width", w.toFixed(2));
            t.setAttribute("x", (x + 3).toFixed(2));
            var fits = Math.floor((w - 6) / CW);
            t.textContent = fits < 3 ? "" : (g._name.length <= fits ? g._name : g._name.slice(0, fits - 2) + "..");
          }
          function zoom(target) {
            zoomed = target;
            var s0 = target._s, c0 = target._c, d0 = target._d, scale = (W - 2 * PAD) / c0;
            frames.forEach(function (g) {
              var inside = g._d >= d0 && g._s >= s0 && g._s + g._c <= s0 + c0;
              var ancestor = g._d < d0 && g._s <= s0 && g._s + g._c >= s0 + c0;
              g.style.display = inside || ancestor ? "" : "none";
              g.classList.toggle("parent", ancestor);
              if (inside) place(g, PAD + (g._s - s0) * scale, g._c * scale);
              else if (ancestor) place(g, PAD, W - 2 * PAD);
            });
            reset.style.opacity = 1;
          }
          function unzoom() {
            zoomed = null;
            var scale = TOTAL > 0 ? (W - 2 * PAD) / TOTAL : 0;
            frames.forEach(function (g) {
              g.style.display = ""; g.classList.remove("parent");
              place(g, PAD + g._s * scale, g._c * scale);
            });
            reset.style.opacity = 0;
          }
          function clearSearch() {
            frames.forEach(function (g) { g.classList.remove("hit"); });
            matched.textContent = " ";
            search.textContent = "Search";
          }
          function find(pattern) {
            var re;
            try { re = new RegExp(pattern); } catch (e) { alert("Not a regular expression: " + e.message); return; }
            var spans = [];
            frames.forEach(function (g) {
              var hit = g._d > 0 && re.test(g._name);
              g.classList.toggle("hit", hit);
              if (hit) spans.push([g._s, g._s + g._c]);
            });
            // Callers contain their callees: count the union of the hits' spans once.
            spans.sort(function (a, b) { return a[0] - b[0]; });
            var covered = 0, end = -1;
            spans.forEach(function (s) {
              if (s[0] >= end) { covered += s[1] - s[0]; end = s[1]; }
              else if (s[1] > end) { covered += s[1] - end; end = s[1]; }
            });
            matched.textContent = "Matched: " + (TOTAL ? (100 * covered / TOTAL).toFixed(1) : "0") + "% of \(unit)";
            search.textContent = "Clear search";
          }
          reset.addEventListener("click", unzoom);
          search.addEventListener("click", function () {
            if (search.textContent !== "Search") { clearSearch(); return; }
            var pattern = prompt("Highlight frames matching (regular expression):", "");
            if (pattern) find(pattern);
          });
          window.addEventListener("keydown", function (e) {
            if ((e.ctrlKey || e.metaKey) && e.key === "f" && svg.getBoundingClientRect().height > 0) {
              e.preventDefault();
              var pattern = prompt("Highlight frames matching (regular expression):", "");
              if (pattern) find(pattern);
            } else if (e.key === "Escape") { clearSearch(); if (zoomed) unzoom(); }
          });
          svg.faultlineFind = find;
          svg.faultlineZoom = function (name) {
            var g = frames.filter(function (f) { return f._name === name; })[0];
            if (g) zoom(g);
          };
          var hash = (window.location && window.location.hash || "").slice(1);
          if (hash.indexOf("search=") === 0) find(decodeURIComponent(hash.slice(7)));
          if (hash.indexOf("zoom=") === 0) svg.faultlineZoom(decodeURIComponent(hash.slice(5)));
        })();

        """
    }
}
