// Syncdeck's own browser code: toasts. Everything live (Refresh Data, run panels, the log tail, the
// cron preview, the data area) is server-rendered fragments that htmx polls and swaps.
(function () {
  "use strict";
  const body = document.body;
  const EVENTS_MS = 3000;
  const kindOf = (status) => ({ succeeded: "success", failed: "danger", cancelled: "warning" }[status] || "secondary");

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

  // Events the server sends in HX-Trigger: runs that ended (their outcome), a message about a request.
  body.addEventListener("runs-finished", (e) => e.detail.toasts.forEach((t) => toast(t.message, t.kind, t.url)));
  body.addEventListener("run-toast", (e) => toast(e.detail.message, e.detail.kind, e.detail.url));

  // Runs the Refresh Data button reports itself (its fragment lists them): the events poll keeps quiet about them.
  const owned = new Set();
  const own = () => {
    const box = document.getElementById("refresh-box");
    if (box && box.dataset.runIds) box.dataset.runIds.split(",").forEach((id) => owned.add(Number(id)));
  };
  own();
  body.addEventListener("htmx:afterSettle", own);

  // Paint the button busy at the click, not when the server answers.
  body.addEventListener("htmx:beforeRequest", (e) => {
    const btn = e.detail.elt;
    if (btn.id !== "refresh-btn") return;
    btn.classList.replace("btn-success", "btn-warning");
    btn.classList.add("loading");
    btn.querySelector(".refresh-icon").classList.add("d-none");
    btn.querySelector(".spinner-border").classList.remove("d-none");
    document.getElementById("refresh-text").textContent = "Refreshing…";
  });

  // An error fragment (a bad cron, a refused run) is swapped in where it was asked for; any other
  // error answer (a JSON error, an error page, no answer) becomes a toast, and the button shows the truth again.
  function failed(e, message) {
    toast(message, "danger");
    const box = e.detail.elt.closest("#refresh-box");
    if (box) htmx.ajax("GET", box.dataset.stateUrl, { target: "#refresh-box", swap: "outerHTML" });
  }
  body.addEventListener("htmx:beforeSwap", (e) => {
    const xhr = e.detail.xhr;
    if (xhr.status < 400) return;
    const html = (xhr.getResponseHeader("Content-Type") || "").startsWith("text/html");
    if (html && !/^\s*<!doctype/i.test(xhr.responseText)) return;
    e.detail.shouldSwap = false;
    let error = `HTTP ${xhr.status}`;
    try { error = JSON.parse(xhr.responseText).error || error; } catch (err) { /* not JSON */ }
    failed(e, `Request failed: ${error}`);
  });
  body.addEventListener("htmx:sendError", (e) => failed(e, "The server did not answer; try again."));

  // --- events: toasts for runs started/finished anywhere (schedules, other users) ------------
  let cursor = body.dataset.serverNow;
  const renderedAt = body.dataset.serverNow; // what ended before the page was rendered, the page shows
  const seen = new Set();
  async function pollEvents() {
    try {
      const res = await fetch(`${body.dataset.eventsUrl}?since=${encodeURIComponent(cursor)}`,
        { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const data = await res.json();
      cursor = data.now;
      const toasts = [];
      let succeeded = false;
      for (const ev of data.events.slice().reverse()) {
        if (seen.has(ev.key)) continue;
        seen.add(ev.key);
        if ((ev.at && ev.at < renderedAt) || owned.has(ev.id)) continue;
        if (ev.kind === "finished") succeeded = succeeded || ev.status === "succeeded";
        if (String(ev.id) === body.dataset.runId) continue; // this page announces its own run
        toasts.push({ message: ev.message, kind: ev.kind === "started" ? "info" : kindOf(ev.status), url: ev.url });
      }
      // The same event the server sends: the toasts, and the data area swapped in after a success.
      if (toasts.length || succeeded) htmx.trigger(body, "runs-finished", { toasts, succeeded });
    } catch (err) { /* a missed poll is retried on the next tick */ }
    setTimeout(pollEvents, EVENTS_MS);
  }
  setTimeout(pollEvents, EVENTS_MS);
})();
