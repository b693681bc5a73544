// /kb/review: drafts waiting for review, each with its field-level diff; approve or reject with a reason.
"use strict";

(() => {
  const el = Staff.el;
  const queue = document.getElementById("queue");

  function item(entry, reviewer) {
    const r = entry.revision;
    const note = el("input", { type: "text", maxLength: 500, placeholder: "批准说明或退回原因" });
    const approve = el("button", { type: "button", className: "approve", onclick: () => decide("approve", { expected_edit: r.edit, note: note.value || null }) }, "批准发布");
    const reject = el("button", { type: "button", className: "reject", onclick: () => {
      if (!note.value.trim()) { Staff.say("请在说明框中写明退回原因。", true); note.focus(); return; }
      decide("reject", { expected_edit: r.edit, reason: note.value });
    } }, "退回修改");
    async function decide(action, body) {
      try {
        const result = await Staff.api("POST", `/api/kb/entries/${encodeURIComponent(r.entry_id)}/${action}`, body);
        Staff.say(action === "approve" ? `《${entry.title}》已发布为第 ${result.version} 版。` : `《${entry.title}》已退回给编辑。`);
        await load();
      } catch (err) {
        Staff.say(err.message, true);
      }
    }
    const base = r.base_version === null ? "新条目" : `基于第 ${r.base_version} 版`;
    return el("article", { className: "review-item", dataset: { id: r.entry_id } },
      el("h2", {}, el("a", { href: `/kb/edit?id=${encodeURIComponent(r.entry_id)}` }, entry.title), " ", el("span", { className: "muted" }, r.entry_id)),
      el("p", {}, `${Curation.KINDS[r.kind] || r.kind} · ${base} · 作者 ${r.author}，最后修改 ${r.last_editor}（${Curation.when(r.updated_at)}）`),
      r.note ? el("p", {}, `说明：${r.note}`) : null,
      entry.stale ? el("p", { className: "error" }, `已发布的已是第 ${entry.published_version} 版，这份修改基于旧版本，请退回让编辑在最新版本上修改。`) : null,
      Curation.diffTable(entry.changes, entry.published_version ? `已发布（第 ${entry.published_version} 版）` : "（无）", "待审核"),
      reviewer ? el("div", { className: "buttons" }, note, approve, reject) : el("p", { className: "muted" }, "审核人批准后发布。"));
  }

  async function load() {
    const data = await Staff.api("GET", "/api/kb/review");
    const reviewer = ["reviewer", "admin"].includes(Staff.me.role);
    queue.replaceChildren(...(data.items.length ? data.items.map((i) => item(i, reviewer)) : [el("p", { className: "muted" }, "没有待审核的修改。")]));
  }

  Staff.start().then(load).catch((err) => Staff.say(err.message, true));
})();
