// Camera import page: upload with a progress bar (XMLHttpRequest upload events), then show the
// server's per-row report. Without JavaScript the form posts normally and the page shows the report.
(function () {
  "use strict";
  function text(tag, value, className) {
    var element = document.createElement(tag);
    element.textContent = value === null || value === undefined ? "—" : String(value);
    if (className) { element.className = className; }
    return element;
  }
  function showReport(container, body, status) {
    var report = body.report;
    container.hidden = false;
    container.replaceChildren(text("h2", container.dataset.title || ""));
    if (!report) {
      container.appendChild(text("p", body.error ? body.error.message : "HTTP " + status, "error-message"));
      return;
    }
    container.appendChild(text("p", body.error ? body.error.message : body.message, body.error ? "error-message" : "notice"));
    if (!report.errors.length) { return; }
    var table = document.createElement("table");
    table.className = "import-errors";
    var head = document.createElement("tr");
    (container.dataset.headers || "").split("|").forEach(function (title) { head.appendChild(text("th", title)); });
    table.appendChild(head);
    report.errors.forEach(function (error) {
      var row = document.createElement("tr");
      row.dataset.code = error.code;
      row.appendChild(text("td", error.row, "num"));
      row.appendChild(text("td", error.device_id));
      row.appendChild(text("td", error.message));
      table.appendChild(row);
    });
    var wrap = document.createElement("div");
    wrap.className = "table-wrap";
    wrap.appendChild(table);
    container.appendChild(wrap);
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("camera-import");
    var progress = document.getElementById("import-progress");
    var result = document.getElementById("import-result");
    if (!form || !window.FormData || !window.XMLHttpRequest) { return; }
    result.dataset.title = result.querySelector("h2") ? result.querySelector("h2").textContent : "";
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var bar = progress.querySelector("progress");
      var label = progress.querySelector("p");
      var request = new XMLHttpRequest();
      // The API picks its language from Accept-Language; answer in the page's language instead.
      var lang = (document.documentElement.lang || "zh").slice(0, 2) === "en" ? "en" : "zh";
      request.open("POST", form.dataset.api + "?lang=" + lang);
      request.setRequestHeader("X-CSRFToken", form.elements.csrf_token.value);
      request.setRequestHeader("Accept", "application/json");
      request.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) { return; }
        var percent = Math.round(e.loaded / e.total * 100);
        bar.value = percent;
        label.textContent = label.dataset.uploading + " " + percent + " %";
      });
      request.upload.addEventListener("load", function () {
        bar.removeAttribute("value");  // indeterminate while the server checks the rows
        label.textContent = label.dataset.checking;
      });
      request.addEventListener("load", function () {
        progress.hidden = true;
        var body;
        try { body = JSON.parse(request.responseText); } catch (err) { body = {}; }
        showReport(result, body, request.status);
      });
      request.addEventListener("error", function () { progress.hidden = true; form.submit(); });
      progress.hidden = false;
      bar.value = 0;
      request.send(new FormData(form));
    });
  });
})();
