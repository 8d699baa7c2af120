// Coverage dashboard: draws the two charts from JSON the server embeds in the live part
// (no inline script: CSP) and redraws them each time htmx swaps that part in. The chart
// elements are kept across swaps (hx-preserve), so each chart is created once.
(function () {
  "use strict";
  const charts = {};

  function readJSON(id) {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function chartFor(id) {
    const el = document.getElementById(id);
    if (!el || typeof echarts === "undefined") return null;
    if (!charts[id] || charts[id].getDom() !== el) {
      charts[id] = echarts.getInstanceByDom(el) || echarts.init(el, null, { renderer: "svg" });
    }
    return charts[id];
  }

  function empty(titles) {
    return { text: titles.empty, left: "center", top: "middle", textStyle: { color: "#5b6b7b", fontSize: 14, fontWeight: "normal" } };
  }

  function drawProgress(data, titles) {
    const chart = chartFor("coverage-progress-chart");
    if (!chart) return;
    const p = data.progress;
    chart.setOption({
      animation: false,
      title: p.labels.length ? { show: false } : empty(titles),
      tooltip: { trigger: "axis" },
      legend: { top: 0, data: [titles.cumulative, titles.hourly] },
      grid: { left: 48, right: 48, top: 36, bottom: 48 },
      xAxis: { type: "category", data: p.labels },
      yAxis: [{ type: "value", minInterval: 1 }, { type: "value", minInterval: 1, splitLine: { show: false } }],
      series: [
        { name: titles.cumulative, type: "line", data: p.cumulative, itemStyle: { color: "#0b5cad" }, areaStyle: { opacity: 0.12 } },
        { name: titles.hourly, type: "bar", yAxisIndex: 1, data: p.hourly, itemStyle: { color: "#8fb8e3" } },
      ],
    }, { notMerge: true });
  }

  function drawChildren(data, titles) {
    const chart = chartFor("coverage-children-chart");
    if (!chart) return;
    const c = data.children;
    chart.setOption({
      animation: false,
      title: c.labels.length ? { show: false } : empty(titles),
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0, data: [titles.reached, titles.unreached] },
      grid: { left: 48, right: 16, top: 36, bottom: 56 },
      xAxis: { type: "category", data: c.labels, axisLabel: { interval: 0, rotate: c.labels.length > 6 ? 30 : 0 } },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: titles.reached, type: "bar", stack: "all", data: c.reached, itemStyle: { color: "#1e7a3c" } },
        { name: titles.unreached, type: "bar", stack: "all", data: c.unreached, itemStyle: { color: "#e0a64a" } },
      ],
    }, { notMerge: true });
  }

  function draw() {
    const data = readJSON("coverage-data");
    const titles = readJSON("coverage-titles");
    if (!data || !titles) return;
    drawProgress(data, titles);
    drawChildren(data, titles);
  }

  // Tell the reader when a refresh fails, instead of silently showing old figures.
  function offline(isOffline) {
    document.querySelectorAll("[data-coverage-offline]").forEach((el) => { el.hidden = !isOffline; });
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", () => {
    offline(false);
    draw();
  });
  document.addEventListener("htmx:sendError", () => offline(true));
  document.addEventListener("htmx:responseError", () => offline(true));
  window.addEventListener("resize", () => Object.values(charts).forEach((chart) => chart.resize()));
})();
