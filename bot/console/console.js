// The helper console (modelled on a Chatwoot inbox): my conversations first, then the queue, with
// search and filters; claim, live chat over a websocket, private notes, end (hand back).
// Every text goes in with textContent only.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const REASONS = { request_human: "要求人工", fallback: "答不上来", stuck: "办理卡住", complaint: "投诉" };
  const CHANNELS = { webwidget: "网页", telegram: "Telegram", rest: "App" };
  const UNREAD_KEY = "jsb-console-unread";
  const NOTIFY_KEY = "jsb-console-notify";
  const TYPING_SHOWN_MS = 4000; // the widget repeats "typing" at most once a second while keys go down
  const state = {
    csrf: null,
    selected: null,
    selectedData: null,
    mine: new Set(),
    data: { waiting: [], mine: [], first_response_target: 60 },
    loadedAt: 0, // performance.now() when state.data came: the countdowns run on from there
    socket: null,
    refreshTimer: null,
    entryId: null,
    transcript: [],
    unread: loadJson(UNREAD_KEY, {}), // conversation id -> citizen messages not seen yet
    seenWaiting: null, // ids already in the queue (null until the first load: no alert for those)
    endedByMe: new Set(),
    canned: [],
    typingTimer: null,
  };

  function loadJson(key, fallback) {
    try { return JSON.parse(localStorage.getItem(key) || "null") || fallback; } catch (_) { return fallback; }
  }
  function saveJson(key, value) {
    try { localStorage.setItem(key, JSON.stringify(value)); } catch (_) { /* private mode */ }
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  // Server errors are "中文。 / English."; helpers read the Chinese half.
  function chinese(message) { return String(message || "").split(" / ")[0]; }

  function feedback(message, kind) {
    const box = $("feedback");
    box.className = kind || "";
    if (typeof message === "string" || message === undefined || message === null) box.textContent = message ? chinese(message) : "";
    else box.replaceChildren(...message);
  }
  const showError = (message) => feedback(message, "error");

  async function api(path, options) {
    const init = Object.assign({ headers: {} }, options || {});
    if (init.method === "POST") {
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRF-Token"] = state.csrf;
      init.body = JSON.stringify(init.body || {});
    }
    const response = await fetch("/api/helpdesk" + path, init);
    if (response.status === 401) { window.location.assign("/helpdesk/login"); throw new Error("请先登录"); }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(chinese((body.error && body.error.message) || "操作失败，请稍后再试。"));
    return body;
  }

  // ---- first-response countdown (the analytics page's measure: claim -> first helper message) ----
  function clock(seconds) {
    const s = Math.max(0, Math.round(seconds));
    return s < 60 ? `${s} 秒` : `${Math.floor(s / 60)} 分 ${String(s % 60).padStart(2, "0")} 秒`;
  }

  // null once the helper has answered; otherwise {text, overdue}.
  function countdown(item) {
    if (!item || item.first_reply_s !== null || item.claimed_s === undefined) return null;
    const elapsed = item.claimed_s + (performance.now() - state.loadedAt) / 1000;
    const left = Number(state.data.first_response_target || 60) - elapsed;
    return left > 0
      ? { text: `首次响应倒计时 ${clock(left)}`, overdue: false }
      : { text: `⚠ 首次响应已超时 ${clock(-left)}，请尽快回复`, overdue: true };
  }

  function showCountdown(node, item) {
    const shown = countdown(item);
    node.hidden = !shown;
    if (!shown) return;
    node.textContent = shown.text;
    node.classList.toggle("overdue", shown.overdue);
  }

  function tickCountdowns() {
    const byId = new Map(state.data.mine.map((item) => [item.conversation_id, item]));
    for (const node of document.querySelectorAll("small.countdown[data-conversation-id]")) {
      showCountdown(node, byId.get(node.dataset.conversationId));
    }
    showCountdown($("countdown"), state.mine.has(state.selected) ? byId.get(state.selected) : null);
  }
  setInterval(tickCountdowns, 1000);

  function minutes(seconds) { return seconds < 60 ? `${seconds} 秒` : `${Math.floor(seconds / 60)} 分钟`; }

  // ---- the lists: mine first, then the queue; search and filters -----------------------------
  function searchable(item) {
    return [item.service_title, item.summary, item.receipt, REASONS[item.reason], ...(item.last_messages || []).map((m) => m.text)]
      .filter(Boolean).join(" ").toLowerCase();
  }

  function matches(item) {
    const words = $("search").value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const text = searchable(item);
    if (!words.every((word) => text.includes(word))) return false;
    if ($("filter-service").value && (item.service_title || "未指明事项") !== $("filter-service").value) return false;
    if ($("filter-channel").value && item.channel !== $("filter-channel").value) return false;
    return (item.waiting_s || 0) >= Number($("filter-wait").value || 0);
  }

  function card(item, withLast) {
    const li = el("li", null, "card");
    li.dataset.conversationId = item.conversation_id;
    if (item.conversation_id === state.selected) li.classList.add("selected");
    const title = item.service_title || "未指明事项";
    // A real button: reachable with Tab, opened with Enter or Space.
    const open = el("button", null, "card-open");
    open.type = "button";
    open.append(el("strong", `${CHANNELS[item.channel] || item.channel} · ${title}`));
    const unread = state.unread[item.conversation_id] || 0;
    if (unread) {
      const badge = el("span", String(unread), "unread");
      badge.setAttribute("aria-label", `${unread} 条未读`);
      open.append(badge);
    }
    open.append(el("small", `${REASONS[item.reason] || item.reason || ""}${item.step ? ` · 第${item.step}步` : ""} · 等待 ${minutes(item.waiting_s)}`));
    if (item.left_off_hours) open.append(el("small", `非工作时间留言${item.receipt ? `（留言编号 ${item.receipt}）` : ""}，群众可能已离开：回复会保存，群众回来或在 Telegram 上都能收到。`));
    if (item.claimed_s !== undefined) {
      const clockNode = el("small", null, "countdown");
      clockNode.dataset.conversationId = item.conversation_id;
      showCountdown(clockNode, item);
      open.append(clockNode);
    }
    if (item.summary) open.append(el("small", item.summary));
    if (withLast) for (const m of item.last_messages || []) open.append(el("small", `${m.direction === "in" ? "群众" : "助手"}：${m.text}`, "last"));
    open.addEventListener("click", () => select(item.conversation_id).catch((e) => showError(e.message)));
    li.append(open);
    return li;
  }

  function renderLists() {
    const mine = state.data.mine.filter(matches);
    const waiting = state.data.waiting.filter(matches);
    $("mine").replaceChildren(...(mine.length ? mine.map((item) => card(item, false)) : [el("li", "暂无会话", "empty")]));
    $("queue").replaceChildren(...(waiting.length ? waiting.map((item) => card(item, true)) : [el("li", "没有排队的会话", "empty")]));
    const unreadTotal = Object.values(state.unread).reduce((a, b) => a + b, 0);
    $("mine-count").textContent = `（${state.data.mine.length}${unreadTotal ? `，${unreadTotal} 条未读` : ""}）`;
    $("queue-count").textContent = `（${state.data.waiting.length}）`;
    document.title = unreadTotal ? `(${unreadTotal}) 在线帮办 · 济时办` : "在线帮办 · 济时办";
  }

  function renderServiceFilter() {
    const select = $("filter-service");
    const chosen = select.value;
    const titles = new Set([...state.data.mine, ...state.data.waiting].map((item) => item.service_title || "未指明事项"));
    const options = [el("option", "全部事项")];
    options[0].value = "";
    for (const title of [...titles].sort()) { const option = el("option", title); option.value = title; options.push(option); }
    select.replaceChildren(...options);
    select.value = titles.has(chosen) ? chosen : "";
  }

  async function refreshQueue() {
    const data = await api("/queue");
    const before = state.mine;
    state.data = data;
    state.loadedAt = performance.now();
    state.mine = new Set(data.mine.map((item) => item.conversation_id));
    for (const id of Object.keys(state.unread)) if (!state.mine.has(id)) delete state.unread[id];
    saveJson(UNREAD_KEY, state.unread);
    renderServiceFilter();
    renderLists();
    tickCountdowns();
    $("helpers").replaceChildren(...data.helpers.map((h) => el("li", `${h.name}：${h.presence === "online" ? "在线" : "离开"}（${h.active} 个会话）`)));
    $("hours").textContent = data.open_now ? `工作时间：${data.hours}` : `非工作时间（工作时间：${data.hours}）`;
    alertNew(data, before);
    if (state.selected && !state.mine.has(state.selected) && !data.waiting.some((i) => i.conversation_id === state.selected)) {
      showControls(false, false);
    }
  }

  function alertNew(data, mineBefore) {
    const waitingNow = new Set(data.waiting.map((item) => item.conversation_id));
    if (state.seenWaiting !== null) {
      const fresh = data.waiting.filter((item) => !state.seenWaiting.has(item.conversation_id));
      if (fresh.length) notify("新的排队会话", `${fresh[0].service_title || "未指明事项"}${fresh.length > 1 ? ` 等 ${fresh.length} 个` : ""}`);
      const assigned = data.mine.filter((item) => !mineBefore.has(item.conversation_id) && !state.claiming);
      if (assigned.length) notify("有会话转给了您", assigned[0].service_title || "未指明事项");
    }
    state.seenWaiting = waitingNow;
  }

  function scheduleRefresh() {
    // Many events in a burst (a busy queue) become one request.
    if (state.refreshTimer) return;
    state.refreshTimer = setTimeout(() => { state.refreshTimer = null; refreshQueue().catch((e) => showError(e.message)); }, 200);
  }

  // ---- opt-in sound and desktop notification -------------------------------------------------
  function notify(title, body) {
    if (!$("notify").checked) return;
    try {
      const audio = new (window.AudioContext || window.webkitAudioContext)();
      const tone = audio.createOscillator();
      tone.frequency.value = 880;
      tone.connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.2);
    } catch (_) { /* no audio: the desktop notification still comes */ }
    if ("Notification" in window && Notification.permission === "granted") new Notification(title, { body, tag: "jsb-helpdesk" });
  }

  $("notify").checked = loadJson(NOTIFY_KEY, false) === true;
  $("notify").addEventListener("change", async () => {
    if ($("notify").checked && "Notification" in window && Notification.permission === "default") await Notification.requestPermission();
    saveJson(NOTIFY_KEY, $("notify").checked);
  });

  // ---- the open conversation -----------------------------------------------------------------
  function addMessage(message) {
    const list = $("transcript");
    if (list.querySelector(`[data-seq="${Number(message.seq)}"]`)) return;
    const who = message.direction === "in" ? "群众" : message.helper ? `帮办 ${message.helper}` : message.kind === "notice" ? "系统" : "智能助手";
    const classes = [message.direction, message.helper ? "helper" : "", message.kind === "notice" ? "notice" : ""].join(" ");
    const li = el("div", null, classes);
    li.dataset.seq = String(message.seq);
    li.append(el("b", `${who}：`), el("span", message.text));
    state.transcript.push(message);
    list.append(li);
    list.scrollTop = list.scrollHeight;
  }

  function addNote(note) {
    const list = $("notes");
    if (list.querySelector(`[data-note="${Number(note.id)}"]`)) return;
    list.querySelector(".empty")?.remove();
    const li = el("li", null, "note");
    li.dataset.note = String(note.id);
    li.append(el("b", `${note.helper}：`), el("span", note.text));
    list.append(li);
  }

  function renderEarlier(earlier) {
    if (!earlier.length) { $("earlier").replaceChildren(el("li", "没有以前的会话", "empty")); return; }
    $("earlier").replaceChildren(...earlier.map((item) => {
      const li = el("li");
      li.append(el("strong", item.created_at.slice(0, 10)));
      for (const text of item.asked) li.append(el("small", `问：${text}`));
      if (item.helpers.length) li.append(el("small", `帮办：${item.helpers.join("、")}`));
      return li;
    }));
  }

  function showControls(waiting, mine) {
    $("claim").hidden = !waiting;
    $("end").hidden = !mine;
    $("reply").hidden = !mine;
    $("tools").hidden = !mine;
  }

  async function select(conversationId) {
    state.selected = conversationId;
    feedback("");
    const data = await api(`/conversations/${encodeURIComponent(conversationId)}`);
    state.selectedData = data;
    const handoff = data.handoff || {};
    $("chat-title").textContent = `${CHANNELS[data.channel] || data.channel} · ${handoff.service_title || "未指明事项"}${handoff.summary ? " — " + handoff.summary : ""}`;
    $("transcript").replaceChildren();
    state.transcript = [];
    data.messages.forEach(addMessage);
    $("notes").replaceChildren(el("li", "还没有备注", "empty"));
    (data.notes || []).forEach(addNote);
    renderEarlier(data.earlier || []);
    $("typing").hidden = true;
    showControls(data.state === "waiting_helper", data.mine);
    $("side").hidden = false;
    $("note-form").hidden = false;
    if (state.unread[conversationId]) { delete state.unread[conversationId]; saveJson(UNREAD_KEY, state.unread); }
    renderLists();
    tickCountdowns();
    // Phones show one column: bring the opened conversation into view below the lists.
    if (window.matchMedia("(max-width: 700px)").matches) $("chat").scrollIntoView();
  }

  function visibleIds() {
    return [...document.querySelectorAll("#mine li.card, #queue li.card")].map((li) => li.dataset.conversationId);
  }

  function selectNeighbour(step) {
    const ids = visibleIds();
    if (!ids.length) return;
    const at = ids.indexOf(state.selected);
    const next = ids[(at + step + ids.length) % ids.length] || ids[0];
    select(next).then(() => document.querySelector(`li.card[data-conversation-id="${next}"] .card-open`)?.focus())
      .catch((e) => showError(e.message));
  }

  // ---- the console websocket -----------------------------------------------------------------
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/api/helpdesk/ws`);
    state.socket = socket;
    socket.addEventListener("open", () => { $("connection").textContent = "已连接"; });
    socket.addEventListener("close", () => {
      $("connection").textContent = "连接已断开，正在重连…";
      setTimeout(connect, 2000);
    });
    socket.addEventListener("message", (event) => onFrame(JSON.parse(event.data)));
  }

  function onFrame(frame) {
    if (frame.type === "ready") refreshQueue().catch((e) => showError(e.message));
    else if (frame.type === "queue_changed") scheduleRefresh();
    else if (frame.type === "message") {
      if (frame.conversation_id === state.selected) {
        addMessage(frame.message);
        if (frame.message.direction === "in") $("typing").hidden = true;
      } else if (frame.message.direction === "in" && state.mine.has(frame.conversation_id)) {
        state.unread[frame.conversation_id] = (state.unread[frame.conversation_id] || 0) + 1;
        saveJson(UNREAD_KEY, state.unread);
      }
      scheduleRefresh();
    } else if (frame.type === "typing") {
      if (frame.conversation_id !== state.selected) return;
      $("typing").hidden = !frame.on;
      clearTimeout(state.typingTimer);
      state.typingTimer = setTimeout(() => { $("typing").hidden = true; }, TYPING_SHOWN_MS);
    } else if (frame.type === "note") {
      if (frame.conversation_id === state.selected) addNote(frame.note);
    } else if (frame.type === "ended") {
      if (frame.conversation_id === state.selected && !state.endedByMe.has(frame.conversation_id)) {
        showControls(false, false);
        feedback("群众已结束人工帮办，或会话已转给其他帮办人员。", "info");
      }
      scheduleRefresh();
    } else if (frame.type === "error") showError(frame.message);
  }

  // ---- actions -------------------------------------------------------------------------------
  async function claim() {
    if (!state.selected || $("claim").hidden) return;
    state.claiming = true;
    try {
      await api(`/conversations/${encodeURIComponent(state.selected)}/claim`, { method: "POST" });
      await refreshQueue();
      await select(state.selected);
      feedback("已接手，群众已收到“帮办人员已接入”。", "ok");
      $("reply-text").focus();
    } catch (e) { showError(e.message); }
    finally { state.claiming = false; }
  }

  async function end() {
    if (!state.selected || $("end").hidden) return;
    const id = state.selected;
    state.endedByMe.add(id);
    try {
      await api(`/conversations/${encodeURIComponent(id)}/end`, { method: "POST" });
      // The conversation is the assistant's again: the transcript stays readable, the controls go.
      showControls(false, false);
      $("note-form").hidden = true;
      feedback("已结束，会话已交还智能助手，群众可以为这次帮办评价。", "ok");
      await refreshQueue();
    } catch (e) { state.endedByMe.delete(id); showError(e.message); }
  }

  $("claim").addEventListener("click", claim);
  $("end").addEventListener("click", end);
  $("reply").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("reply-text").value;
    if (!text.trim() || !state.socket || state.socket.readyState !== WebSocket.OPEN) return;
    if (state.entryId) {
      // A knowledge-base entry goes over HTTP with its id, so the citizen can rate it.
      api(`/conversations/${encodeURIComponent(state.selected)}/messages`, { method: "POST", body: { text, entry_id: state.entryId } })
        .catch((e) => showError(e.message));
      state.entryId = null;
    } else {
      state.socket.send(JSON.stringify({ type: "send", conversation_id: state.selected, text, csrf: state.csrf }));
    }
    $("reply-text").value = "";
  });
  $("reply-text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) { event.preventDefault(); $("reply").requestSubmit(); }
  });
  $("note-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("note-text").value;
    if (!text.trim() || !state.selected) return;
    try {
      const body = await api(`/conversations/${encodeURIComponent(state.selected)}/notes`, { method: "POST", body: { text } });
      addNote(body.note);
      $("note-text").value = "";
      feedback("已添加内部备注（群众看不到）。", "ok");
    } catch (e) { showError(e.message); }
  });
  $("presence").addEventListener("change", () => {
    api("/presence", { method: "POST", body: { presence: $("presence").value } }).catch((e) => showError(e.message));
  });
  $("logout").addEventListener("click", async () => {
    await api("/logout", { method: "POST" }).catch(() => {});
    window.location.assign("/helpdesk/login");
  });
  for (const id of ["search", "filter-service", "filter-channel", "filter-wait"]) {
    $(id).addEventListener(id === "search" ? "input" : "change", renderLists);
  }

  // Alt+J / Alt+K next / previous conversation, Alt+C claim, Alt+E end (Enter sends in the reply box).
  document.addEventListener("keydown", (event) => {
    if (!event.altKey || event.ctrlKey || event.metaKey) return;
    const action = { KeyJ: () => selectNeighbour(1), KeyK: () => selectNeighbour(-1), KeyC: claim, KeyE: end }[event.code];
    if (!action) return;
    event.preventDefault();
    action();
  });

  $("reply-text").addEventListener("input", () => { if (!$("reply-text").value) state.entryId = null; });

  function renderCanned() {
    const words = $("canned-search").value.trim().split(/\s+/).filter(Boolean);
    const found = state.canned.filter((text) => words.every((word) => text.includes(word)));
    $("canned").replaceChildren(...(found.length ? found.map((text) => {
      const li = el("li");
      const use = el("button", text, "canned-use");
      use.type = "button";
      use.addEventListener("click", () => { $("reply-text").value = text; state.entryId = null; $("reply-text").focus(); });
      li.append(use);
      return li;
    }) : [el("li", "没有匹配的常用回复", "empty")]));
  }
  $("canned-search").addEventListener("input", renderCanned);

  $("kb-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const data = await api(`/kb?q=${encodeURIComponent($("kb-query").value)}`);
      $("kb-hits").replaceChildren(...(data.hits.length ? data.hits.map((hit) => {
        const li = el("li");
        const use = el("button", "使用");
        use.type = "button";
        use.addEventListener("click", () => { $("reply-text").value = hit.answer; state.entryId = hit.id; });
        li.append(el("strong", hit.title), el("small", hit.snippet || hit.answer), use);
        return li;
      }) : [el("li", "知识库里没有找到，换个说法试试。", "empty")]));
    } catch (e) { showError(e.message); }
  });
  $("transfer").addEventListener("click", async () => {
    const to = $("transfer-to").value.trim();
    try {
      state.endedByMe.add(state.selected);
      await api(`/conversations/${encodeURIComponent(state.selected)}/transfer`, { method: "POST", body: { to } });
      showControls(false, false);
      feedback(`已转给 ${to}。`, "ok");
      await refreshQueue();
    } catch (e) { state.endedByMe.delete(state.selected); showError(e.message); }
  });
  $("draft").addEventListener("click", async () => {
    // The citizen's last question and the helper's last answer become a draft for staff review.
    const question = [...state.transcript].reverse().find((m) => m.direction === "in");
    const answer = [...state.transcript].reverse().find((m) => m.helper);
    if (!question || !answer) { showError("需要先有群众的问题和您的回答。"); return; }
    try {
      await api(`/conversations/${encodeURIComponent(state.selected)}/drafts`, { method: "POST", body: { question: question.text, answer: answer.text } });
      const submitted = el("dl", null, "draft-sent");
      submitted.append(el("dt", "问题"), el("dd", question.text), el("dt", "回答"), el("dd", answer.text));
      feedback([el("span", "已提交知识库草稿，等待工作人员审核："), submitted], "ok");
    } catch (e) { showError(e.message); }
  });

  api("/canned").then((data) => { state.canned = data.replies; renderCanned(); }).catch(() => {});

  api("/me").then((me) => {
    state.csrf = me.csrf;
    $("me").textContent = `${me.name}（${me.role === "admin" ? "管理员" : "帮办"}）`;
    connect();
  }).catch((e) => showError(e.message));
})();
