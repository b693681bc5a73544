/*
 * 济时办 chat widget.  Embed with one tag (see docs/widget.md):
 *   <script src="https://<bot-service>/widget/widget.js" defer></script>
 * Optional attributes: data-title="…" data-open="true" data-server="https://<bot-service>"
 *
 * Plain modern JavaScript, no build step, no third-party code.  Every message is rendered with
 * textContent / createElement only: no HTML from a message is ever parsed or executed.
 */
(() => {
  "use strict";

  const script = document.currentScript;
  if (!script || window.JSBWidget) return; // loaded twice: keep the first
  const scriptUrl = new URL(script.src, location.href);
  const server = new URL(script.dataset.server || scriptUrl.origin);
  const staticBase = new URL(".", scriptUrl);
  const wsUrl = `${server.protocol === "https:" ? "wss:" : "ws:"}//${server.host}/ws`;
  const TITLE = script.dataset.title || "济时办 · 政务服务智能助手";
  const STORE_KEY = `jsb-widget:${server.host}`;
  const RATE_PROMPT = { answer: "这个回答您满意吗？", helper: "请为这次人工帮办评价：" };
  const BACK_TO_BOT = { title: "继续问智能助手", payload: "/jsb_back_to_bot" }; // bot/texts.py
  const NOT_SENT = "未发送：";
  const MAX_SENDS = 5; // sockets one message is sent on before the widget stops trying
  const LINK = /https?:\/\/[^\s<>"'，。；！？、）)\]]+/g;

  // ---- persistent state (localStorage may be blocked: then we live in memory) -------------
  const saved = load();
  const state = {
    conversationId: saved.conversationId || null,
    visitorId: saved.visitorId || randomId(),
    elder: Boolean(saved.elder),
    outbox: Array.isArray(saved.outbox) ? saved.outbox : [], // not yet acknowledged by the server
    messages: new Map(), // seq -> message
    failedItems: [], // refused by the server, shown with the reason
    maxChars: 4000,
    open: false,
    wasOpen: Boolean(saved.open), // the panel was open before the reload: open it again
    readSeq: Number(saved.readSeq) || 0, // the newest answer the citizen has seen (for the badge)
    status: null, // the live handoff status: queue position and expected wait, or the helper
    intro: null, // greeting, 猜你想问, service hours, hotline (from the welcome frame)
  };

  function load() {
    try {
      return JSON.parse(localStorage.getItem(STORE_KEY) || "{}") || {};
    } catch (_) {
      return {};
    }
  }
  function persist() {
    try {
      localStorage.setItem(
        STORE_KEY,
        JSON.stringify({
          conversationId: state.conversationId,
          visitorId: state.visitorId,
          elder: state.elder,
          outbox: state.outbox,
          open: state.open,
          readSeq: state.readSeq,
        }),
      );
    } catch (_) {
      /* private mode: history still comes back while the page is open */
    }
  }
  function randomId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
    return Array.from({ length: 32 }, () => Math.floor(Math.random() * 16).toString(16)).join("");
  }

  // ---- DOM (inside a shadow root, so the portal's CSS and ours never mix) -----------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  function chatIcon() {
    // A speech bubble drawn in SVG (no emoji font needed).
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("class", "launcher-icon");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2H10l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z");
    path.setAttribute("fill", "currentColor");
    svg.append(path);
    return svg;
  }

  const host = el("div", { id: "jsb-widget", "data-jsb-widget": "" });
  const root = host.attachShadow({ mode: "open" });
  root.append(el("link", { rel: "stylesheet", href: new URL("widget.css", staticBase).href }));

  const launcher = el(
    "button",
    {
      class: "launcher",
      type: "button",
      "aria-expanded": "false",
      "aria-controls": "jsb-panel",
      "aria-label": "打开政务服务智能助手",
    },
    chatIcon(),
    el("span", { class: "launcher-text", text: "在线咨询" }),
  );
  const badge = el("span", { class: "badge", hidden: true, "aria-hidden": "true" });
  launcher.append(badge);

  const elderButton = el("button", {
    class: "tool elder-toggle",
    type: "button",
    "aria-pressed": "false",
    text: "长辈模式",
    title: "大字号、高对比度",
  });
  const closeButton = el("button", { class: "tool close", type: "button", "aria-label": "关闭对话窗口", text: "×" });
  const status = el("div", { class: "status", role: "status", "aria-live": "polite" });
  const log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": "对话记录", tabindex: "0" });
  const typing = el(
    "div",
    { class: "typing", hidden: true, "aria-live": "polite" },
    el("span", { class: "dots", "aria-hidden": "true" }, el("i"), el("i"), el("i")),
    el("span", { text: "助手正在输入…" }),
  );
  const input = el("textarea", {
    id: "jsb-input",
    class: "input",
    rows: "2",
    placeholder: "请输入您的问题，按回车发送",
    "aria-describedby": "jsb-counter",
    enterkeyhint: "send",
  });
  const counter = el("span", { id: "jsb-counter", class: "counter", "aria-live": "polite" });
  const sendButton = el("button", { class: "send", type: "submit", text: "发送" });
  const form = el(
    "form",
    { class: "composer", "aria-label": "发送消息" },
    el("label", { class: "sr-only", for: "jsb-input", text: "输入您的问题" }),
    input,
    el("div", { class: "composer-side" }, counter, sendButton),
  );
  const panel = el(
    "section",
    { id: "jsb-panel", class: "panel", role: "dialog", "aria-modal": "false", "aria-labelledby": "jsb-title", hidden: true },
    el(
      "header",
      { class: "header" },
      el("h2", { id: "jsb-title", class: "title", text: TITLE }),
      el("div", { class: "tools" }, elderButton, closeButton),
    ),
    status,
    log,
    typing,
    form,
    el("p", { class: "privacy", text: "为保护您的隐私，请不要发送身份证号、银行卡号等个人信息。" }),
  );
  const frame = el("div", { class: "jsb" }, panel, launcher);
  root.append(frame);

  // ---- rendering -----------------------------------------------------------------------------
  function textWithLinks(text) {
    // Only text nodes and <a href="http(s)…">; the text itself is never parsed as HTML.
    const fragment = document.createDocumentFragment();
    let last = 0;
    for (const match of text.matchAll(LINK)) {
      if (match.index > last) fragment.append(document.createTextNode(text.slice(last, match.index)));
      const link = el("a", { href: match[0], target: "_blank", rel: "noopener noreferrer nofollow" });
      link.textContent = match[0];
      fragment.append(link);
      last = match.index + match[0].length;
    }
    if (last < text.length) fragment.append(document.createTextNode(text.slice(last)));
    return fragment;
  }

  function speaker(message) {
    if (message.direction === "in") return "我说：";
    if (message.helper) return `人工帮办${message.helper}说：`;
    return message.kind === "notice" ? "系统提示：" : "助手说：";
  }

  function renderMessage(message) {
    const mine = message.direction === "in";
    const helper = !mine && message.helper;
    const item = el("div", {
      class: `msg ${mine ? "mine" : "bot"}${message.kind === "notice" ? " notice" : ""}${helper ? " helper" : ""}`,
      "data-seq": message.seq ?? "",
      "data-client-id": message.client_id || "",
    });
    if (helper) item.append(el("span", { class: "who", "aria-hidden": "true", text: `人工帮办 · ${message.helper}` }));
    const bubble = el("div", { class: "bubble" });
    bubble.append(el("span", { class: "sr-only", text: speaker(message) }));
    bubble.append(textWithLinks(message.text));
    item.append(bubble);
    if (message.failed) item.append(el("p", { class: "failed", role: "alert", text: message.failed }));
    if (message.pending) item.append(el("p", { class: "sending", text: "发送中…" }));

    if (!mine && message.buttons && message.buttons.length) {
      const group = el("div", { class: "quick-replies", role: "group", "aria-label": "可选的回复" });
      for (const button of message.buttons) {
        group.append(
          el("button", {
            type: "button",
            class: "quick-reply",
            text: button.title,
            onclick: () => sendMessage(button.title, button.payload),
          }),
        );
      }
      item.append(group);
    }
    if (!mine && message.entry && message.entry.kind === "guide") item.append(renderGuideLinks(message.entry));
    const target = mine ? null : message.entry ? "answer" : message.rate === "helper" ? "helper" : null;
    if (target && rating.levels.length) item.append(renderRating(message, target));
    return item;
  }

  function renderGuideLinks(entry) {
    // The whole 办事指南 (this answer is one part of it) and, for online answers, its 网上办理 entry.
    const page = new URL(`/guides/${encodeURIComponent(entry.id)}`, server).href;
    const links = el("p", { class: "guide-links" });
    links.append(el("a", { href: page, target: "_blank", rel: "noopener noreferrer", text: "查看完整办事指南" }));
    if (entry.element === "online") {
      links.append(el("a", { href: `${page}#online`, target: "_blank", rel: "noopener noreferrer", text: "在线办理入口" }));
    }
    return links;
  }

  // ---- 好差评: five levels, a reason on the low ones; a state on the message, never a chat bubble ----
  // The levels and reasons come from the server's welcome frame (bot/ratings.py).
  const rating = { levels: [], low: 2, reasons: [] };
  const ratingDrafts = new Map(); // seq -> {reason, comment, sent}: survives redraws

  function renderRating(message, target) {
    const about = target === "answer" ? `回答“${message.entry.title}”` : "这次人工帮办";
    const chosen = Number(message.rating) || 0;
    const box = el("div", { class: "rating", "data-rating-seq": message.seq });
    const levels = el("div", { class: "rating-levels", role: "group", "aria-label": `评价${about}` });
    levels.append(el("span", { class: "rating-prompt", text: RATE_PROMPT[target] }));
    for (const [level, name] of rating.levels) {
      levels.append(
        el("button", {
          type: "button",
          class: `rate rate-${level}${chosen === level ? " chosen" : ""}`,
          "aria-label": `${name}：${about}`,
          "aria-pressed": chosen === level ? "true" : "false",
          text: name,
          onclick: () => rate(message, level),
        }),
      );
    }
    box.append(levels);
    if (chosen) {
      const name = rating.levels.find(([level]) => level === chosen)?.[1] || "";
      box.append(el("span", { class: "rated", role: "status", text: `已评价：${name}` }));
    }
    if (chosen && chosen <= rating.low) box.append(renderReasons(message, chosen));
    return box;
  }

  function renderWelcome(intro) {
    // Shown on open, before and above the conversation; not stored as a message.
    const item = el("div", { class: "welcome" });
    item.append(el("p", { class: "greeting", text: intro.greeting }));
    if (intro.hot_questions && intro.hot_questions.length) {
      item.append(el("h3", { id: "jsb-hot", class: "hot-title", text: "猜你想问" }));
      const list = el("ul", { class: "hot", "aria-labelledby": "jsb-hot" });
      for (const question of intro.hot_questions) {
        list.append(el("li", {}, el("button", { type: "button", class: "hot-question", text: question, onclick: () => sendMessage(question) })));
      }
      item.append(list);
    }
    item.append(el("p", { class: "hours", text: `人工帮办服务时间：${intro.hours}` }));
    item.append(el("p", { class: "hotline" }, "也可拨打政务服务便民热线 ", el("a", { href: `tel:${intro.hotline}`, text: intro.hotline })));
    return item;
  }

  function minutesText(seconds) {
    return `${Math.max(1, Math.round(seconds / 60))} 分钟`;
  }

  function renderHandoffCard(status) {
    // ONE live card for the whole handoff (replacing the separate queue notices), updated in place.
    const card = el("div", { class: "queue-card", "data-state": status.state });
    if (status.state === "waiting_helper") {
      card.append(el("p", { class: "card-title", text: status.off_hours ? "已为您登记留言" : "正在为您转接人工帮办" }));
      if (status.off_hours) {
        card.append(el("p", { text: `现在是非工作时间（人工帮办服务时间：${status.hours}）。请直接留言，帮办人员上班后会在这里回复您。` }));
        if (status.receipt) card.append(el("p", { class: "receipt", text: `留言编号：${status.receipt}` }));
      } else {
        const wait = status.expected_wait_s ? `，预计等待约 ${minutesText(status.expected_wait_s)}` : "";
        card.append(el("p", { class: "position", text: `您现在排在第 ${status.position} 位${wait}。` }));
        card.append(el("p", { text: "排队期间可以继续向智能助手提问，排队位置不变。" }));
      }
    } else {
      card.append(el("p", { class: "card-title", text: `人工帮办${status.helper ? ` ${status.helper} ` : ""}正在为您服务` }));
    }
    card.append(el("p", { class: "hotline" }, "着急的话可拨打政务服务便民热线 ", el("a", { href: `tel:${status.hotline}`, text: status.hotline })));
    const leave = status.state === "waiting_helper" ? "继续问智能助手（取消排队）" : "结束人工，继续问智能助手";
    card.append(el("button", { type: "button", class: "quick-reply card-action", text: leave, onclick: () => sendMessage(BACK_TO_BOT.title, BACK_TO_BOT.payload) }));
    return card;
  }

  function handoffActive() {
    return Boolean(state.status && (state.status.state === "waiting_helper" || state.status.state === "with_helper"));
  }

  function renderReasons(message, level) {
    // The server says whether this level's reason was already given (a reload keeps the thanks).
    const draft = ratingDrafts.get(message.seq) || { reason: null, comment: "", sent: Boolean(message.rating_noted) };
    ratingDrafts.set(message.seq, draft);
    if (draft.sent) return el("p", { class: "rating-thanks", text: "已收到您的意见，我们会尽快核实整改。" });
    const form = el("form", { class: "rating-reasons", "aria-label": "不满意的原因" });
    const chips = el("div", { class: "reason-list", role: "group", "aria-label": "请选择原因" });
    for (const [code, name] of rating.reasons) {
      chips.append(
        el("button", {
          type: "button",
          class: `reason${draft.reason === code ? " chosen" : ""}`,
          "aria-pressed": draft.reason === code ? "true" : "false",
          text: name,
          onclick: () => {
            draft.reason = draft.reason === code ? null : code;
            redraw();
          },
        }),
      );
    }
    const note = el("textarea", {
      class: "reason-note",
      rows: "2",
      maxlength: "300",
      placeholder: "还想说点什么？（选填）",
      "aria-label": "补充说明（选填）",
      "data-note-seq": message.seq,
    });
    note.value = draft.comment;
    note.addEventListener("input", () => {
      draft.comment = note.value;
    });
    form.append(chips, note, el("button", { type: "submit", class: "reason-send", text: "提交意见" }));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      draft.sent = true;
      enqueue({
        type: "rate",
        client_id: randomId(),
        seq: message.seq,
        value: level,
        reason: draft.reason,
        comment: draft.comment.trim() || null,
      });
    });
    return form;
  }

  function redraw() {
    const active = root.activeElement;
    const typingNote = active && active.dataset && active.dataset.noteSeq;
    // Queue notices are folded into the live card; they stay in the stored history for other channels.
    const ordered = [...state.messages.values()].filter((m) => !m.queue).sort((a, b) => a.seq - b.seq);
    const pending = state.outbox.filter((item) => item.type === "message").concat(state.failedItems);
    const nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
    const items = ordered.map(renderMessage);
    if (state.intro) items.unshift(renderWelcome(state.intro));
    for (const item of pending) {
      items.push(renderMessage({ direction: "in", kind: "text", text: item.text, client_id: item.client_id, pending: !item.failed, failed: item.failed }));
    }
    if (handoffActive()) items.push(renderHandoffCard(state.status));
    // Only the newest answer's quick replies stay live: older choices would jump back in the dialogue.
    // Two kinds stay live while they still apply: "继续问智能助手" while there is a handoff to leave,
    // and the current walkthrough step's buttons after a typed question was answered in between
    // (the step stays where it was; the next step comes only from its own message).
    const lastBot = ordered.filter((m) => m.direction === "out").pop();
    const lastStep = ordered.filter((m) => m.direction === "out" && m.walkthrough).pop();
    log.replaceChildren(...items);
    for (const node of log.querySelectorAll(".msg.bot")) {
      if (!lastBot || node.dataset.seq === String(lastBot.seq)) continue;
      if (lastStep && node.dataset.seq === String(lastStep.seq)) continue;
      for (const button of node.querySelectorAll(".quick-reply")) {
        button.disabled = !(handoffActive() && button.textContent === BACK_TO_BOT.title);
      }
    }
    updateBadge();
    if (typingNote) log.querySelector(`[data-note-seq="${typingNote}"]`)?.focus();
    if (nearBottom || !state.open) log.scrollTop = log.scrollHeight;
  }

  function newestAnswerSeq() {
    let newest = 0;
    for (const message of state.messages.values()) if (message.direction === "out" && message.seq > newest) newest = message.seq;
    return newest;
  }

  function updateBadge() {
    // Unread = answers newer than the last one the citizen saw with the panel open (kept over reloads).
    if (state.open) {
      const newest = newestAnswerSeq();
      if (newest > state.readSeq) {
        state.readSeq = newest;
        persist();
      }
    }
    let unread = 0;
    if (!state.open) for (const message of state.messages.values()) if (message.direction === "out" && message.seq > state.readSeq) unread += 1;
    badge.textContent = String(unread);
    badge.hidden = unread === 0;
    launcher.setAttribute("aria-label", unread ? `打开政务服务智能助手（${unread} 条新消息）` : "打开政务服务智能助手");
  }

  function addMessages(messages) {
    for (const message of messages) state.messages.set(message.seq, message);
    redraw();
  }

  function setStatus(text) {
    status.textContent = text || "";
    status.hidden = !text;
  }

  // ---- connection ----------------------------------------------------------------------------
  let socket = null;
  let welcomed = false;
  let retryDelay = 1000;
  let reconnectTimer = null;
  let resendTimer = null;
  let sentOnThisSocket = new Set(); // client ids sent since the last welcome; the rest go on flush

  function connect() {
    if (socket && (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING)) return;
    clearTimeout(reconnectTimer);
    welcomed = false;
    try {
      socket = new WebSocket(wsUrl);
    } catch (_) {
      scheduleReconnect();
      return;
    }
    socket.addEventListener("open", () => {
      retryDelay = 1000;
      const lastSeq = Math.max(0, ...state.messages.keys());
      socket.send(
        JSON.stringify({
          type: "hello",
          conversation_id: state.conversationId,
          visitor_id: state.visitorId,
          after_seq: lastSeq,
        }),
      );
    });
    socket.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (_) {
        return;
      }
      onFrame(frame);
    });
    socket.addEventListener("close", () => {
      welcomed = false;
      typing.hidden = true;
      setStatus("连接已断开，正在重新连接…您的消息不会丢失。");
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    clearTimeout(reconnectTimer);
    const jitter = Math.random() * 500;
    reconnectTimer = setTimeout(connect, retryDelay + jitter);
    retryDelay = Math.min(retryDelay * 2, 15000);
  }

  function onFrame(frame) {
    switch (frame.type) {
      case "welcome":
        if (frame.conversation_id !== state.conversationId) state.messages.clear();
        state.conversationId = frame.conversation_id;
        state.visitorId = frame.visitor_id || state.visitorId;
        state.maxChars = frame.max_chars || state.maxChars;
        if (frame.rating) Object.assign(rating, frame.rating);
        input.maxLength = state.maxChars;
        persist();
        welcomed = true;
        sentOnThisSocket = new Set(); // unacknowledged messages are sent again (the server drops duplicates)
        setStatus(frame.notice || "");
        state.status = frame.status || null;
        state.intro = frame.intro || state.intro;
        addMessages(frame.history || []);
        flush();
        break;
      case "ack":
        state.outbox = state.outbox.filter((item) => item.client_id !== frame.client_id);
        persist();
        if (frame.message) addMessages([frame.message]);
        break;
      case "message":
        if (frame.message.direction === "out") typing.hidden = true;
        addMessages([frame.message]);
        break;
      case "typing":
        typing.hidden = !frame.on;
        break;
      case "status":
        state.status = frame.status;
        redraw();
        break;
      case "error":
        onError(frame);
        break;
      default:
        break;
    }
  }

  function onError(frame) {
    const item = frame.client_id && state.outbox.find((entry) => entry.client_id === frame.client_id);
    if (item && frame.code === "rate_limited") {
      // Kept in the outbox and sent again when the server is ready for it (not a failed send).
      setStatus(frame.message);
      item.sends = Math.max(0, (item.sends || 1) - 1);
      sentOnThisSocket.delete(item.client_id);
      clearTimeout(resendTimer);
      resendTimer = setTimeout(() => {
        setStatus("");
        flush();
      }, (frame.retry_after || 2) * 1000);
      return;
    }
    if (item && frame.code === "closed") {
      state.conversationId = null;
      persist();
      socket.close();
      return;
    }
    if (item) {
      // Refused for good (too long, invalid characters, not ratable…): stop resending, say why.
      giveUp(item, frame.message);
      return;
    }
    setStatus(frame.message);
  }

  // Drop an outbox item and tell the citizen it was not sent (shown next to the message).
  function giveUp(item, reason) {
    item.failed = NOT_SENT + reason;
    state.outbox = state.outbox.filter((entry) => entry !== item);
    persist();
    if (item.type === "message") state.failedItems.push(item);
    else setStatus(item.failed);
    redraw();
  }

  function flush() {
    if (!welcomed || !socket || socket.readyState !== WebSocket.OPEN) return;
    for (const item of [...state.outbox]) {
      if (sentOnThisSocket.has(item.client_id)) continue;
      // Sent on MAX_SENDS sockets and never acknowledged or refused: something about it breaks
      // the connection; resending it after every reload would stick the citizen forever.
      item.sends = (item.sends || 0) + 1;
      if (item.sends > MAX_SENDS) {
        giveUp(item, "请换个说法再试。");
        continue;
      }
      persist();
      sentOnThisSocket.add(item.client_id);
      socket.send(JSON.stringify({ ...item, sends: undefined }));
    }
  }

  function enqueue(frame) {
    state.outbox.push(frame);
    persist();
    redraw();
    if (!socket) connect();
    flush();
  }

  function sendMessage(text, payload) {
    const value = String(text || "");
    if (!value.trim()) return;
    if (value.length > state.maxChars) {
      counter.textContent = `最多 ${state.maxChars} 个字，请分几次发送。`;
      return;
    }
    enqueue({ type: "message", client_id: randomId(), text: value, payload: payload || null });
  }

  function rate(message, level) {
    message.rating = String(level); // shown at once; the server keeps it too
    message.rating_noted = false; // a new level has no reason yet
    const draft = ratingDrafts.get(message.seq);
    if (draft) draft.sent = false; // a new level: its reason can be given again
    enqueue({ type: "rate", client_id: randomId(), seq: message.seq, value: level });
  }

  // ---- controls ------------------------------------------------------------------------------
  function openPanel() {
    state.open = true;
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    launcher.hidden = true;
    persist();
    updateBadge();
    connect();
    log.scrollTop = log.scrollHeight;
    input.focus();
  }

  function closePanel() {
    state.open = false;
    panel.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute("aria-expanded", "false");
    persist();
    updateBadge();
    launcher.focus();
  }

  function setElder(on) {
    state.elder = on;
    frame.classList.toggle("elder", on);
    elderButton.setAttribute("aria-pressed", on ? "true" : "false");
    persist();
  }

  let composing = false;
  input.addEventListener("compositionstart", () => {
    composing = true;
  });
  input.addEventListener("compositionend", () => {
    composing = false;
  });
  input.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.shiftKey) return;
    // An IME (拼音输入法) uses Enter to pick characters: that Enter must never send.
    if (event.isComposing || event.keyCode === 229 || composing) return;
    event.preventDefault();
    submit();
  });
  let typingSentAt = 0;
  input.addEventListener("input", () => {
    const left = state.maxChars - input.value.length;
    counter.textContent = left < 200 ? `还可输入 ${left} 字` : "";
    // With a helper: let them see the citizen typing (at most every 1.5 s; the server drops extras).
    const now = Date.now();
    if (state.status && state.status.state === "with_helper" && welcomed && now - typingSentAt > 1500 && input.value) {
      typingSentAt = now;
      socket.send(JSON.stringify({ type: "typing", on: true }));
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  function submit() {
    const value = input.value;
    if (!value.trim()) return;
    sendMessage(value);
    input.value = "";
    counter.textContent = "";
    input.focus();
  }

  launcher.addEventListener("click", openPanel);
  closeButton.addEventListener("click", closePanel);
  elderButton.addEventListener("click", () => setElder(!state.elder));
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closePanel();
  });
  window.addEventListener("online", () => {
    retryDelay = 1000;
    connect();
  });

  function mount() {
    document.body.append(host);
    setElder(state.elder);
    setStatus("");
    // A returning citizen: reconnect at once so late answers (e.g. after an outage) arrive.
    if (state.conversationId || state.outbox.length) connect();
    if (script.dataset.open === "true" || state.wasOpen) openPanel();
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);

  window.JSBWidget = { open: openPanel, close: closePanel, setElder };
})();
