// Bill Stop Analysis: "Refresh Data" queues the batch, shows its live progress, then swaps the data area.
(function () {
  "use strict";
  const form = document.getElementById("refresh-batch");
  const box = document.getElementById("batch-run");
  if (!box) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const TERMINAL = ["succeeded", "failed", "cancelled"];
  const COLORS = { queued: "secondary", running: "primary", succeeded: "success", failed: "danger", cancelled: "warning" };
  const POLL_MS = 1000;
  const part = (role) => box.querySelector(`[data-role="${role}"]`);
  let watching = false;

  function badge(status) {
    const el = document.createElement("span");
    el.className = `badge text-bg-${COLORS[status] || "light"} status-badge`;
    el.dataset.status = status;
    el.textContent = status;
    return el;
  }

  function show(run) {
    const { done, total, message } = run.progress;
    // A finished run is done whatever its last progress step said.
    const pct = run.status === "succeeded" ? 100 : (total ? Math.min(100, Math.floor((done * 100) / total)) : 0);
    const bar = part("run-bar");
    const live = !TERMINAL.includes(run.status);
    bar.style.width = `${pct}%`;
    bar.textContent = pct ? `${pct}%` : "";
    bar.classList.toggle("progress-bar-animated", live);
    bar.classList.toggle("progress-bar-striped", live);
    bar.classList.toggle("bg-danger", run.status === "failed");
    bar.classList.toggle("bg-success", run.status === "succeeded");
    part("run-status").replaceChildren(badge(run.status));
    part("run-count").textContent = total ? `${done.toLocaleString()} / ${total.toLocaleString()}` : done.toLocaleString();
    part("run-message").textContent = run.outcome || message || (run.status === "queued" ? "waiting for a runner" : "");
  }

  function setButton(busy) {
    if (!form) return;
    const button = form.querySelector("button");
    button.disabled = busy;
    button.lastChild.textContent = busy ? " Refreshing…" : " Refresh Data";
  }

  // Follow the run until it ends; app.js toasts the outcome, this updates the rows and then the data.
  async function watch(statusUrl) {
    if (watching) return;
    watching = true;
    setButton(true);
    try {
      await window.Syncdeck.followRun(statusUrl, show, POLL_MS);
    } finally {
      watching = false;
      setButton(false);
    }
  }

  if (form) {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (watching) return;
      const res = await fetch(form.action, {
        method: "POST", credentials: "same-origin",
        headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": csrf },
        body: "{}",
      });
      const data = await res.json().catch(() => ({}));
      if (!res.ok) { window.Syncdeck.toast(`Refresh failed to start: ${data.error || res.status}`, "danger"); return; }
      if (!data.created) window.Syncdeck.toast(`The bill stop batch is already running: run ${data.run_id}.`, "info", data.url);
      box.classList.remove("d-none");
      const link = part("run-link");
      link.href = data.url; link.textContent = data.run_id;
      watch(data.status_url);
    });
  }
  if (box.dataset.statusUrl) watch(box.dataset.statusUrl);
})();
