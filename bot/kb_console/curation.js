// Shared by the curation pages (/kb/, /kb/edit, /kb/review, /kb/audit): names of kinds and states,
// time formatting, and the field-level diff table.  Everything is drawn with Staff.el (textContent).
"use strict";

const Curation = (() => {
  const el = Staff.el;
  const KINDS = { guide: "办事指南", qa: "常见问答", bundle: "一件事", center: "服务网点", terminal: "自助终端", policy: "惠企政策" };
  const STATES = {
    published: "已发布", archived: "已归档", new: "未发布", draft: "草稿", in_review: "审核中",
    rejected: "被退回", superseded: "历史版本",
  };
  const ACTIONS = {
    save_draft: "保存草稿", submit: "提交审核", withdraw: "撤回审核", discard_draft: "放弃草稿", approve: "批准发布",
    reject: "退回", archive: "归档", restore: "恢复", rollback: "回滚", add_similar_question: "添加相似问法",
  };
  const CHANGES = { added: "新增", removed: "删除", changed: "修改" };

  function badge(state) {
    return el("span", { className: `badge ${state}` }, STATES[state] || state);
  }

  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    return d.toLocaleString("zh-CN", { hour12: false });
  }

  function show(value) {
    if (value === null || value === undefined) return "";
    if (typeof value === "boolean") return value ? "是" : "否";
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  /** A table of field-level changes [{path, label, change, before, after}]. */
  function diffTable(changes, beforeTitle = "修改前", afterTitle = "修改后") {
    if (!changes.length) return el("p", { className: "muted" }, "两个版本内容相同。");
    const body = el("tbody");
    for (const c of changes) {
      body.append(el("tr", { className: `diff-${c.change}` },
        el("td", {}, `${c.label}（${c.path}）`),
        el("td", {}, CHANGES[c.change] || c.change),
        el("td", { className: "diff-removed" }, show(c.before)),
        el("td", { className: "diff-added" }, show(c.after))));
    }
    return el("table", { className: "diff" },
      el("thead", {}, el("tr", {}, el("th", {}, "字段"), el("th", {}, "变化"), el("th", {}, beforeTitle), el("th", {}, afterTitle))),
      body);
  }

  /** Field-level diff computed in the page (for a conflict: the editor's text against the stored one). */
  function flatten(value, path = "", out = {}) {
    if (Array.isArray(value)) {
      if (!value.length && path) out[path] = [];
      value.forEach((item, i) => flatten(item, `${path}[${i}]`, out));
    } else if (value && typeof value === "object") {
      const keys = Object.keys(value);
      if (!keys.length && path) out[path] = {};
      for (const key of keys) flatten(value[key], path ? `${path}.${key}` : key, out);
    } else if (value !== undefined) {
      out[path] = value;
    }
    return out;
  }

  function localDiff(before, after, labels = {}) {
    const a = flatten(before || {}), b = flatten(after || {});
    const paths = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    const changes = [];
    for (const path of paths) {
      const top = path.split(/[.[]/)[0];
      const label = labels[top] || top;
      if (!(path in a)) changes.push({ path, label, change: "added", before: null, after: b[path] });
      else if (!(path in b)) changes.push({ path, label, change: "removed", before: a[path], after: null });
      else if (JSON.stringify(a[path]) !== JSON.stringify(b[path])) changes.push({ path, label, change: "changed", before: a[path], after: b[path] });
    }
    return changes;
  }

  /** Call fn on Enter in `input`, but never while an IME is composing (Chinese input). */
  function onEnter(input, fn) {
    input.addEventListener("keydown", (event) => {
      if (event.key !== "Enter") return;
      event.preventDefault(); // no implicit form submission either: this handler decides
      if (!event.isComposing && event.keyCode !== 229) fn();
    });
  }

  return { KINDS, STATES, ACTIONS, badge, when, show, diffTable, localDiff, onEnter };
})();
