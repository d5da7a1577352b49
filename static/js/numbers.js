// The admin's "business in numbers" page: a chart beside each table of numbers, drawn from the
// table itself (its th[data-series] columns, each row's td[data-value]), so the table stays the
// record and the chart is its picture (hidden from screen readers, which read the table).
// Chart.js is vendored in static/vendor/chartjs (see README); no inline script (CSP).
(function () {
  if (typeof window.Chart === "undefined") return;
  const colours = ["#1d4ed8", "#b45309", "#047857", "#b91c1c", "#6d28d9", "#0e7490"];

  function seriesOf(table) {
    const headers = Array.from(table.querySelectorAll("thead th"));
    const rows = Array.from(table.querySelectorAll("tbody tr"));
    const labels = rows.map((row) => row.querySelector("th").textContent.trim());
    const datasets = [];
    headers.forEach((th, column) => {
      if (!th.hasAttribute("data-series")) return;
      const data = rows.map((row) => {
        const cell = row.children[column];
        const value = cell ? cell.getAttribute("data-value") : "";
        return value === "" || value === null ? null : Number(value);
      });
      const colour = colours[datasets.length % colours.length];
      datasets.push({ label: th.textContent.trim(), data, backgroundColor: colour, borderColor: colour, spanGaps: true });
    });
    return { labels, datasets };
  }

  // Ticks and tooltips in the page's language: amounts in the table's currency, shares in percent
  // (a Vietnamese page reads "1.000 ₫" and "97,5%", not "1000" and "97.5").
  const locale = document.documentElement.lang || "en";

  function formatter(unit) {
    if (/^[A-Z]{3}$/.test(unit)) {
      const money = new Intl.NumberFormat(locale, { style: "currency", currency: unit });
      return (value) => money.format(value);
    }
    if (unit === "%") {
      const share = new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 1 });
      return (value) => share.format(value / 100);
    }
    const number = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 });
    return (value) => number.format(value);
  }

  function draw(table) {
    const box = document.createElement("div");
    box.className = "chart-box";
    box.setAttribute("aria-hidden", "true");
    const canvas = document.createElement("canvas");
    box.appendChild(canvas);
    table.closest(".figure-body").prepend(box);
    const stacked = table.dataset.stacked === "true";
    const { labels, datasets } = seriesOf(table);
    const format = formatter(table.dataset.unit || "");
    new window.Chart(canvas, {
      type: table.dataset.chart === "line" ? "line" : "bar",
      data: { labels, datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        locale,
        plugins: {
          legend: { display: datasets.length > 1, position: "bottom" },
          tooltip: {
            enabled: true,
            callbacks: { label: (item) => `${item.dataset.label}: ${format(item.parsed.y)}` },
          },
        },
        scales: {
          x: { stacked },
          y: {
            stacked,
            beginAtZero: true,
            // Counts of practices and subscriptions tick in whole numbers, never "0.4 practices".
            ticks: { callback: (value) => format(value), precision: table.dataset.unit ? undefined : 0 },
            title: { display: Boolean(table.dataset.unit), text: table.dataset.unit || "" },
          },
        },
      },
    });
  }

  document.querySelectorAll("table.numbers[data-chart]").forEach(draw);
})();
