// 导入导出: check an import file (bad rows, duplicates) before anything is written, then commit it
// (reviewers and admins); export everything or a filtered set.  Server text is set as textContent.
"use strict";

const { el, api, say } = Staff;
let upload = null;

function table(headers, rows) {
  return el("table", {},
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, ...rows.map((cells) => el("tr", {}, ...cells.map((c) => el("td", {}, String(c)))))));
}

function showReport(report) {
  const box = document.getElementById("report");
  const parts = [el("h3", {}, `检查结果：${report.file}`),
    el("p", {}, `共 ${report.entries} 条：新增 ${report.added.length}，修改 ${report.updated.length}，不变 ${report.unchanged.length}`)];
  if (report.problems.length) {
    parts.push(el("p", { className: "error" }, `有 ${report.problems.length} 处错误（还没有导入）。请改正后重新上传，或只把正确的行导入为草稿：`),
      table(["位置", "原因"], report.problems.map((p) => [p.label || `${p.row} ${p.column}`, p.reason])));
  }
  if (report.skipped && report.skipped.length) {
    parts.push(el("p", {}, `有 ${report.skipped.length} 行答案为空，已跳过：`),
      table(["行", "标准问题"], report.skipped.map((s) => [`第 ${s.row} 行`, s.question])));
  }
  if (report.repeats && report.repeats.length) {
    const how = { first: "保留第一条", last: "保留最后一条", merge: "合并答案" }[document.getElementById("repeats").value];
    parts.push(el("p", {}, `有 ${report.repeats.length} 个问题出现在多行（${how}）：`),
      table(["标准问题", "出现的行", "采用"], report.repeats.map((r) => [r.question, r.rows.map((n) => `第 ${n} 行`).join("、"), `第 ${r.kept} 行`])));
  }
  if (report.without_wordings) {
    parts.push(el("p", {}, `${report.without_wordings} 条问答没有相似问法，导入后会出现在工作清单“缺少群众问法”里。`));
  }
  if (report.duplicates.length) {
    parts.push(el("p", {}, `有 ${report.duplicates.length} 处重复或相似：`),
      table(["位置", "问题", "类型", "相似度", "对照条目", "对照文字", "来自"], report.duplicates.map((d) => [
        d.position, d.text, d.match === "exact" ? "重复" : "相似", d.score.toFixed(2),
        `${d.other_title}（${d.other_id}）`, d.other_text, d.against === "store" ? "知识库" : "本文件"])));
  }
  box.replaceChildren(...parts);
  upload = report.upload;
  const canCommit = Boolean(upload) && ["reviewer", "admin"].includes(Staff.me.role);
  document.getElementById("commit").hidden = !canCommit || !report.ok;
  document.getElementById("commit-drafts").hidden = !canCommit || report.ok;
  document.getElementById("confirm-line").hidden = !canCommit || !report.duplicates.length;
  if (report.ok && !canCommit) say("检查通过。导入需要审核人或管理员确认。");
}

async function checkFile(event) {
  event.preventDefault();
  const file = document.getElementById("file").files[0];
  if (!file) return;
  say("正在检查…");
  try {
    const repeats = document.getElementById("repeats").value;
    const response = await fetch(`/api/kb/transfer/check?name=${encodeURIComponent(file.name)}&repeats=${repeats}`, {
      method: "POST", headers: { "X-CSRF-Token": Staff.me.csrf, "Content-Type": "application/octet-stream" }, body: file,
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error((data.error && data.error.message) || "检查失败，请稍后再试。");
    showReport(data);
    if (data.ok) say("检查完成，还没有导入。");
    else say("文件有错误，什么都没有导入。", true);
  } catch (err) {
    say(err.message, true);
  }
}

async function commit(mode) {
  try {
    const result = await api("POST", "/api/kb/transfer/commit", {
      upload, name: document.getElementById("file").files[0]?.name, mode,
      repeats: document.getElementById("repeats").value,
      confirm_duplicates: document.getElementById("confirm-duplicates").checked,
    });
    if (result.mode === "drafts") say(`已把 ${result.drafts.length} 条正确的问答导入为草稿，请到“待审核”提交审核；出错的 ${result.problems.length} 处没有导入。`);
    else {
      say(`已导入：新增 ${result.added.length}，修改 ${result.updated.length}，不变 ${result.unchanged.length}。`);
      watchVectors();
    }
    document.getElementById("commit").hidden = true;
    document.getElementById("commit-drafts").hidden = true;
    document.getElementById("confirm-line").hidden = true;
    upload = null;
  } catch (err) {
    say(err.message, true);
  }
}

// After an import the entries' sentence vectors are encoded in the background; until an entry has
// them the assistant finds it by its words only.  The page polls the progress until all are ready.
const VECTOR_STATES = {
  encoding: "正在计算语义向量",
  done: "语义向量已全部就绪",
  waiting: "等待计算语义向量（服务启动后自动开始）",
  interrupted: "计算被中断（服务重启后会自动接着算）",
  failed: "计算语义向量出错，助手暂时只按字面匹配这些条目",
  idle: "语义向量已全部就绪",
};
let vectorTimer = null;

async function showVectors() {
  let progress;
  try {
    progress = await api("GET", "/api/kb/transfer/vectors");
  } catch (err) {
    return;  // the next poll tries again
  }
  const box = document.getElementById("vectors");
  const waiting = progress.entries_waiting;
  const finished = waiting === 0;
  box.hidden = finished && !vectorTimer;
  const bar = document.getElementById("vectors-bar");
  bar.max = Math.max(progress.entries_total, 1);
  bar.value = progress.entries_ready;
  const state = finished ? "done" : progress.state;
  let text = `${VECTOR_STATES[state] || state}：${progress.entries_ready} / ${progress.entries_total} 条已就绪`;
  if (!finished && progress.state === "encoding" && progress.texts_total) {
    const elapsed = Math.max(1, progress.updated_at - progress.started_at);
    const rate = progress.texts_done / elapsed;
    const left = rate > 0 ? Math.round((progress.texts_total - progress.texts_done) / rate) : null;
    text += `（文本 ${progress.texts_done} / ${progress.texts_total}${left !== null ? `，约还需 ${left} 秒` : ""}）`;
  }
  if (!finished) text += "。就绪之前，助手仍可按字面找到这些条目。";
  document.getElementById("vectors-text").textContent = text;
  if (finished && vectorTimer) {
    clearInterval(vectorTimer);
    vectorTimer = null;
  }
}

function watchVectors() {
  if (!vectorTimer) vectorTimer = setInterval(showVectors, 2000);
  showVectors();
}

function updateDownload() {
  const params = new URLSearchParams({ format: document.getElementById("format").value });
  for (const name of ["kind", "domain"]) {
    const value = document.getElementById(name).value;
    if (value) params.set(name, value);
  }
  document.getElementById("download").href = `/api/kb/transfer/export?${params}`;
}

Staff.start().then(async () => {
  document.getElementById("check-form").addEventListener("submit", checkFile);
  document.getElementById("commit").addEventListener("click", () => commit("all"));
  document.getElementById("commit-drafts").addEventListener("click", () => commit("drafts"));
  for (const id of ["format", "kind", "domain"]) document.getElementById(id).addEventListener("change", updateDownload);
  showVectors().then(() => {
    if (!document.getElementById("vectors").hidden) watchVectors();  // an encoding still under way
  });
  try {
    const { stats, domain_names: names = {} } = await api("GET", "/api/kb/transfer/facets");
    const domains = new Set(Object.values(stats).flatMap((byDomain) => Object.keys(byDomain)));
    const select = document.getElementById("domain");
    for (const domain of [...domains].sort()) select.append(el("option", { value: domain }, names[domain] || domain));
  } catch (err) {
    say(err.message, true);
  }
});
