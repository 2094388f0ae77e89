// Customer page: "Refresh this customer" queues a run, shows its live progress, then swaps the data area.
(function () {
  "use strict";
  const form = document.getElementById("refresh-customer");
  const box = document.getElementById("customer-run");
  if (!box) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const TERMINAL = ["succeeded", "failed", "cancelled"];
  const POLL_MS = 800;
  const part = (role) => box.querySelector(`[data-role="${role}"]`);

  function show(run) {
    // A finished run is done whatever its last progress step said.
    const pct = run.status === "succeeded" ? 100
      : (run.progress.total ? Math.min(100, Math.floor((run.progress.done * 100) / run.progress.total)) : 0);
    const bar = part("run-bar");
    bar.style.width = `${pct}%`;
    bar.classList.toggle("progress-bar-animated", !TERMINAL.includes(run.status));
    bar.classList.toggle("progress-bar-striped", !TERMINAL.includes(run.status));
    bar.classList.toggle("bg-danger", run.status === "failed");
    part("run-status").textContent = run.status;
    part("run-message").textContent = run.outcome || run.progress.message || "";
  }

  // Follow the run until it ends; app.js toasts the outcome, so this only updates the box and the data.
  async function watch(statusUrl) {
    if (form) form.querySelector("button").disabled = true;
    try {
      await window.Syncdeck.followRun(statusUrl, show, POLL_MS);
    } finally {
      if (form) form.querySelector("button").disabled = false;
    }
  }

  if (form) {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const res = await fetch(form.action, {
        method: "POST", credentials: "same-origin",
        headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": csrf },
        body: "{}",
      });
      const data = await res.json().catch(() => ({}));
      if (!res.ok) { window.Syncdeck.toast(`Refresh failed to start: ${data.error || res.status}`, "danger"); return; }
      box.classList.remove("d-none");
      const link = part("run-link");
      link.href = data.url; link.textContent = data.run_id;
      watch(data.status_url);
    });
  }
  if (box.dataset.statusUrl) watch(box.dataset.statusUrl);
})();
