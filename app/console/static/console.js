// Conferences page: refresh the list every 2 s from /admin/conferences.json without reloading.
// Everything is built with DOM calls and textContent, so no name or address is ever parsed as HTML.
(function () {
  "use strict";
  var table = document.getElementById("conferences");
  var body = document.getElementById("conference-rows");
  var stamp = document.getElementById("refreshed");
  var count = document.getElementById("conference-count");
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (!table || !body || !meta) { return; }
  var csrf = meta.getAttribute("content");
  var offset = table.getAttribute("data-offset") || "0";

  function cell(row, text, className) {
    var td = document.createElement("td");
    if (text !== undefined && text !== null) { td.textContent = text; }
    if (className) { td.className = className; }
    row.appendChild(td);
    return td;
  }

  function button(td, action, fields, label) {
    var form = document.createElement("form");
    form.method = "post";
    form.action = action;
    form.className = "inline";
    fields.csrf_token = csrf;
    Object.keys(fields).forEach(function (name) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = fields[name];
      form.appendChild(input);
    });
    var submit = document.createElement("button");
    submit.type = "submit";
    submit.className = "danger " + (action.indexOf("destroy") >= 0 ? "destroy" : "hangup");
    submit.textContent = label;
    form.appendChild(submit);
    td.appendChild(form);
  }

  function render(data) {
    var rows = document.createDocumentFragment();
    data.conferences.forEach(function (conference) {
      var row = document.createElement("tr");
      row.className = "conference";
      row.setAttribute("data-conference", conference.name);
      var name = cell(row, null, "name");
      var strong = document.createElement("strong");
      strong.textContent = conference.name;
      name.appendChild(strong);
      cell(row, conference.numeric_id);
      var count = conference.participants.length;
      var summary = cell(row, count + " participant" + (count === 1 ? "" : "s"), "muted");
      summary.colSpan = 3;
      button(cell(row, null, "actions"), "/admin/conferences/destroy", { conference: conference.name }, "Hang up all");
      rows.appendChild(row);
      conference.participants.forEach(function (participant) {
        var prow = document.createElement("tr");
        prow.className = "participant";
        prow.setAttribute("data-conference", conference.name);
        prow.setAttribute("data-participant", participant.name);
        cell(prow); cell(prow);
        var who = cell(prow, participant.name + " ");
        var protocol = document.createElement("span");
        protocol.className = "muted";
        protocol.textContent = participant.protocol;
        who.appendChild(protocol);
        cell(prow, participant.address);
        cell(prow, participant.call_state, "state state-" + participant.call_state);
        var actions = cell(prow, null, "actions");
        if (participant.call_state === "connected" || participant.call_state === "alerting") {
          button(actions, "/admin/conferences/hangup", {
            conference: conference.name, participant: participant.name,
            protocol: participant.protocol, type: participant.type
          }, "Hang up");
        }
        rows.appendChild(prow);
      });
    });
    if (!data.conferences.length) {
      var empty = document.createElement("tr");
      cell(empty, "No conference.", "muted").colSpan = 6;
      rows.appendChild(empty);
    }
    body.replaceChildren(rows);
    if (count) { count.textContent = data.total + " conference" + (data.total === 1 ? "" : "s"); }
    if (stamp) { stamp.textContent = "Updated " + new Date().toLocaleTimeString(); }
  }

  function refresh() {
    fetch("/admin/conferences.json?offset=" + encodeURIComponent(offset), {
      credentials: "same-origin", headers: { "Accept": "application/json" }
    }).then(function (response) {
      if (response.status === 401) { window.location.href = "/admin/signin"; return null; }
      return response.ok ? response.json() : null;
    }).then(function (data) { if (data) { render(data); } }).catch(function () { /* try again next time */ });
  }

  window.setInterval(refresh, 2000);
})();
