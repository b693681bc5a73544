// /kb/audit: who did what to which entry, newest first.
"use strict";

(() => {
  const el = Staff.el;
  const form = document.getElementById("filters");
  const body = document.querySelector("#audit tbody");
  const more = document.getElementById("more");
  const PAGE = 100;
  let oldest = null;

  function detail(d) {
    if (!d) return "";
    const parts = [];
    if (d.text) parts.push(`问法：${d.text}`);
    if (d.reason) parts.push(`原因：${d.reason}`);
    if (d.to_version) parts.push(`从第 ${d.from_version} 版回滚到第 ${d.to_version} 版`);
    if (d.note) parts.push(`说明：${d.note}`);
    if (d.base_version !== undefined && d.base_version !== null) parts.push(`基于第 ${d.base_version} 版`);
    return parts.join("；");
  }

  async function load(append = false) {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form)) if (value) params.set(key, value.trim());
    params.set("limit", PAGE);
    if (append && oldest) params.set("before", oldest);
    try {
      const data = await Staff.api("GET", `/api/kb/audit?${params}`);
      if (!append) body.replaceChildren();
      for (const a of data.items) {
        body.append(el("tr", {},
          el("td", {}, Curation.when(a.at)),
          el("td", {}, a.actor),
          el("td", {}, Curation.ACTIONS[a.action] || a.action),
          el("td", {}, a.entry_id ? el("a", { href: `/kb/edit?id=${encodeURIComponent(a.entry_id)}`, title: a.entry_id }, a.entry_title || a.entry_id) : ""),
          el("td", {}, a.version ? `第 ${a.version} 版` : ""),
          el("td", {}, detail(a.detail))));
        oldest = a.id;
      }
      if (!append && !data.items.length) {
        body.append(el("tr", { className: "empty" }, el("td", { colSpan: 6 }, "没有符合条件的操作记录。")));
      }
      more.hidden = data.items.length < PAGE;
      Staff.say("");
    } catch (err) {
      Staff.say(err.message, true);
    }
  }

  async function start() {
    await Staff.start();
    const select = document.getElementById("action");
    for (const [key, name] of Object.entries(Curation.ACTIONS)) select.append(el("option", { value: key }, name));
    const params = new URLSearchParams(window.location.search);
    for (const [key, value] of params) if (form.elements[key]) form.elements[key].value = value;
    form.addEventListener("submit", (event) => { event.preventDefault(); load(); });
    for (const id of ["entry", "actor"]) Curation.onEnter(document.getElementById(id), () => load());
    more.addEventListener("click", () => load(true));
    await load();
  }

  start().catch((err) => Staff.say(err.message, true));
})();
