// 模型训练: the background retrain's state, progress and log tail, refreshed every few seconds.
"use strict";

const { el, api, say } = Staff;

const STATES = { idle: "空闲", checking: "正在检查名称是否变化", training: "正在训练", swapping: "正在启用新模型" };
const RESULTS = { running: "进行中", unchanged: "无需训练", swapped: "成功，已启用新模型", failed: "失败，仍在使用原来的模型" };

function when(seconds) {
  return seconds ? new Date(seconds * 1000).toLocaleString("zh-CN", { hour12: false }) : "—";
}

function row(term, value, className) {
  return [el("dt", {}, term), el("dd", className ? { className } : {}, value)];
}

function render(status) {
  const run = status.last_run;
  const progress = status.progress;
  const items = [
    ...row("自动训练", status.enabled ? "已开启" : "未开启（可手动启动）"),
    ...row("当前状态", STATES[status.state] || status.state),
  ];
  if (status.queued) items.push(...row("排队", "训练结束后还会再运行一次"));
  if (status.state === "training" && progress) {
    const epochs = progress.epochs_percent === null ? "" : `，本轮 ${progress.epochs_percent}%`;
    items.push(...row("进度", `已完成 ${progress.components_done} 个组件${progress.component ? `，正在训练 ${progress.component}` : ""}${epochs}`));
  }
  if (status.current) items.push(...row("当前模型", `${status.current.model || "启动时的模型"}（${when(status.current.at)}）`));
  if (run) {
    items.push(...row("最近一次", `${run.reason}，开始于 ${when(run.started_at)}`));
    items.push(...row("结果", `${RESULTS[run.result] || run.result}${run.message ? "：" + run.message : ""}`,
      run.result === "failed" ? "error" : ""));
  }
  document.getElementById("summary").replaceChildren(...items);
  document.getElementById("log").textContent = run && run.log_tail ? run.log_tail.join("\n") : "";
}

async function refresh() {
  try {
    render(await api("GET", "/api/kb/training"));
  } catch (err) {
    say(err.message, true);
  }
}

async function start(force) {
  try {
    render(await api("POST", "/api/kb/training/run", { force }));
    say(force ? "已开始重新训练。" : "已开始检查。");
  } catch (err) {
    say(err.message, true);
  }
}

Staff.start().then(() => {
  document.getElementById("check").addEventListener("click", () => start(false));
  document.getElementById("force").addEventListener("click", () => start(true));
  refresh();
  setInterval(refresh, 3000);
});
