// Syncdeck browser behaviour: Refresh Data, toasts, live run page, data-area refresh.
(function () {
  "use strict";
  const body = document.body;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const TERMINAL = ["succeeded", "failed", "cancelled"];
  const POLL_MS = 800;
  const EVENTS_MS = 3000;
  const ownedRuns = new Set(); // runs whose end the refresh button reports itself

  async function getJSON(url) {
    const res = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(data.error || `HTTP ${res.status}`);
    return data;
  }

  async function postJSON(url, payload) {
    const res = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(payload || {}),
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(data.error || `HTTP ${res.status}`);
    return data;
  }

  // --- toasts -------------------------------------------------------------
  function toast(message, kind, link) {
    const el = document.createElement("div");
    el.className = `toast align-items-center border-0 text-bg-${kind || "secondary"} syncdeck-toast`;
    el.setAttribute("role", "status");
    el.innerHTML = '<div class="d-flex"><div class="toast-body"></div>' +
      '<button type="button" class="btn-close btn-close-white me-2 m-auto" data-bs-dismiss="toast" aria-label="Close"></button></div>';
    el.querySelector(".toast-body").textContent = message + " ";
    if (link) {
      const a = document.createElement("a");
      a.href = link; a.textContent = "View run"; a.className = "link-light";
      el.querySelector(".toast-body").appendChild(a);
    }
    document.getElementById("toasts").appendChild(el);
    const t = new bootstrap.Toast(el, { delay: kind === "danger" ? 15000 : 6000 });
    el.addEventListener("hidden.bs.toast", () => el.remove());
    t.show();
  }
  const kindOf = (status) => ({ succeeded: "success", failed: "danger", cancelled: "warning" }[status] || "secondary");

  // --- data area refresh ---------------------------------------------------
  // Swap in the page's fresh data area; never a full reload, which would drop the toasts.
  async function refreshDataArea() {
    const area = document.getElementById("data-area");
    if (!area) return;
    const url = body.dataset.panelsUrl || window.location.href;
    const res = await fetch(url, { credentials: "same-origin" });
    if (!res.ok) return;
    const html = await res.text();
    if (body.dataset.panelsUrl) { area.innerHTML = html; return; }
    const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("data-area");
    if (fresh) area.innerHTML = fresh.innerHTML;
  }

  // Poll one run (GET /api/runs/<id>) until it ends, handing each answer to onUpdate; when it
  // succeeds, swap the page's data in. The toast comes from the events poll, not from here.
  async function followRun(statusUrl, onUpdate) {
    for (;;) {
      const res = await fetch(statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (res.ok) {
        const run = await res.json();
        onUpdate(run);
        if (TERMINAL.includes(run.status)) {
          if (run.status === "succeeded") await refreshDataArea();
          return run;
        }
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  // The badge the status_badge macro renders, made (or updated in place) here.
  const BADGE_COLORS = { queued: "secondary", running: "primary", succeeded: "success", failed: "danger", cancelled: "warning" };
  function statusBadge(status, el = document.createElement("span")) {
    el.className = `badge text-bg-${BADGE_COLORS[status] || "light"} status-badge`;
    el.dataset.status = status;
    el.textContent = status;
    return el;
  }

  // --- a page's own run panel (Bill Stop Analysis, a UISP customer) ----------------
  // <div data-run-panel data-form="FORM_ID" data-status-url="…" data-title="…"> holds data-role
  // parts (run-link, run-status, run-bar, run-count, run-message; each optional). Submitting the
  // form queues the run and the panel follows it; a success swaps the data area in (followRun).
  function showRun(panel, run) {
    const part = (role) => panel.querySelector(`[data-role="${role}"]`);
    const { done, total, message } = run.progress;
    const live = !TERMINAL.includes(run.status);
    // A finished run is done whatever its last progress step said.
    const pct = run.status === "succeeded" ? 100 : (total ? Math.min(100, Math.floor((done * 100) / total)) : 0);
    const bar = part("run-bar");
    if (bar) {
      bar.style.width = `${pct}%`;
      bar.textContent = pct ? `${pct}%` : "";
      bar.classList.toggle("progress-bar-animated", live);
      bar.classList.toggle("progress-bar-striped", live);
      bar.classList.toggle("bg-danger", run.status === "failed");
      bar.classList.toggle("bg-success", run.status === "succeeded");
    }
    const fill = (role, text) => { const el = part(role); if (el) el.textContent = text; };
    const status = part("run-status");
    if (status) status.replaceChildren(statusBadge(run.status));
    fill("run-count", total ? `${done.toLocaleString()} / ${total.toLocaleString()}` : done.toLocaleString());
    fill("run-message", run.outcome || message || (run.status === "queued" ? "waiting for a runner" : ""));
  }

  function runPanel(panel) {
    const form = document.getElementById(panel.dataset.form);
    const button = form && form.querySelector("button");
    const idleLabel = button && button.lastChild.textContent;
    let watching = false;

    function setBusy(busy) {
      if (!button) return;
      button.disabled = busy;
      if (button.dataset.busyLabel) button.lastChild.textContent = busy ? ` ${button.dataset.busyLabel}` : idleLabel;
    }

    async function watch(statusUrl) {
      if (watching) return;
      watching = true;
      setBusy(true);
      try {
        await followRun(statusUrl, (run) => showRun(panel, run));
      } finally {
        watching = false;
        setBusy(false);
      }
    }

    if (form) {
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        if (watching) return;
        let data;
        try {
          data = await postJSON(form.action);
        } catch (err) {
          toast(`Refresh failed to start: ${err.message}`, "danger");
          return;
        }
        const run = data.run;
        if (!data.created.length) toast(`${panel.dataset.title || "This refresh"} is already running: run ${run.id}.`, "info", run.url);
        panel.classList.remove("d-none");
        const link = panel.querySelector('[data-role="run-link"]');
        if (link) { link.href = run.url; link.textContent = run.id; }
        watch(run.status_url);
      });
    }
    if (panel.dataset.statusUrl) watch(panel.dataset.statusUrl);
  }
  document.querySelectorAll("[data-run-panel]").forEach(runPanel);

  // --- Refresh Data button ------------------------------------------------
  const btn = document.getElementById("refresh-btn");
  let tracking = null;

  function setBusy(busy, text) {
    btn.classList.toggle("loading", busy);
    btn.classList.toggle("btn-success", !busy);
    btn.classList.toggle("btn-warning", busy);
    btn.disabled = busy;
    btn.querySelector(".spinner-border").classList.toggle("d-none", !busy);
    btn.querySelector(".refresh-icon").classList.toggle("d-none", busy);
    document.getElementById("refresh-text").textContent = text;
  }

  function progressText(runs) {
    let done = 0, total = 0, known = true;
    for (const r of runs) {
      if (r.progress.total == null) { known = TERMINAL.includes(r.status) && known; continue; }
      done += r.progress.done; total += r.progress.total;
    }
    return total > 0 ? `Refreshing… ${done.toLocaleString()}/${total.toLocaleString()}` : "Refreshing…";
  }

  async function track(runIds) {
    if (tracking) return;
    tracking = runIds;
    runIds.forEach((id) => ownedRuns.add(id));
    setBusy(true, "Refreshing…");
    try {
      for (;;) {
        const data = await getJSON(`${body.dataset.runsUrl}?ids=${runIds.join(",")}`);
        setBusy(true, progressText(data.runs));
        if (data.runs.every((r) => TERMINAL.includes(r.status))) { finish(data.runs); return; }
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    } catch (err) {
      toast(`Refresh status unavailable: ${err.message}`, "danger");
      setBusy(false, "Refresh Data");
    } finally {
      tracking = null;
    }
  }

  function finish(runs) {
    const failed = runs.filter((r) => r.status !== "succeeded");
    for (const r of runs) toast(r.outcome, kindOf(r.status), r.status === "succeeded" ? null : r.url);
    setBusy(false, failed.length ? "Refresh Data" : "✓ Refresh Data");
    btn.disabled = false;
    setTimeout(() => setBusy(false, "Refresh Data"), 2000);
    if (!failed.length) refreshDataArea();
  }

  if (btn) {
    btn.addEventListener("click", async () => {
      if (tracking) return;
      setBusy(true, "Refreshing…");
      try {
        const data = await postJSON(body.dataset.refreshUrl);
        if (!data.runs.length) { toast(data.message, "secondary"); setBusy(false, "Refresh Data"); return; }
        track(data.runs.map((r) => r.id));
      } catch (err) {
        toast(`Refresh failed to start: ${err.message}`, "danger");
        setBusy(false, "Refresh Data");
      }
    });
    // A refresh started elsewhere (another tab, another user, a login) shows here too.
    getJSON(body.dataset.refreshUrl).then((d) => { if (d.runs.length) track(d.runs.map((r) => r.id)); }).catch(() => {});
  }

  // --- events: toasts for runs started/finished anywhere ---------------------
  let cursor = body.dataset.serverNow;
  const renderedAt = body.dataset.serverNow; // what ended before the page was rendered, the page shows
  const seen = new Set();
  async function pollEvents() {
    try {
      const data = await getJSON(`${body.dataset.eventsUrl}?since=${encodeURIComponent(cursor)}`);
      cursor = data.now;
      let finished = false;
      for (const ev of data.events.slice().reverse()) {
        if (seen.has(ev.key)) continue;
        seen.add(ev.key);
        if (ev.at && ev.at < renderedAt) continue;
        if (ownedRuns.has(ev.id)) continue;
        if (ev.kind === "finished") finished = true;
        if (String(ev.id) === body.dataset.runId) continue; // this page shows it already
        toast(ev.message, ev.kind === "started" ? "info" : kindOf(ev.status), ev.url);
      }
      if (finished && (body.dataset.panelsUrl || body.dataset.refreshOnRunFinish)) refreshDataArea();
    } catch (err) { /* a missed poll is retried on the next tick */ }
    setTimeout(pollEvents, EVENTS_MS);
  }
  setTimeout(pollEvents, EVENTS_MS);

  // --- run detail: live log and progress ----------------------------------
  if (body.dataset.runId) liveRun();

  async function liveRun() {
    const logEl = document.getElementById("run-log");
    let after = 0;
    let status = body.dataset.runStatus;
    const appendLines = (lines) => {
      const atBottom = logEl.scrollTop + logEl.clientHeight >= logEl.scrollHeight - 5;
      for (const l of lines) {
        const line = document.createElement("div");
        line.className = `log-line log-${l.level.toLowerCase()}`;
        line.dataset.seq = l.seq;
        line.textContent = `${l.at.slice(11, 23)} ${l.level.padEnd(7)} ${l.message}`;
        logEl.appendChild(line);
      }
      if (atBottom) logEl.scrollTop = logEl.scrollHeight;
    };
    for (;;) {
      try {
        const logs = await getJSON(`${body.dataset.logsUrl}?after=${after}`);
        appendLines(logs.lines);
        after = logs.next_after;
        if (!TERMINAL.includes(status)) {
          const run = await getJSON(body.dataset.runUrl);
          renderRun(run);
          if (TERMINAL.includes(run.status)) { status = run.status; continue; } // one last log fetch
        } else if (logs.lines.length === 0) {
          document.getElementById("log-state").textContent = "";
          return; // terminal and drained: stop polling
        } else continue;
      } catch (err) { /* retry on the next tick */ }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  function renderRun(run) {
    const pct = run.progress.total ? Math.floor((run.progress.done * 100) / run.progress.total) : (run.status === "succeeded" ? 100 : 0);
    const bar = document.querySelector('[data-role="progress-bar"]');
    bar.style.width = `${pct}%`; bar.textContent = `${pct}%`;
    bar.parentElement.setAttribute("aria-valuenow", pct);
    bar.classList.toggle("progress-bar-animated", run.status === "running");
    bar.classList.toggle("progress-bar-striped", run.status === "running");
    bar.classList.toggle("bg-danger", run.status === "failed");
    document.getElementById("progress-text").textContent = run.progress.total
      ? `${run.progress.done.toLocaleString()} / ${run.progress.total.toLocaleString()}` : run.progress.done.toLocaleString();
    document.getElementById("progress-message").textContent = run.progress.message;
    for (const [name, value] of Object.entries(run.counters)) {
      const el = document.querySelector(`[data-counter="${name}"]`);
      if (el) el.textContent = value.toLocaleString();
    }
    const badge = document.querySelector("#run-status .status-badge");
    if (badge && badge.dataset.status !== run.status) statusBadge(run.status, badge);
    body.dataset.runStatus = run.status;
    if (run.reason || run.summary) document.getElementById("run-reason").textContent = run.reason || run.summary;
    if (run.duration != null) document.querySelector('[data-field="duration"]').textContent = `${run.duration.toFixed(1)} s`;
    if (TERMINAL.includes(run.status)) {
      const term = document.getElementById("terminate"); if (term) term.remove();
      toast(run.outcome, kindOf(run.status));
    }
  }

  // --- schedule form: cron preview as you type ------------------------------
  const cronInput = document.getElementById("s-cron");
  if (cronInput) {
    const preview = document.getElementById("cron-preview");
    const tzInput = document.getElementById("s-tz");
    let timer = null;
    const update = () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        if (!cronInput.value.trim()) { preview.textContent = ""; return; }
        const url = `${cronInput.dataset.previewUrl}?cron=${encodeURIComponent(cronInput.value)}&timezone=${encodeURIComponent(tzInput.value)}`;
        try {
          const d = await getJSON(url);
          preview.className = "col-12 small text-success";
          preview.textContent = `${d.description}. Next: ${d.next.slice(0, 3).map((t) => t.replace("T", " ").slice(0, 16)).join(", ")}`;
        } catch (err) { preview.className = "col-12 small text-danger"; preview.textContent = err.message; }
      }, 300);
    };
    cronInput.addEventListener("input", update); tzInput.addEventListener("input", update); update();
  }
})();
