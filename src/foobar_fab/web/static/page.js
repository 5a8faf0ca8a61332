// The lab's page: colour the design's diagram by each snapshot the server sends (Server-Sent Events), and
// open a terminal on a node (xterm.js over a WebSocket). Every request carries the lab's token as a cookie.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;

function serverView(snapshot, node) {
  // HAProxy's view of a web server, from each balancer: "UP weight 1" (DRAIN, DOWN, MAINT...).
  const seen = [];
  for (const [balancer, rows] of Object.entries(snapshot.haproxy || {})) {
    if (typeof rows !== "object") { seen.push(`${balancer}: no answer`); continue; }
    const row = rows[node];
    if (row) seen.push(`${row.status} weight ${row.weight}${row.backup ? " backup" : ""}`);
  }
  return seen;
}

function databaseLine(info) {
  if (!info.database) return "";
  const replication = info.replication;
  if (info.database !== "replica") return info.database;
  if (!replication) return "replica (no answer)";
  const delay = replication.delay === null ? "?" : `${replication.delay} s`;
  return `replica, ${replication.running ? "replicating" : "NOT replicating"}, delay ${delay}`;
}

function cells(row, texts) {
  for (const text of texts) {
    const cell = document.createElement("td");
    cell.textContent = text;
    row.appendChild(cell);
  }
  return row;
}

let lastDrill = null;

function showDrill(drill) {
  // The drill under way: its events and the last 15 seconds of its timeline (the figures its report will give).
  const section = document.getElementById("drill");
  if (!drill) {
    section.hidden = true;
    if (lastDrill) listReports();  // it has ended: its report is there now
    lastDrill = null;
    return;
  }
  lastDrill = drill.drill;
  section.hidden = false;
  document.getElementById("drill-title").textContent = drill.title;
  document.getElementById("drill-clock").textContent = `(${drill.t.toFixed(1)} s)`;
  document.getElementById("drill-events").replaceChildren(...drill.events.map((e) => {
    const item = document.createElement("li");
    item.textContent = `${e.t.toFixed(1)} s  ${e.what}: ${e.detail}`;
    return item;
  }));
  document.querySelector("#drill-timeline tbody").replaceChildren(...drill.timeline.slice(-15).map((r) => {
    const row = cells(document.createElement("tr"), [String(r.second),
      Object.entries(r.by_node).map(([node, n]) => `${node} ${n}`).join(", "), String(r.failed_reads), String(r.failed_writes), String(r.slow)]);
    row.dataset.second = String(r.second);
    return row;
  }));
}

function showExercise(exercise) {
  // The exercise under way, as the student was told it: the report, the time, the hints and causes counted.
  const section = document.getElementById("exercise");
  section.hidden = !exercise;
  if (!exercise) return;
  document.getElementById("exercise-name").textContent = `${exercise.exercise} (level ${exercise.level}, ${exercise.layer})`;
  document.getElementById("exercise-report").textContent = `what a user reports: ${exercise.report}`;
  const minutes = Math.floor(exercise.seconds / 60);
  document.getElementById("exercise-progress").textContent =
    `started ${minutes} min ${exercise.seconds % 60} s ago; hints ${exercise.hints} of ${exercise.hints_in_all}; causes judged ${exercise.causes_judged}`;
}

function show(snapshot) {
  const freshness = document.getElementById("freshness");
  if (snapshot.gone) {
    freshness.dataset.state = "gone";
    freshness.textContent = snapshot.gone;
    return;
  }
  freshness.dataset.state = "live";
  showDrill(snapshot.drill);
  showExercise(snapshot.exercise);
  freshness.textContent = `live: ${new Date(snapshot.at * 1000).toLocaleTimeString()} (asked in ${Math.round(snapshot.took * 1000)} ms)`;
  const holders = snapshot.floating ? snapshot.floating.holders : [];
  for (const [node, info] of Object.entries(snapshot.nodes)) {
    const haproxy = serverView(snapshot, node);
    const rate = snapshot.requests[node];
    const box = document.querySelector(`svg.diagram g.box[data-node="${node}"]`);
    const row = document.querySelector(`#nodes tr[data-node="${node}"]`);
    const services = Object.entries(info.services).map(([unit, state]) => `${unit} ${state}`).join(", ");
    const database = databaseLine(info);
    const lines = [
      `${info.state}${info.power !== "running" ? ` (${info.power})` : ""}${holders.includes(node) ? " · holds " + snapshot.floating.address : ""}`,
      haproxy.length ? `HAProxy: ${haproxy.join("; ")}${rate !== undefined ? ` · ${rate} req/s` : ""}` : "",
      database,
    ].filter(Boolean);
    if (box) {
      box.dataset.state = info.state;
      box.dataset.holder = holders.includes(node) ? "yes" : "no";
      box.querySelectorAll("text.live").forEach((text, i) => { text.textContent = lines[i] || ""; });
    }
    for (const [balancer, rows] of Object.entries(snapshot.haproxy || {})) {  // the balancer's arrow to the server
      const edge = document.querySelector(`svg.diagram g.edge[data-from="${balancer}"][data-to="${node}"]`);
      const row = typeof rows === "object" ? rows[node] : undefined;
      if (edge && row) edge.dataset.haproxy = row.status.split(" ")[0];
      else if (edge) delete edge.dataset.haproxy;
    }
    if (row) {
      row.querySelector(".power").textContent = info.power;
      row.querySelector(".state").textContent = info.state;
      row.querySelector(".state").dataset.state = info.state;
      row.querySelector(".services").textContent = services;
      row.querySelector(".database").textContent = database;
      row.querySelector(".haproxy").textContent = haproxy.join("; ");
      row.querySelector(".rate").textContent = rate === undefined ? "" : String(rate);
    }
  }
  const floating = document.getElementById("floating");
  floating.textContent = snapshot.floating ? `floating address ${snapshot.floating.address}: held by ${holders.join(", ") || "nobody"}` : "";
  const floatingBox = document.querySelector('svg.diagram g.box[data-node="floating"]');
  if (floatingBox) floatingBox.dataset.state = holders.length === 1 ? "UP" : "DOWN";
  const alerts = document.getElementById("alerts");
  if (snapshot.alerts == null) {
    alerts.textContent = "";
  } else {
    alerts.dataset.firing = snapshot.alerts.length ? "yes" : "no";
    alerts.textContent = snapshot.alerts.length
      ? "alerts firing: " + snapshot.alerts.map((a) => `${a.name} (${a.node})`).join(", ")
      : "no alert firing";
  }
}

function watch() {
  const events = new EventSource("events");
  events.onmessage = (message) => show(JSON.parse(message.data));
}

function seconds(value) {
  return value === null || value === undefined ? "-" : `${value} s`;
}

async function listReports() {
  // The drills' finished reports, newest first, each with its plot; asked again every 15 s.
  const answer = await fetch("reports");
  if (!answer.ok) return;
  const rows = (await answer.json()).map((r) => {
    const row = cells(document.createElement("tr"), [r.started_at.replace("T", " ").replace("Z", " UTC"), r.title || r.drill,
      seconds(r.detection_seconds), seconds(r.recovery_seconds), r.lost === null ? "-" : String(r.lost), `${r.held} of ${r.predicted}`]);
    row.dataset.report = r.name;
    const cell = document.createElement("td");
    if (r.plot) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "plot";
      button.addEventListener("click", () => {
        const plot = document.getElementById("report-plot");
        plot.src = `reports/${encodeURIComponent(r.name)}.svg`;
        plot.alt = `the timeline of ${r.name}`;
        plot.hidden = false;
      });
      cell.appendChild(button);
    }
    row.appendChild(cell);
    return row;
  });
  document.querySelector("#report-list tbody").replaceChildren(...rows);
}

let openTerminal = null;

function terminalOn(node) {
  if (openTerminal) openTerminal.close();
  const panel = document.getElementById("terminal-panel");
  const holder = document.getElementById("terminal");
  holder.replaceChildren();
  panel.hidden = false;
  document.getElementById("terminal-node").textContent = node;
  const term = new Terminal({ cursorBlink: true, fontSize: 14 });
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(holder);
  fit.fit();
  const address = new URL(`terminal/${encodeURIComponent(node)}?cols=${term.cols}&rows=${term.rows}`, location.href);  // below the page's own path
  address.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(address);
  socket.onmessage = (message) => term.write(message.data);
  socket.onclose = () => term.write("\r\n[the terminal is closed]\r\n");
  term.onData((data) => { if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ input: data })); });
  term.onResize(({ cols, rows }) => { if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ resize: [cols, rows] })); });
  term.focus();
  window.labTerminal = term;  // for a test or a curious student: the terminal's buffer
  openTerminal = { close: () => { socket.close(); term.dispose(); panel.hidden = true; openTerminal = null; } };
}

async function switchPower(node, to) {
  if (!window.confirm(`power ${to} ${node}?`)) return;
  const answer = await fetch(`nodes/${encodeURIComponent(node)}/power`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify({ to }),
  });
  if (!answer.ok) window.alert(`power ${to} ${node}: ${answer.status} ${await answer.text()}`);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("button.open-terminal").forEach((b) => b.addEventListener("click", () => terminalOn(b.dataset.node)));
  document.querySelectorAll("button.power-switch").forEach((b) => b.addEventListener("click", () => switchPower(b.dataset.node, b.dataset.to)));
  document.getElementById("close-terminal").addEventListener("click", () => { if (openTerminal) openTerminal.close(); });
  show(JSON.parse(document.getElementById("first-snapshot").textContent));  // the snapshot the page was served with
  watch();
  listReports();
  window.setInterval(listReports, 15000);
});
