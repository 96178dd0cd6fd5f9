// 统计页的图表：从 /api/v1/stats 取数，用应用自带的 ECharts（/static/vendor/，不依赖外网）画在 canvas 上。
// Tooltips in richText mode are drawn on the canvas too: the HTML tooltip would need inline styles, which the
// page's Content-Security-Policy (style-src 'self') refuses. Every chart's numbers are also in the table below it.
(function () {
  "use strict";
  const root = document.getElementById("stats");
  const status = document.getElementById("stats-status");
  if (!root) return;
  if (!window.echarts) { status.textContent = "图表组件未能加载，请看下方表格"; return; }
  const SEVERITY_COLOURS = {"特别重大": "#c62828", "重大": "#e65100", "较大": "#f9a825", "一般": "#607d8b"};
  const charts = [];

  function chart(id, option) {
    const el = document.getElementById(id);
    if (!el) return;
    const c = window.echarts.init(el, null, {renderer: "canvas"});
    c.setOption(Object.assign({
      animation: false,
      tooltip: {trigger: "axis", renderMode: "richText", axisPointer: {type: "shadow"}},
      grid: {left: 8, right: 24, top: 36, bottom: 8, containLabel: true},
    }, option));
    charts.push(c);
    el.dataset.drawn = "1";
  }

  const percent = v => (v === null || v === undefined ? null : Math.round(v * 1000) / 10);

  function draw(s) {
    chart("chart-days", {
      legend: {data: ["新增事件", "留言"], top: 0},
      xAxis: {type: "category", data: s.days.map(d => d.date.slice(5))},
      yAxis: {type: "value", minInterval: 1},
      series: [
        {name: "新增事件", type: "bar", data: s.days.map(d => d.incidents), itemStyle: {color: "#1565c0"}},
        {name: "留言", type: "line", data: s.days.map(d => d.reports), itemStyle: {color: "#2e7d32"}},
      ],
    });
    const depts = s.departments.slice().reverse();  // ranked first at the top of a horizontal bar chart
    chart("chart-departments", {
      xAxis: {type: "value", min: 0, max: 100, axisLabel: {formatter: "{value}%"}},
      yAxis: {type: "category", data: depts.map(d => d.department)},
      series: [{name: "按时率（%）", type: "bar", data: depts.map(d => percent(d.on_time_rate)),
                itemStyle: {color: "#1565c0"}, label: {show: true, position: "right", formatter: "{c}%"}}],
    });
    chart("chart-severity", {
      xAxis: {type: "category", data: s.severity.map(r => r.severity)},
      yAxis: {type: "value", minInterval: 1},
      series: [{name: "新增事件", type: "bar", label: {show: true, position: "top"},
                data: s.severity.map(r => ({value: r.incidents, itemStyle: {color: SEVERITY_COLOURS[r.severity]}}))}],
    });
    const parts = [["on_time", "按时", "#2e7d32"], ["late", "逾期", "#f9a825"], ["missing", "未回应", "#c62828"],
                   ["pending", "进行中", "#90a4ae"]];
    chart("chart-rules", {
      legend: {data: parts.map(p => p[1]), top: 0},
      xAxis: {type: "category", data: s.rules.map(r => r.title)},
      yAxis: {type: "value", minInterval: 1},
      series: parts.map(([key, name, color]) => ({name, type: "bar", stack: "n", itemStyle: {color},
                                                 data: s.rules.map(r => r[key])})),
    });
    root.dataset.drawn = String(charts.length);
    status.textContent = "";
  }

  status.textContent = "正在加载图表…";
  fetch(`/api/v1/stats?period=${encodeURIComponent(root.dataset.period)}`,
        {credentials: "same-origin", headers: {"Accept": "application/json"}})
    .then(r => (r.ok ? r.json() : r.json().catch(() => ({})).then(d => Promise.reject(new Error(d.error || r.status)))))
    .then(draw)
    .catch(err => { status.textContent = `图表数据加载失败：${err.message}，请看下方表格`; });
  window.addEventListener("resize", () => charts.forEach(c => c.resize()));
})();
