// The reconciled revenue chart: one line per company, redrawn when the range or company changes,
// keeping the chosen filters when the page's data area refreshes after a run.
(function () {
  const canvas = document.getElementById("revenue-chart");
  if (!canvas || !window.Chart) return;
  const rangeButtons = document.querySelectorAll("#revenue-range [data-range]");
  const companySelect = document.getElementById("revenue-company");
  const empty = document.getElementById("revenue-empty");
  let chart = null;
  let range = (document.querySelector("#revenue-range .active") || rangeButtons[0]).dataset.range;

  async function draw() {
    const url = new URL(canvas.dataset.url, window.location.origin);
    url.searchParams.set("range", range);
    if (companySelect.value) url.searchParams.set("company", companySelect.value);
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const data = await response.json();
    const datasets = data.datasets.map((d) => ({ label: d.label, data: d.data, spanGaps: false, tension: 0.2 }));
    empty.hidden = datasets.length > 0;
    canvas.dataset.points = String(datasets.reduce((n, d) => n + d.data.filter((v) => v !== null).length, 0));
    if (chart) chart.destroy();
    chart = new Chart(canvas, {
      type: data.labels.length === 1 ? "bar" : "line",
      data: { labels: data.labels, datasets },
      options: { animation: false, responsive: true, plugins: { legend: { position: "bottom" } },
                 scales: { y: { beginAtZero: true } } },
    });
    canvas.dataset.ready = "1";
  }

  rangeButtons.forEach((button) => button.addEventListener("click", () => {
    rangeButtons.forEach((b) => b.classList.toggle("active", b === button));
    range = button.dataset.range;
    draw();
  }));
  companySelect.addEventListener("change", draw);
  document.body.addEventListener("run-succeeded", draw);
  draw();
})();
