// /kb/: browse, search and filter entries; open one in the editor.
"use strict";

(() => {
  const el = Staff.el;
  const form = document.getElementById("filters");
  const body = document.querySelector("#entries tbody");
  const more = document.getElementById("more");
  let offset = 0;
  const PAGE = 50;
  let domainNames = {}; // domain -> its Chinese name, from /api/kb/meta

  function query() {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form)) if (value) params.set(key, value);
    params.set("limit", PAGE);
    params.set("offset", offset);
    return params;
  }

  function row(e) {
    const open = e.open_revision;
    const status = el("td", {}, Curation.badge(e.status));
    if (open) status.append(" ", Curation.badge(open.state));
    return el("tr", { dataset: { id: e.id } },
      el("td", {}, el("a", { href: `/kb/edit?id=${encodeURIComponent(e.id)}` }, e.title), el("div", { className: "muted" }, e.id)),
      el("td", {}, Curation.KINDS[e.kind] || e.kind),
      el("td", {}, domainNames[e.domain] || e.domain),
      el("td", {}, e.department || ""),
      status,
      el("td", {}, e.version === null ? "—" : String(e.version)),
      el("td", {}, Curation.when(open ? open.updated_at : e.updated_at), el("div", { className: "muted" }, open ? open.last_editor : e.updated_by)));
  }

  async function load(append = false) {
    if (!append) offset = 0;
    try {
      const data = await Staff.api("GET", `/api/kb/entries?${query()}`);
      if (!append) body.replaceChildren();
      for (const e of data.entries) body.append(row(e));
      if (!append && !data.entries.length) {
        const filtered = [...new FormData(form).values()].some((value) => String(value).trim());
        body.append(el("tr", { className: "empty" }, el("td", { colSpan: 7 },
          filtered ? "没有符合条件的条目，请换个筛选条件。" : "知识库里还没有条目。可以在上方“新建”，或到“导入导出”导入。")));
      }
      offset += data.entries.length;
      document.getElementById("count").textContent = `共 ${data.total} 条`;
      more.hidden = offset >= data.total;
      Staff.say("");
    } catch (err) {
      Staff.say(err.message, true);
    }
  }

  async function start() {
    await Staff.start();
    const params = new URLSearchParams(window.location.search);
    for (const [key, value] of params) if (form.elements[key]) form.elements[key].value = value;
    const meta = await Staff.api("GET", "/api/kb/meta");
    domainNames = meta.domain_names || {};
    for (const d of meta.domains) document.getElementById("domain").append(el("option", { value: d }, domainNames[d] || d));
    for (const d of meta.departments) document.getElementById("department").append(el("option", { value: d }, d));
    for (const [key, value] of params) if (form.elements[key]) form.elements[key].value = value;
    form.addEventListener("submit", (event) => { event.preventDefault(); load(); });
    Curation.onEnter(document.getElementById("q"), () => load());
    more.addEventListener("click", () => load(true));
    await load();
  }

  start().catch((err) => Staff.say(err.message, true));
})();
