// Draws the home page charts from JSON embedded by the server (no inline script: CSP).
document.addEventListener("DOMContentLoaded", () => {
  const data = JSON.parse(document.getElementById("chart-data").textContent);
  const titles = JSON.parse(document.getElementById("chart-titles").textContent);
  document.querySelectorAll("[data-chart-index]").forEach((el) => {
    const d = data[Number(el.dataset.chartIndex)];
    const chart = echarts.init(el, null, { renderer: "svg" });
    chart.setOption({
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { top: 0, data: [titles.residents, titles.households] },
      grid: { left: 48, right: 16, top: 36, bottom: 48 },
      xAxis: { type: "category", data: d.labels, axisLabel: { interval: 0, rotate: d.labels.length > 6 ? 30 : 0 } },
      yAxis: { type: "value" },
      series: [
        { name: titles.residents, type: "bar", data: d.residents, itemStyle: { color: "#0b5cad" } },
        { name: titles.households, type: "bar", data: d.households, itemStyle: { color: "#8fb8e3" } },
      ],
    });
    window.addEventListener("resize", () => chart.resize());
  });
});
