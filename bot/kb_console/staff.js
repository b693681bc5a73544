// Shared by every page of the knowledge-base console (/kb/…): who is logged in, JSON calls that
// carry the CSRF token, the page navigation, and building DOM from data.  Text from the database
// is only ever set with textContent (never innerHTML), so HTML or script in an entry shows as text.
"use strict";

const Staff = (() => {
  let me = null;

  // Pages of the console and the roles that see them in the navigation (the server checks again).
  const PAGES = [
    { path: "/kb/", title: "条目", roles: ["editor", "reviewer", "admin"] },
    { path: "/kb/review", title: "待审核", roles: ["editor", "reviewer", "admin"] },
    { path: "/kb/worklists", title: "工作清单", roles: ["editor", "reviewer", "admin"] },
    { path: "/kb/transfer", title: "导入导出", roles: ["editor", "reviewer", "admin"] },
    { path: "/kb/training", title: "模型训练", roles: ["reviewer", "admin"] },
    { path: "/kb/analytics", title: "数据分析", roles: ["reviewer", "admin"] },
    { path: "/kb/audit", title: "操作记录", roles: ["editor", "reviewer", "admin"] },
  ];

  /** Build an element: el("li", {className: "x", onclick: f}, "text", childNode, …). */
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node[key] = value;
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
    }
    return node;
  }

  class ApiError extends Error {
    constructor(status, code, message, details) {
      super(message);
      this.status = status;
      this.code = code;
      this.details = details;
    }
  }

  /** JSON request to the bot service; throws ApiError with the server's Chinese message. */
  async function api(method, path, body) {
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && me) headers["X-CSRF-Token"] = me.csrf;
    let response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (err) {
      throw new ApiError(0, "network", "无法连接服务，请稍后再试。");
    }
    if (response.status === 401) {
      window.location.assign("/helpdesk/login?next=" + encodeURIComponent(window.location.pathname + window.location.search));
      throw new ApiError(401, "login_required", "请先登录。");
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = data.error || {};
      // The server says "中文。 / English."; staff read the Chinese half only.
      const message = String(error.message || "操作失败，请稍后再试。").split(" / ")[0];
      throw new ApiError(response.status, error.code || "error", message, error.details);
    }
    return data;
  }

  /** Show a message in the page's status line (role=status), as text. */
  function say(message, isError = false) {
    const line = document.getElementById("status");
    if (!line) return;
    line.textContent = message;
    line.classList.toggle("error", isError);
  }

  /** Load the session, draw the header and navigation; resolves to {name, role, csrf}. */
  async function start() {
    me = await api("GET", "/api/helpdesk/me");
    const header = document.querySelector("header");
    const nav = el("nav", { className: "pages", ariaLabel: "控制台页面" });
    for (const page of PAGES) {
      if (!page.roles.includes(me.role)) continue;
      const link = el("a", { href: page.path }, page.title);
      if (page.path === window.location.pathname) link.setAttribute("aria-current", "page");
      nav.append(link);
    }
    const who = el("span", { className: "who" }, `${me.name}（${roleName(me.role)}）`);
    const logout = el("button", { type: "button", onclick: async () => {
      await api("POST", "/api/helpdesk/logout").catch(() => {});
      window.location.assign("/helpdesk/login?next=/kb/");
    } }, "退出");
    header.append(nav, who, logout);
    // On a phone the links scroll sideways: show the current page's link, not just the first ones.
    const current = nav.querySelector('[aria-current="page"]');
    if (current && nav.scrollWidth > nav.clientWidth) nav.scrollLeft = current.offsetLeft - nav.offsetLeft - 16;
    return me;
  }

  function roleName(role) {
    return { helper: "帮办人员", editor: "编辑", reviewer: "审核人", admin: "管理员" }[role] || role;
  }

  return { el, api, say, start, roleName, ApiError, get me() { return me; } };
})();
