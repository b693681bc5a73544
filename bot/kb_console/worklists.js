// 工作清单: unanswered questions (grouped), 差评 and helpers' drafts.  Every item can be closed with
// an outcome; a citizen's wording can become a similar question of an entry in one click.
// Text from the server is only set with textContent (Staff.el), never as HTML.
"use strict";

const { el, api, say } = Staff;
let outcomes = {};
let current = "unanswered";

// Where the editor opens a new draft, prefilled (the editor's page reads these parameters).
function editorUrl(question, answer) {
  const params = new URLSearchParams({ new: "qa", question: question || "" });
  if (answer) params.set("answer", answer);
  return `/kb/edit?${params}`;
}

function when(seconds) {
  return new Date(seconds * 1000).toLocaleString("zh-CN", { hour12: false });
}

async function showTranscript(conversationId) {
  const box = document.getElementById("transcript");
  box.hidden = false;
  box.replaceChildren(el("h2", {}, "会话记录"), el("p", {}, "加载中…"));
  try {
    const data = await api("GET", `/api/kb/conversations/${encodeURIComponent(conversationId)}`);
    const list = el("ol", { className: "transcript" });
    for (const m of data.messages) {
      const who = m.direction === "in" ? "群众" : m.helper ? `帮办 ${m.helper}` : "助手";
      const line = el("li", { className: m.direction }, el("b", {}, `${who}：`), m.text);
      if (m.entry) line.append(el("span", { className: "badge" }, `条目：${m.entry.title}`));
      if (m.rating) line.append(el("span", { className: "badge" }, ratingName(m.rating)));
      list.append(line);
    }
    box.replaceChildren(el("h2", {}, `会话记录（${data.channel}）`), list);
  } catch (err) {
    box.replaceChildren(el("p", { className: "error" }, err.message));
  }
}

/** The actions under one item: pick an entry, add the wording, open a draft, or close with an outcome. */
function actions(kind, ids, wording, suggestions, answer) {
  const box = el("div", { className: "item-actions" });
  const text = el("input", { type: "text", value: wording, ariaLabel: "群众的问法", maxLength: 200 });
  const entry = el("select", { ariaLabel: "添加到条目" });
  const fill = (entries) => {
    entry.replaceChildren(el("option", { value: "" }, "选择条目…"));
    for (const e of entries) entry.append(el("option", { value: e.id }, `${e.title}（${e.id}）`));
  };
  fill(suggestions);
  const query = el("input", { type: "search", placeholder: "搜索条目", ariaLabel: "搜索条目", value: wording });
  const find = el("button", { type: "button", onclick: async () => {
    try { fill((await api("GET", `/api/kb/worklists/entries?q=${encodeURIComponent(query.value)}`)).entries); }
    catch (err) { say(err.message, true); }
  } }, "搜索");
  const add = el("button", { type: "button", className: "add-question", onclick: async () => {
    if (!entry.value) { say("请先选择条目。", true); return; }
    try {
      await api("POST", "/api/kb/worklists/add-question", { kind, ids, entry_id: entry.value, text: text.value });
      say(`已把“${text.value}”添加为相似问法，搜索立即生效。`);
      load();
    } catch (err) { say(err.message, true); }
  } }, "添加为相似问法");
  const draft = el("button", { type: "button", onclick: async () => {
    try {
      await api("POST", "/api/kb/worklists/close", { kind, ids, outcome: "new_draft" });
      window.location.assign(editorUrl(text.value, answer));
    } catch (err) { say(err.message, true); }
  } }, "新建草稿");
  const outcome = el("select", { ariaLabel: "处理结果" });
  for (const [value, label] of Object.entries(outcomes)) {
    if (value !== "added_question" && value !== "new_draft") outcome.append(el("option", { value }, label));
  }
  const note = el("input", { type: "text", placeholder: "备注（可不填）", ariaLabel: "备注", maxLength: 500 });
  const closeButton = el("button", { type: "button", className: "close-item", onclick: async () => {
    try {
      await api("POST", "/api/kb/worklists/close", { kind, ids, outcome: outcome.value, note: note.value });
      say("已关闭。");
      load();
    } catch (err) { say(err.message, true); }
  } }, "关闭");
  box.append(
    el("div", { className: "row" }, text, entry, query, find, add, draft),
    el("div", { className: "row" }, outcome, note, closeButton),
  );
  return box;
}

function conversationLinks(ids) {
  return el("span", {}, ...ids.slice(0, 10).map((id, i) =>
    el("a", { href: "#", className: "conversation", onclick: (e) => { e.preventDefault(); showTranscript(id); } },
      `会话${i + 1}`, " ")));
}

async function loadUnanswered(list) {
  const data = await api("GET", "/api/kb/worklists/unanswered");
  outcomes = data.outcomes;
  if (!data.groups.length) list.append(el("p", {}, "没有未解决的问题。"));
  for (const group of data.groups) {
    const ids = group.items.map((item) => item.id);
    const wordings = [...new Set(group.items.map((item) => item.text))];
    const reasons = Object.entries(group.reasons).map(([r, n]) => `${reasonName(r)} ${n}`).join("，");
    list.append(el("article", { className: "group", dataset: { count: group.count } },
      el("h3", {}, group.label, " ", el("span", { className: "badge count" }, `${group.count} 次`)),
      el("p", {}, `${reasons} · 最近 ${when(group.last_at)} · `, conversationLinks(group.conversations)),
      el("ul", { className: "wordings" }, ...wordings.slice(0, 8).map((w) => el("li", {}, w))),
      actions("question", ids, group.label, group.choices.map((id) => ({ id, title: id })), null)));
  }
}

function reasonName(reason) {
  return { not_found: "没找到", out_of_scope: "超出范围", clarify: "追问未选" }[reason] || reason;
}

const LEVEL_NAMES = { 5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意" };

function ratingName(rating) {
  // Ratings stored before the five levels say good/bad.
  return LEVEL_NAMES[rating] || { good: "满意", bad: "不满意" }[rating] || rating;
}

async function loadRatings(list) {
  const data = await api("GET", "/api/kb/worklists/ratings");
  outcomes = data.outcomes;
  if (!data.items.length) list.append(el("p", {}, "没有待处理的差评。"));
  for (const item of data.items) {
    const suggestions = item.entry_id ? [{ id: item.entry_id, title: item.entry_title || item.entry_id }] : [];
    const rated = item.target === "helper" ? `人工帮办：${item.helper || "—"}` : `条目：${item.entry_title || "—"}`;
    const due = item.due_at ? `整改期限 ${when(item.due_at)}` : "";
    list.append(el("article", { className: `rating${item.overdue ? " overdue" : ""}` },
      el("h3", {}, el("span", { className: "badge level" }, item.level_label), " ",
        item.question || (item.target === "helper" ? "（对人工帮办的评价）" : "（没有找到提问）")),
      el("p", {}, `${rated} · ${when(item.created_at)} · `, conversationLinks([item.conversation_id])),
      el("p", { className: item.overdue ? "due overdue" : "due" }, item.overdue ? `已超期：${due}` : due),
      item.reason_label ? el("p", {}, `原因：${item.reason_label}`) : null,
      item.comment ? el("p", {}, `群众留言：${item.comment}`) : null,
      actions("rating", [item.id], item.question || "", suggestions, null)));
  }
}

async function loadWordings(list) {
  const data = await api("GET", "/api/kb/worklists/wordings");
  if (!data.items.length) list.append(el("p", {}, "所有问答都有群众问法。"));
  else list.append(el("p", {}, `共 ${data.total} 条问答还没有相似问法：加上群众的说法，检索才更容易找到它们。`));
  for (const item of data.items) {
    list.append(el("article", { className: "wording" },
      el("h3", {}, el("a", { href: `/kb/edit?id=${encodeURIComponent(item.id)}` }, item.title)),
      el("p", {}, `领域：${item.domain_name}`)));
  }
}

async function loadDrafts(list) {
  const data = await api("GET", "/api/kb/worklists/drafts");
  outcomes = data.outcomes;
  if (!data.items.length) list.append(el("p", {}, "没有待处理的帮办草稿。"));
  for (const item of data.items) {
    list.append(el("article", { className: "draft" },
      el("h3", {}, item.question),
      el("p", {}, item.answer),
      el("p", {}, `帮办：${item.helper || "—"} · ${when(item.created_at)} · `, conversationLinks([item.conversation_id])),
      actions("draft", [item.id], item.question, [], item.answer)));
  }
}

async function loadReport() {
  const report = await api("GET", "/api/kb/worklists/report");
  const rate = report.follow_up_rate === null ? "—" : `${(report.follow_up_rate * 100).toFixed(1)}%`;
  const parts = Object.entries(report.by_outcome).map(([o, n]) => `${outcomes[o] || o} ${n}`).join("，");
  document.getElementById("report").textContent =
    `差评整改率：${rate}（已处理 ${report.closed} / 共 ${report.bad_ratings}，超期未处理 ${report.overdue}）` +
    (parts ? "；" + parts : "");
}

// Each load draws into a fresh list that replaces the page's only if no later load has started:
// a slow answer to an older request (before an item was closed) must never be drawn last.
let loads = 0;

async function load() {
  const mine = ++loads;
  const list = el("section", { id: "list", ariaLabel: "待处理" });
  try {
    if (current === "unanswered") await loadUnanswered(list);
    else if (current === "ratings") await loadRatings(list);
    else if (current === "wordings") await loadWordings(list);
    else await loadDrafts(list);
    if (mine !== loads) return;
    document.getElementById("list").replaceWith(list);
    await loadReport();
  } catch (err) {
    if (mine === loads) say(err.message, true);
  }
}

Staff.start().then(() => {
  for (const tab of document.querySelectorAll("nav.tabs button")) {
    tab.addEventListener("click", () => {
      current = tab.dataset.list;
      for (const other of document.querySelectorAll("nav.tabs button")) other.setAttribute("aria-pressed", String(other === tab));
      document.getElementById("transcript").hidden = true;
      load();
    });
  }
  load();
});
