// The helper console: queue, claim, live chat over a websocket, end (hand back).  textContent only.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const REASONS = { request_human: "要求人工", fallback: "答不上来", stuck: "办理卡住", complaint: "投诉" };
  const CHANNELS = { webwidget: "网页", telegram: "Telegram", rest: "App" };
  const state = { csrf: null, selected: null, mine: new Set(), socket: null, refreshTimer: null, entryId: null, transcript: [] };

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function showError(message) { $("error").textContent = message || ""; }

  async function api(path, options) {
    const init = Object.assign({ headers: {} }, options || {});
    if (init.method === "POST") {
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRF-Token"] = state.csrf;
      init.body = JSON.stringify(init.body || {});
    }
    const response = await fetch("/api/helpdesk" + path, init);
    if (response.status === 401) { window.location.assign("/helpdesk/login"); throw new Error("login"); }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error((body.error && body.error.message) || "操作失败");
    return body;
  }

  function minutes(seconds) { return seconds < 60 ? `${seconds} 秒` : `${Math.floor(seconds / 60)} 分钟`; }

  function summaryItem(item, withLast) {
    const li = el("li");
    li.dataset.conversationId = item.conversation_id;
    if (item.conversation_id === state.selected) li.classList.add("selected");
    const title = item.service_title || "未指明事项";
    li.append(el("strong", `${CHANNELS[item.channel] || item.channel} · ${title}`));
    li.append(el("small", `${REASONS[item.reason] || item.reason || ""}${item.step ? ` · 第${item.step}步` : ""} · 等待 ${minutes(item.waiting_s)}`));
    if (item.left_off_hours) li.append(el("small", "非工作时间留言，群众可能已离开：回复会保存，群众回来或在 Telegram 上都能收到。"));
    if (item.summary) li.append(el("small", item.summary));
    if (withLast) for (const m of item.last_messages || []) li.append(el("small", `${m.direction === "in" ? "群众" : "助手"}：${m.text}`, "last"));
    li.addEventListener("click", () => select(item.conversation_id));
    return li;
  }

  async function refreshQueue() {
    const data = await api("/queue");
    $("queue").replaceChildren(...data.waiting.map((item) => summaryItem(item, true)));
    $("mine").replaceChildren(...data.mine.map((item) => summaryItem(item, false)));
    $("helpers").replaceChildren(...data.helpers.map((h) => el("li", `${h.name}：${h.presence === "online" ? "在线" : "离开"}（${h.active} 个会话）`)));
    state.mine = new Set(data.mine.map((item) => item.conversation_id));
    $("hours").textContent = data.open_now ? `工作时间：${data.hours}` : `非工作时间（工作时间：${data.hours}）`;
    if (state.selected && !state.mine.has(state.selected) && !data.waiting.some((i) => i.conversation_id === state.selected)) {
      $("reply").hidden = true; $("end").hidden = true; $("claim").hidden = true; $("tools").hidden = true;
    }
  }

  function scheduleRefresh() {
    // Many events in a burst (a busy queue) become one request.
    if (state.refreshTimer) return;
    state.refreshTimer = setTimeout(() => { state.refreshTimer = null; refreshQueue().catch((e) => showError(e.message)); }, 200);
  }

  function addMessage(message) {
    const list = $("transcript");
    if (list.querySelector(`[data-seq="${Number(message.seq)}"]`)) return;
    const who = message.direction === "in" ? "群众" : message.helper ? `帮办 ${message.helper}` : message.kind === "notice" ? "系统" : "智能助手";
    const classes = [message.direction, message.helper ? "helper" : "", message.kind === "notice" ? "notice" : ""].join(" ");
    const li = el("li", null, classes);
    li.dataset.seq = String(message.seq);
    li.append(el("b", `${who}：`), el("span", message.text));
    state.transcript.push(message);
    list.append(li);
    list.scrollTop = list.scrollHeight;
  }

  async function select(conversationId) {
    state.selected = conversationId;
    showError("");
    const data = await api(`/conversations/${encodeURIComponent(conversationId)}`);
    const handoff = data.handoff || {};
    $("chat-title").textContent = `${CHANNELS[data.channel] || data.channel} · ${handoff.service_title || "未指明事项"}${handoff.summary ? " — " + handoff.summary : ""}`;
    $("transcript").replaceChildren();
    state.transcript = [];
    data.messages.forEach(addMessage);
    $("claim").hidden = data.state !== "waiting_helper";
    $("end").hidden = !data.mine;
    $("reply").hidden = !data.mine;
    $("tools").hidden = !data.mine;
    for (const li of document.querySelectorAll("nav li")) li.classList.toggle("selected", li.dataset.conversationId === conversationId);
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/api/helpdesk/ws`);
    state.socket = socket;
    socket.addEventListener("open", () => { $("connection").textContent = "已连接"; });
    socket.addEventListener("close", () => {
      $("connection").textContent = "连接已断开，正在重连…";
      setTimeout(connect, 2000);
    });
    socket.addEventListener("message", (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type === "ready") { refreshQueue().catch((e) => showError(e.message)); }
      else if (frame.type === "queue_changed") scheduleRefresh();
      else if (frame.type === "message") {
        if (frame.conversation_id === state.selected) addMessage(frame.message);
        scheduleRefresh();
      } else if (frame.type === "ended") {
        if (frame.conversation_id === state.selected) { $("reply").hidden = true; $("end").hidden = true; showError("会话已结束或已转出。"); }
        scheduleRefresh();
      } else if (frame.type === "error") showError(frame.message);
    });
  }

  $("claim").addEventListener("click", async () => {
    try { await api(`/conversations/${encodeURIComponent(state.selected)}/claim`, { method: "POST" }); await select(state.selected); await refreshQueue(); }
    catch (e) { showError(e.message); }
  });
  $("end").addEventListener("click", async () => {
    try { await api(`/conversations/${encodeURIComponent(state.selected)}/end`, { method: "POST" }); await select(state.selected); await refreshQueue(); }
    catch (e) { showError(e.message); }
  });
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
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); $("reply").requestSubmit(); }
  });
  $("presence").addEventListener("change", () => {
    api("/presence", { method: "POST", body: { presence: $("presence").value } }).catch((e) => showError(e.message));
  });
  $("logout").addEventListener("click", async () => {
    await api("/logout", { method: "POST" }).catch(() => {});
    window.location.assign("/helpdesk/login");
  });

  $("reply-text").addEventListener("input", () => { if (!$("reply-text").value) state.entryId = null; });
  $("canned").addEventListener("change", () => {
    if ($("canned").value) { $("reply-text").value = $("canned").value; state.entryId = null; }
    $("canned").value = "";
  });
  $("kb-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const data = await api(`/kb?q=${encodeURIComponent($("kb-query").value)}`);
      $("kb-hits").replaceChildren(...data.hits.map((hit) => {
        const li = el("li");
        const use = el("button", "使用");
        use.type = "button";
        use.addEventListener("click", () => { $("reply-text").value = hit.answer; state.entryId = hit.id; });
        li.append(el("strong", hit.title), el("small", hit.snippet || hit.answer), use);
        return li;
      }));
    } catch (e) { showError(e.message); }
  });
  $("transfer").addEventListener("click", async () => {
    try { await api(`/conversations/${encodeURIComponent(state.selected)}/transfer`, { method: "POST", body: { to: $("transfer-to").value } }); await refreshQueue(); }
    catch (e) { showError(e.message); }
  });
  $("draft").addEventListener("click", async () => {
    // The citizen's last question and the helper's last answer become a draft for staff review.
    const question = [...state.transcript].reverse().find((m) => m.direction === "in");
    const answer = [...state.transcript].reverse().find((m) => m.helper);
    if (!question || !answer) { showError("需要先有群众的问题和您的回答。"); return; }
    try { await api(`/conversations/${encodeURIComponent(state.selected)}/drafts`, { method: "POST", body: { question: question.text, answer: answer.text } }); showError("已提交知识库草稿，等待审核。"); }
    catch (e) { showError(e.message); }
  });

  api("/canned").then((data) => {
    for (const text of data.replies) { const option = el("option", text); option.value = text; $("canned").append(option); }
  }).catch(() => {});

  api("/me").then((me) => {
    state.csrf = me.csrf;
    $("me").textContent = `${me.name}（${me.role === "admin" ? "管理员" : "帮办"}）`;
    connect();
  }).catch((e) => showError(e.message));
})();
