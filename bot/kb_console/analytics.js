// 数据分析: the numbers from /api/kb/analytics as ECharts charts (vendored from npm: no CDN) and
// tables; every chart's data downloads as CSV or XLSX with the same filters.
"use strict";

const { el, api, say } = Staff;

// chart -> how to draw it (the table under it is always there, for screen readers and for checking)
const DRAW = {
  volume_by_day: { type: "line" },
  volume_by_hour: { type: "bar" },
  volume_by_channel: { type: "pie" },
  outcomes: { type: "pie" },
  top_services: { type: "hbar", value: 2 },
  top_unanswered: { type: "table" },
  rating_levels: { type: "bar" },
  rating_reasons: { type: "hbar" },
  rating_entries: { type: "table" },
  entry_hits: { type: "table" },
  helpers: { type: "table" },
};
const charts = [];

function percent(value) {
  return value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)}%`;
}

function trend(now, before, asShare) {
  if (now === null || before === null || before === undefined) return "";
  const diff = now - before;
  if (asShare) return `（较上期 ${diff >= 0 ? "+" : ""}${(diff * 100).toFixed(1)} 个百分点）`;
  if (!before) return "";
  return `（较上期 ${diff >= 0 ? "+" : ""}${((diff / before) * 100).toFixed(1)}%）`;
}

function query() {
  const form = new FormData(document.getElementById("filters"));
  const params = new URLSearchParams();
  for (const [key, value] of form) if (value) params.set(key, value);
  return params;
}

function drawHeadline(data) {
  const h = data.headline;
  const box = document.getElementById("headline");
  const card = (label, value, note) =>
    el("div", { className: "card" }, el("span", { className: "label" }, label), el("strong", {}, String(value)), note ? el("small", {}, note) : null);
  box.replaceChildren(
    card("咨询量", h.questions, trend(h.questions, h.previous.questions, false)),
    card("回答率", percent(h.answered_share), trend(h.answered_share, h.previous.answered_share, true)),
    card("转人工", h.handoffs, trend(h.handoffs, h.previous.handoffs, false)),
    card("满意率（基本满意及以上）", percent(h.satisfied_share), `共 ${h.ratings} 条评价`),
    card("差评整改率", percent(h.follow_up_rate),
      `已整改 ${data.follow_up.closed} / 差评 ${data.follow_up.bad_ratings}，超期 ${data.follow_up.overdue}`),
    card(`${h.first_response_target} 秒内首次响应`, percent(h.first_response_within_target), "人工帮办"),
  );
}

const SHOWN_ROWS = 30; // longer tables: the first rows on the page, all of them in the download

function option(chart, kind, column) {
  const labels = chart.rows.map((row) => String(row[0]));
  const values = chart.rows.map((row) => row[column]);
  const base = { animation: false, tooltip: { trigger: kind === "pie" ? "item" : "axis" }, grid: { left: 8, right: 16, top: 16, bottom: 8, containLabel: true } };
  if (kind === "pie") return { ...base, series: [{ type: "pie", radius: ["35%", "65%"], data: labels.map((name, i) => ({ name, value: values[i] })) }] };
  if (kind === "hbar") {
    return { ...base, xAxis: { type: "value" }, yAxis: { type: "category", data: labels.slice().reverse(), axisLabel: { width: 160, overflow: "truncate" } },
      series: [{ type: "bar", data: values.slice().reverse(), itemStyle: { color: "#b71c1c" } }] };
  }
  return { ...base, xAxis: { type: "category", data: labels }, yAxis: { type: "value", minInterval: 1 },
    series: [{ type: kind, data: values, itemStyle: { color: "#b71c1c" }, smooth: kind === "line" }] };
}

function table(chart) {
  const head = el("tr", {}, ...chart.columns.map((c) => el("th", { scope: "col" }, c)));
  const body = chart.rows.slice(0, SHOWN_ROWS).map((row) =>
    el("tr", {}, ...row.map((cell, i) => el("td", {}, cell === null ? "—" : typeof cell === "number" && chart.columns[i].includes("占比") ? percent(cell) : String(cell)))));
  const more = chart.rows.length > SHOWN_ROWS ? el("p", {}, `（只显示前 ${SHOWN_ROWS} 行，完整数据请下载）`) : null;
  const box = el("div", {}, el("table", { className: "data" }, el("thead", {}, head), el("tbody", {}, ...body)));
  if (more) box.append(more);
  return box;
}

function drawCharts(data) {
  for (const chart of charts.splice(0)) chart.dispose();
  const box = document.getElementById("charts");
  box.replaceChildren();
  const params = query();
  for (const [name, chart] of Object.entries(data.charts)) {
    const { type: kind, value: column = 1 } = DRAW[name] || { type: "table" };
    const links = ["csv", "xlsx"].map((format) => {
      const p = new URLSearchParams(params);
      p.set("chart", name);
      p.set("format", format);
      return el("a", { href: `/api/kb/analytics/export?${p}`, className: "download", download: "" }, `下载 ${format.toUpperCase()}`);
    });
    const figure = el("figure", { className: `chart ${kind}`, dataset: { chart: name } },
      el("figcaption", {}, el("h2", {}, chart.title), el("span", { className: "downloads" }, ...links)));
    if (name === "entry_hits") figure.append(el("p", {}, `共 ${chart.total_entries} 个条目，其中 ${chart.never_count} 个在这段时间从未命中。`));
    if (name === "helpers") {
      const s = (x) => (x.median === null ? "—" : `${x.median} 秒`);
      figure.append(el("p", {}, `排队等待中位数 ${s(chart.queue_wait)} · 首次响应中位数 ${s(chart.first_response)} · 处理时长中位数 ${s(chart.handling)}（共 ${chart.first_response.count} 次接入）`));
    }
    if (kind !== "table" && chart.rows.length && window.echarts) {
      const canvas = el("div", { className: "canvas", role: "img", ariaLabel: `${chart.title}（数据见下表）` });
      figure.append(canvas);
      box.append(figure);
      const instance = echarts.init(canvas, null, { renderer: "svg" });
      instance.setOption(option(chart, kind, column));
      charts.push(instance);
      figure.append(el("details", {}, el("summary", {}, "数据表"), table(chart)));
    } else {
      figure.append(chart.rows.length ? table(chart) : el("p", {}, "这段时间没有数据。"));
      box.append(figure);
    }
  }
}

function fillChoices(select, choices) {
  if (select.options.length > 1) return;
  for (const [value, label] of Object.entries(choices)) select.append(el("option", { value }, label));
}

async function load() {
  say("正在统计…");
  try {
    const data = await api("GET", `/api/kb/analytics?${query()}`);
    fillChoices(document.getElementById("channel"), data.channels);
    fillChoices(document.getElementById("domain"), data.domains);
    document.getElementById("from").value = data.filters.from;
    document.getElementById("to").value = data.filters.to;
    drawHeadline(data);
    drawCharts(data);
    say(`统计区间 ${data.filters.from} 至 ${data.filters.to}`);
  } catch (err) {
    say(err.message, true);
  }
}

document.getElementById("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  history.replaceState(null, "", `?${query()}`);
  load();
});
window.addEventListener("resize", () => charts.forEach((c) => c.resize()));

Staff.start().then(() => {
  const params = new URLSearchParams(window.location.search);
  for (const name of ["from", "to", "channel", "domain"]) {
    const field = document.getElementById(name);
    if (params.get(name)) {
      if (field.tagName === "SELECT") field.append(el("option", { value: params.get(name) }, params.get(name)));
      field.value = params.get(name);
    }
  }
  load();
});
