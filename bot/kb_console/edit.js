// /kb/edit?id=… (or ?new=guide|qa|bundle|center|terminal|policy): the structured editor.  Lists (materials, steps, similar
// questions …) are edited row by row; save keeps a draft, submit sends it for review.  A conflict
// (someone saved or published meanwhile) keeps the editor's text and shows what changed.
"use strict";

(() => {
  const el = Staff.el;
  const $ = (id) => document.getElementById(id);

  // -- what each kind of entry holds (mirrors knowledge_base/models.py) ---------------------------
  const TEXT = "text", AREA = "textarea", STRINGS = "strings", OBJECTS = "objects", OBJECT = "object";
  const MATERIAL = [
    { key: "name", label: "材料名称", type: TEXT },
    { key: "form", label: "形式", type: "select", options: "material_forms" },
    { key: "count", label: "份数", type: "number" },
    { key: "required", label: "必须提供", type: "bool" },
    { key: "note", label: "备注", type: TEXT, optional: true },
    // 免证办: the 电子证照 that replaces this material and how it is presented (models.Exemption).
    { key: "exempt", label: "免提交（电子证照）", type: OBJECT, optional: true, fields: [
      { key: "licence", label: "电子证照或承诺书", type: TEXT },
      { key: "way", label: "免提交方式", type: "select", options: "exemption_ways" },
      { key: "note", label: "适用范围", type: TEXT, optional: true }] },
  ];
  const LOCATION = [
    { key: "hall", label: "窗口", type: TEXT }, { key: "address", label: "地址", type: TEXT },
    { key: "hours", label: "时间", type: TEXT }, { key: "phone", label: "电话", type: TEXT }];
  const ONLINE = [
    { key: "platform", label: "平台", type: "select", options: "platforms" },
    { key: "entry", label: "入口", type: TEXT }, { key: "steps", label: "网办步骤", type: STRINGS },
    { key: "url", label: "网址", type: TEXT, optional: true }];
  const FAQ = [{ key: "question", label: "问题", type: TEXT }, { key: "answer", label: "回答", type: AREA }];
  // 跨域通办: where else the matter is done and how (models.CrossRegion).
  const CROSS_REGION = [
    { key: "scope", label: "通办范围", type: "select", options: "cross_region_scopes" },
    { key: "ways", label: "办理方式", type: "checks", options: "cross_region_ways" },
    { key: "regions", label: "通办地区（仅点对点通办）", type: STRINGS },
    { key: "where", label: "异地在哪办", type: TEXT, optional: true },
    { key: "note", label: "说明", type: TEXT, optional: true }];
  const SCHEMA = {
    guide: [
      { key: "id", label: "编号", type: TEXT, idField: true },
      { key: "domain", label: "领域", type: TEXT },
      { key: "title", label: "事项名称", type: TEXT },
      { key: "code", label: "事项编码", type: TEXT },
      { key: "type", label: "事项类型", type: TEXT },
      { key: "department", label: "实施机构", type: TEXT },
      { key: "authority", label: "主管部门", type: TEXT, optional: true },
      { key: "audience", label: "服务对象", type: "checks", options: "audiences" },
      { key: "summary", label: "白话说明", type: AREA },
      { key: "aliases", label: "别名（群众的叫法）", type: STRINGS },
      { key: "keywords", label: "关键词", type: STRINGS },
      { key: "conditions", label: "受理条件", type: STRINGS },
      { key: "materials", label: "申请材料", type: OBJECTS, fields: MATERIAL, item: "材料" },
      { key: "process", label: "办理流程", type: OBJECTS, item: "步骤", fields: [
        { key: "title", label: "步骤", type: TEXT }, { key: "detail", label: "说明", type: TEXT, optional: true }] },
      { key: "time_limit", label: "办理时限", type: OBJECT, fields: [
        { key: "legal", label: "法定时限", type: TEXT }, { key: "promised", label: "承诺时限", type: TEXT }] },
      { key: "fee", label: "收费标准", type: OBJECT, fields: [
        { key: "charged", label: "收费", type: "bool" }, { key: "standard", label: "收费标准", type: TEXT },
        { key: "basis", label: "收费依据", type: TEXT, optional: true }] },
      { key: "location", label: "办理地点", type: OBJECT, fields: LOCATION },
      { key: "online", label: "网上办理", type: OBJECT, optional: true, fields: ONLINE },
      { key: "legal_basis", label: "设定依据", type: STRINGS },
      { key: "faq", label: "常见问题", type: OBJECTS, item: "问题", fields: FAQ },
      { key: "bundle", label: "一件事", type: TEXT, optional: true },
      { key: "cross_region", label: "跨域通办", type: OBJECTS, item: "通办范围", fields: CROSS_REGION },
    ],
    qa: [
      { key: "id", label: "编号", type: TEXT, idField: true },
      { key: "domain", label: "领域", type: TEXT },
      { key: "question", label: "标准问题", type: TEXT },
      { key: "similar", label: "相似问法", type: STRINGS },
      { key: "answer", label: "答案", type: AREA },
      { key: "guide", label: "关联指南编号", type: TEXT, optional: true },
      { key: "keywords", label: "关键词", type: STRINGS },
      { key: "department", label: "部门", type: TEXT, optional: true },
      { key: "category", label: "分类", type: TEXT, optional: true },
    ],
    // 一件事: its elements are computed from the member guides (knowledge_base/bundles.py).
    bundle: [
      { key: "id", label: "编号", type: TEXT, idField: true },
      { key: "domain", label: "领域", type: TEXT },
      { key: "title", label: "一件事名称", type: TEXT },
      { key: "department", label: "牵头部门", type: TEXT },
      { key: "audience", label: "服务对象", type: "checks", options: "audiences" },
      { key: "summary", label: "白话说明", type: AREA },
      { key: "aliases", label: "别名（群众的叫法）", type: STRINGS },
      { key: "keywords", label: "关键词", type: STRINGS },
      { key: "members", label: "一起办的事项（办事指南编号）", type: STRINGS },
      { key: "form", label: "一张表（申请表名称）", type: TEXT },
      { key: "produced", label: "前一事项产生、不用再交的材料", type: STRINGS },
      { key: "merged", label: "合并了什么", type: STRINGS },
      { key: "promised", label: "一件事承诺时限", type: TEXT },
      { key: "location", label: "办理窗口", type: OBJECT, fields: LOCATION },
      { key: "online", label: "网上办理", type: OBJECT, optional: true, fields: ONLINE },
      { key: "faq", label: "常见问题", type: OBJECTS, item: "问题", fields: FAQ },
    ],
    center: [
      { key: "id", label: "编号", type: TEXT, idField: true },
      { key: "domain", label: "领域", type: TEXT },
      { key: "name", label: "名称", type: TEXT },
      { key: "level", label: "级别", type: "select", options: ["区级", "街道", "镇"] },
      { key: "area", label: "服务区域", type: TEXT },
      { key: "places", label: "辖区地名", type: STRINGS },
      { key: "address", label: "地址", type: TEXT },
      { key: "hours", label: "时间", type: TEXT },
      { key: "phone", label: "电话", type: TEXT },
      { key: "services", label: "可办事项", type: STRINGS },
    ],
    // 自助办: a self-service terminal and the guides it serves (models.Terminal).
    terminal: [
      { key: "id", label: "编号", type: TEXT, idField: true },
      { key: "domain", label: "领域", type: TEXT },
      { key: "name", label: "名称", type: TEXT },
      { key: "type", label: "类型", type: "select", options: "terminal_types" },
      { key: "area", label: "所在街道或镇", type: TEXT },
      { key: "place", label: "具体位置", type: TEXT },
      { key: "address", label: "地址", type: TEXT },
      { key: "hours", label: "开放时间", type: TEXT },
      { key: "always_open", label: "24小时开放", type: "bool" },
      { key: "guides", label: "可办事项（办事指南编号）", type: STRINGS },
      { key: "services", label: "其他功能", type: STRINGS },
      { key: "note", label: "说明", type: TEXT, optional: true },
    ],
    // 惠企政策: criteria are matched to a business's profile (knowledge_base/policies.py); none ticked: 不限.
    policy: [
      { key: "id", label: "编号", type: TEXT, idField: true },
      { key: "title", label: "政策名称", type: TEXT },
      { key: "department", label: "兑现部门", type: TEXT },
      { key: "level", label: "政策层级", type: "select", options: "policy_levels" },
      { key: "summary", label: "白话说明", type: AREA },
      { key: "aliases", label: "别名（企业的叫法）", type: STRINGS },
      { key: "criteria", label: "享受条件（不勾选即不限）", type: OBJECT, fields: [
        { key: "industries", label: "行业", type: "checks", options: "industries" },
        { key: "sizes", label: "企业规模", type: "checks", options: "enterprise_sizes" },
        { key: "min_years", label: "成立满几年", type: "years", optional: true },
        { key: "max_years", label: "成立不超过几年", type: "years", optional: true },
        { key: "places", label: "注册地", type: "checks", options: "places" },
        { key: "tax_credit", label: "纳税信用等级", type: "checks", options: "tax_credit_grades" },
        { key: "good_credit", label: "须无失信记录", type: "bool" },
        { key: "qualifications", label: "须具备的资质", type: "checks", options: "qualifications" }] },
      { key: "other_conditions", label: "其他条件（企业须自行确认）", type: STRINGS },
      { key: "benefit", label: "扶持内容", type: AREA },
      { key: "apply", label: "申请方式（免申即享：怎么兑现）", type: AREA },
      { key: "materials", label: "申报材料", type: STRINGS },
      { key: "deadline", label: "截止日期（如 2027-06-30，空为长期有效）", type: TEXT, optional: true },
      { key: "auto", label: "免申即享", type: "bool" },
      { key: "phone", label: "咨询电话", type: TEXT, optional: true },
      { key: "source", label: "政策来源", type: TEXT },
    ],
  };
  const BLANK = {
    guide: { kind: "guide", id: "guide.", audience: ["自然人"], materials: [{ name: "", form: "原件", count: 1, required: true }],
      process: [{ title: "" }], conditions: [""], legal_basis: [""], time_limit: {}, fee: { charged: false, standard: "不收费" }, location: {} },
    qa: { kind: "qa", id: "qa.", similar: ["", "", ""] },
    bundle: { kind: "bundle", id: "bundle.", domain: "bundles", audience: ["自然人"], members: ["guide.", "guide."],
      merged: ["一张表单", "一套材料", "一个窗口"], location: {} },
    center: { kind: "center", id: "center.", domain: "centers", level: "街道", services: [""] },
    terminal: { kind: "terminal", id: "terminal.", domain: "terminals", type: "自助终端", always_open: false, guides: ["guide."] },
    policy: { kind: "policy", id: "policy.", level: "区", criteria: {}, auto: false },
  };

  let meta = null;
  let state = null; // {id, kind, isNew, base_version, expected_edit, entry (GET /api/kb/entries/{id})}
  let form = null; // {get(): data}

  // -- building the form ----------------------------------------------------------------------------
  function options(spec) {
    return Array.isArray(spec.options) ? spec.options : meta[spec.options] || [];
  }

  function field(spec, value, path) {
    const input = (() => {
      switch (spec.type) {
        case AREA: return textInput(el("textarea", { rows: 4 }), value, path);
        case "years": return textInput(el("input", { type: "number", min: 0, max: 100, step: 0.5 }), value, path, (v) => (v === "" ? "" : Number(v)));
        case "number": return textInput(el("input", { type: "number", min: 1, max: 20 }), value ?? 1, path, Number);
        case "bool": return boolInput(value, path);
        case "select": return selectInput(options(spec), value, path);
        case "checks": return checksInput(options(spec), value || [], path);
        case STRINGS: return listInput(spec, value || [], path, (v, p) => textInput(el("input", { type: "text" }), v, p), "");
        case OBJECTS: return listInput(spec, value || [], path, (v, p) => group(spec.fields, v || {}, p), {});
        case OBJECT: return spec.optional ? optionalGroup(spec, value, path) : group(spec.fields, value || {}, path);
        default: return textInput(el("input", { type: "text" }), value, path);
      }
    })();
    const label = el("label", { className: `field field-${spec.type}` }, el("span", { className: "label" }, spec.label), input.node);
    if (spec.idField && state && !state.isNew) input.node.readOnly = true;
    return { node: label, get: input.get };
  }

  function textInput(node, value, path, convert = null) {
    node.value = value === undefined || value === null ? "" : String(value);
    node.dataset.path = path;
    return { node, get: () => (convert ? convert(node.value) : node.value) };
  }

  function boolInput(value, path) {
    const node = el("input", { type: "checkbox", checked: Boolean(value) });
    node.dataset.path = path;
    return { node, get: () => node.checked };
  }

  function selectInput(choices, value, path) {
    const node = el("select", {}, ...choices.map((c) => el("option", { value: c }, c)));
    if (value !== undefined && value !== null) node.value = value;
    node.dataset.path = path;
    return { node, get: () => node.value };
  }

  function checksInput(choices, value, path) {
    const boxes = choices.map((c) => el("input", { type: "checkbox", value: c, checked: value.includes(c) }));
    const node = el("span", { className: "checks", dataset: { path } }, ...boxes.map((b) => el("label", {}, b, b.value)));
    return { node, get: () => boxes.filter((b) => b.checked).map((b) => b.value) };
  }

  function group(fields, value, path) {
    const parts = fields.map((f) => [f, field(f, value[f.key], path ? `${path}.${f.key}` : f.key)]);
    const node = el("fieldset", { className: "group", dataset: { path } }, ...parts.map(([, p]) => p.node));
    return {
      node,
      get: () => {
        const out = {};
        for (const [f, p] of parts) {
          const v = p.get();
          if (f.optional && (v === "" || v === null || v === undefined)) continue;
          out[f.key] = v;
        }
        return out;
      },
    };
  }

  function optionalGroup(spec, value, path) {
    const on = el("input", { type: "checkbox", checked: Boolean(value) });
    const holder = el("div");
    let inner = group(spec.fields, value || { steps: ["", ""] }, path);
    holder.append(inner.node);
    holder.hidden = !value;
    on.addEventListener("change", () => { holder.hidden = !on.checked; });
    const node = el("div", { className: "optional-group" }, el("label", {}, on, `有${spec.label}`), holder);
    return { node, get: () => (on.checked ? inner.get() : undefined) };
  }

  /** A list edited row by row: add, remove, move up/down. */
  function listInput(spec, values, path, makeItem, blank) {
    const rows = [];
    const list = el("ol", { className: "rows", dataset: { path } });
    function redraw() {
      list.replaceChildren();
      rows.forEach((r, i) => {
        const up = el("button", { type: "button", title: "上移", onclick: () => move(i, -1), disabled: i === 0 }, "↑");
        const down = el("button", { type: "button", title: "下移", onclick: () => move(i, 1), disabled: i === rows.length - 1 }, "↓");
        const remove = el("button", { type: "button", title: "删除这一项", className: "remove", onclick: () => { rows.splice(i, 1); redraw(); } }, "删除");
        list.append(el("li", { className: "row" }, r.node, el("span", { className: "row-buttons" }, up, down, remove)));
      });
    }
    function move(i, by) {
      const [r] = rows.splice(i, 1);
      rows.splice(i + by, 0, r);
      redraw();
    }
    function add(value) { rows.push(makeItem(value, `${path}[${rows.length}]`)); }
    values.forEach(add);
    redraw();
    const addButton = el("button", { type: "button", className: "add", onclick: () => {
      add(typeof blank === "object" ? { ...blank } : blank);
      redraw();
      const inputs = list.lastElementChild?.querySelectorAll("input, textarea");
      if (inputs && inputs.length) inputs[0].focus();
    } }, `添加${spec.item || ""}`);
    const node = el("div", { className: "list" }, list, addButton);
    return { node, get: () => rows.map((r) => r.get()).filter((v) => v !== "") };
  }

  function draw(data) {
    const editor = $("editor");
    const kindFields = SCHEMA[state.kind];
    const parts = kindFields.map((f) => [f, field(f, data[f.key], f.key)]);
    editor.replaceChildren(...parts.map(([, p]) => p.node));
    form = {
      get: () => {
        const out = { kind: state.kind };
        for (const [f, p] of parts) {
          const v = p.get();
          if (v === undefined || (f.optional && v === "")) continue;
          out[f.key] = v;
        }
        return out;
      },
    };
  }

  // -- state and actions ---------------------------------------------------------------------------
  function summary() {
    const box = $("summary");
    const e = state.entry;
    const parts = [el("strong", {}, state.isNew ? `新建${Curation.KINDS[state.kind]}` : state.id), " "];
    if (e) {
      parts.push(Curation.badge(e.status));
      if (e.published) parts.push(` 已发布第 ${e.published.version} 版`);
      if (e.draft) {
        parts.push(" ", Curation.badge(e.draft.state), ` 草稿由 ${e.draft.last_editor} 于 ${Curation.when(e.draft.updated_at)} 保存`);
        if (e.draft.state === "rejected" && e.draft.note) parts.push(el("div", { className: "error" }, `退回原因：${e.draft.note}`));
        if (e.published && e.draft.base_version !== e.published.version) {
          parts.push(el("div", { className: "error" }, `这份草稿基于第 ${e.draft.base_version} 版，已发布的已是第 ${e.published.version} 版：保存时会提示冲突，请对照后保存。`));
        }
      }
    }
    box.replaceChildren(...parts);
    const draftState = e && e.draft ? e.draft.state : null;
    $("withdraw").hidden = draftState !== "in_review";
    $("discard").hidden = !draftState;
    const reviewer = ["reviewer", "admin"].includes(Staff.me.role);
    document.querySelector(".reviewer-only").hidden = !reviewer || state.isNew;
    $("archive").hidden = !(e && e.status === "published");
    $("restore").hidden = !(e && e.status === "archived");
    const archived = e && e.status === "archived";
    $("save").disabled = archived;
    $("submit").disabled = archived;
  }

  async function load(id) {
    const entry = await Staff.api("GET", `/api/kb/entries/${encodeURIComponent(id)}`);
    state = { id, kind: null, isNew: false, entry, base_version: null, expected_edit: null };
    let data;
    if (entry.draft) {
      data = entry.draft.data;
      state.kind = entry.draft.kind;
      state.base_version = entry.draft.base_version;
      state.expected_edit = entry.draft.edit;
    } else if (entry.published) {
      data = entry.published.data;
      state.kind = data.kind;
      state.base_version = entry.published.version;
    } else {
      data = entry.archived.data;
      state.kind = data.kind;
    }
    state.isNew = !entry.published && !entry.archived;
    summary();
    draw(data);
    await history();
  }

  function clearProblems() {
    $("problems").hidden = true;
    $("problems").replaceChildren();
    for (const node of document.querySelectorAll(".invalid")) node.classList.remove("invalid");
  }

  function showProblems(err) {
    const box = $("problems");
    box.replaceChildren(el("p", {}, err.message));
    if (Array.isArray(err.details)) {
      const list = el("ul");
      for (const p of err.details) {
        list.append(el("li", {}, `${p.label}（${p.field}）：${p.message}`));
        const node = document.querySelector(`[data-path="${CSS.escape(p.field)}"]`);
        if (node) node.classList.add("invalid");
      }
      box.append(list);
    }
    box.hidden = false;
  }

  /** Someone else saved or published: keep the editor's text, show the stored one and the differences. */
  function showConflict(err, mine) {
    const box = $("conflict");
    const stored = err.details || {};
    const theirs = stored.draft ? stored.draft.data : stored.published ? stored.published.data : null;
    const title = stored.draft ? `${stored.draft.last_editor} 保存的草稿（第 ${stored.draft.edit} 次修改）` : stored.published ? `已发布第 ${stored.published.version} 版` : "最新内容";
    const keep = el("button", { type: "button", id: "keep-mine", onclick: async () => {
      state.base_version = stored.published ? stored.published.version : null;
      state.expected_edit = stored.draft ? stored.draft.edit : null;
      box.hidden = true;
      await save();
    } }, "保留我的内容并保存");
    const reload = el("button", { type: "button", onclick: () => { box.hidden = true; load(state.id); } }, "放弃我的修改，载入最新内容");
    box.replaceChildren(
      el("h2", {}, "保存冲突"),
      el("p", { className: "error" }, err.message),
      el("p", {}, `下表是您的内容与${title}的不同之处。您的内容仍在编辑框中，没有丢失。`),
      Curation.diffTable(Curation.localDiff(theirs, mine, meta.labels), title, "您的内容"),
      el("div", { className: "buttons" }, keep, reload));
    box.hidden = false;
    box.scrollIntoView({ block: "start" });
  }

  async function save() {
    clearProblems();
    const data = form.get();
    const id = state.isNew ? data.id : state.id;
    try {
      const result = await Staff.api("POST", `/api/kb/entries/${encodeURIComponent(id || "")}/draft`, {
        data, base_version: state.base_version, expected_edit: state.expected_edit, note: $("note").value || null,
      });
      state.expected_edit = result.draft.edit;
      if (state.isNew && state.id !== id) {
        state.id = id;
        window.history.replaceState(null, "", `/kb/edit?id=${encodeURIComponent(id)}`);
      }
      await refresh();
      Staff.say(`草稿已保存（${Curation.when(result.draft.updated_at)}）。`);
      return true;
    } catch (err) {
      if (err.code === "conflict") showConflict(err, data);
      else if (err.code === "invalid") showProblems(err);
      Staff.say(err.message, true);
      return false;
    }
  }

  async function refresh() {
    state.entry = await Staff.api("GET", `/api/kb/entries/${encodeURIComponent(state.id)}`);
    if (state.entry.draft) state.expected_edit = state.entry.draft.edit;
    summary();
    await history();
  }

  async function act(path, body, done) {
    try {
      const result = await Staff.api("POST", `/api/kb/entries/${encodeURIComponent(state.id)}/${path}`, body);
      Staff.say(done(result));
      await refresh();
    } catch (err) {
      Staff.say(err.message, true);
    }
  }

  async function submit() {
    if (!(await save())) return;
    await act("submit", { expected_edit: state.expected_edit, note: $("note").value || null }, () => "已提交审核，审核人批准后发布。");
  }

  // -- preview -------------------------------------------------------------------------------------
  async function preview() {
    const question = $("preview-question").value.trim();
    const box = $("preview-answer");
    if (!question) return;
    box.replaceChildren(el("p", { className: "muted" }, "正在试问…"));
    try {
      const result = await Staff.api("POST", "/api/kb/preview", { question, data: form.get() });
      const outcome = { answer: "回答", clarify: "反问", none: "答不上", ask: "追问事项" }[result.outcome] || result.outcome;
      box.replaceChildren(
        el("p", {}, Curation.badge(result.outcome), ` ${outcome}`, result.uses_draft ? "（用的是本草稿）" : result.entry_id ? `（用的是 ${result.entry_id}）` : ""),
        el("pre", { className: "answer" }, result.text),
        el("details", {}, el("summary", {}, "检索结果"),
          el("ol", {}, ...result.hits.map((h) => el("li", {}, `${h.title}（${h.id}）得分 ${h.score}，覆盖 ${Math.round(h.coverage * 100)}%${h.is_draft ? "，草稿" : ""}`)))));
    } catch (err) {
      box.replaceChildren(el("p", { className: "error" }, err.message));
      if (err.code === "invalid") showProblems(err);
    }
  }

  // -- history, diff, rollback ---------------------------------------------------------------------
  async function history() {
    const body = $("history-body");
    if (state.isNew && !state.entry) { body.replaceChildren(el("p", { className: "muted" }, "还没有历史。")); return; }
    let h;
    try {
      h = await Staff.api("GET", `/api/kb/entries/${encodeURIComponent(state.id)}/history`);
    } catch (err) {
      body.replaceChildren(el("p", { className: "muted" }, err.message));
      return;
    }
    const reviewer = ["reviewer", "admin"].includes(Staff.me.role);
    const list = el("table", { className: "history" },
      el("thead", {}, el("tr", {}, el("th", {}, "版本"), el("th", {}, "状态"), el("th", {}, "作者 / 审核"), el("th", {}, "时间"), el("th", {}, "说明"), el("th", {}, ""))));
    const rows = el("tbody");
    for (const r of h.revisions) {
      const cell = el("td");
      if (reviewer && r.published_version && r.published_version !== h.current_version && !h.archived) {
        cell.append(el("button", { type: "button", className: "rollback", dataset: { version: r.published_version }, onclick: () => rollback(r.published_version) }, "回滚到此版"));
      }
      rows.append(el("tr", {},
        el("td", {}, r.published_version ? `第 ${r.published_version} 版` : "草稿"),
        el("td", {}, Curation.badge(r.state)),
        el("td", {}, r.author + (r.reviewer ? ` / ${r.reviewer}` : "")),
        el("td", {}, Curation.when(r.updated_at)),
        el("td", {}, r.note || ""),
        cell));
    }
    list.append(rows);
    const choices = [...h.versions.map((v) => [String(v), `第 ${v} 版`]), ...(state.entry && state.entry.draft ? [["draft", "草稿"]] : [])];
    const from = el("select", { id: "diff-from" }, ...choices.map(([v, t]) => el("option", { value: v }, t)));
    const to = el("select", { id: "diff-to" }, ...choices.map(([v, t]) => el("option", { value: v }, t)));
    if (choices.length > 1) { from.value = choices[1][0]; to.value = choices[0][0]; }
    if (choices.length && choices[choices.length - 1][0] === "draft") { to.value = "draft"; from.value = choices[0][0]; }
    const result = el("div", { id: "diff-result" });
    const compare = el("button", { type: "button", id: "diff-show", onclick: async () => {
      try {
        const d = await Staff.api("GET", `/api/kb/entries/${encodeURIComponent(state.id)}/diff?from=${from.value}&to=${to.value}`);
        result.replaceChildren(Curation.diffTable(d.changes, from.selectedOptions[0].textContent, to.selectedOptions[0].textContent));
      } catch (err) { result.replaceChildren(el("p", { className: "error" }, err.message)); }
    } }, "比较");
    body.replaceChildren(list, choices.length > 1 ? el("p", {}, "比较 ", from, " 与 ", to, " ", compare) : "", result);
  }

  async function rollback(version) {
    const note = window.prompt(`回滚到第 ${version} 版，会发布为新版本。请写明原因：`, "");
    if (note === null) return;
    await act("rollback", { version, note: note || null }, (r) => `已回滚，发布为第 ${r.version} 版。`);
    const entry = await Staff.api("GET", `/api/kb/entries/${encodeURIComponent(state.id)}`);
    if (!entry.draft && entry.published) { state.base_version = entry.published.version; draw(entry.published.data); }
  }

  // -- start ---------------------------------------------------------------------------------------
  async function start() {
    await Staff.start();
    meta = await Staff.api("GET", "/api/kb/meta");
    const params = new URLSearchParams(window.location.search);
    const id = params.get("id");
    if (id) {
      await load(id);
    } else {
      const kind = SCHEMA[params.get("new")] ? params.get("new") : "guide";
      state = { id: null, kind, isNew: true, entry: null, base_version: null, expected_edit: null };
      summary();
      const blank = structuredClone(BLANK[kind]);
      // Opened from a worklist (新建草稿): the citizen's wording (and a helper's answer) prefilled.
      if (kind === "qa") for (const key of ["question", "answer"]) if (params.get(key)) blank[key] = params.get(key);
      draw(blank);
      $("history-body").replaceChildren(el("p", { className: "muted" }, "还没有历史。"));
    }
    $("save").addEventListener("click", save);
    $("submit").addEventListener("click", submit);
    $("withdraw").addEventListener("click", () => act("withdraw", { expected_edit: state.expected_edit }, () => "已撤回，可以继续修改。"));
    $("discard").addEventListener("click", async () => {
      if (!window.confirm("放弃这份草稿？已发布的内容不受影响。")) return;
      await act("discard", { expected_edit: state.expected_edit }, () => "草稿已放弃。");
      if (state.entry && state.entry.published) { state.expected_edit = null; state.base_version = state.entry.published.version; draw(state.entry.published.data); }
    });
    $("archive").addEventListener("click", async () => {
      const note = window.prompt("归档后群众将搜不到这个条目（历史保留，可恢复）。请写明原因：", "");
      if (note !== null) await act("archive", { note: note || null }, () => "已归档。");
    });
    $("restore").addEventListener("click", () => act("restore", {}, (r) => `已恢复，发布为第 ${r.version} 版。`));
    $("preview-ask").addEventListener("click", preview);
    Curation.onEnter($("preview-question"), preview);
  }

  start().catch((err) => Staff.say(err.message, true));
})();
