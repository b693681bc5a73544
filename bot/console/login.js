// Staff login (helpers, KB editors and reviewers, admins): JSON POST, the session cookie comes back
// HttpOnly; then the console the role works in, or the page that sent us here (?next=, our own pages only).
"use strict";
// Only a page of our own consoles: a plain path, never another site ("//host", "https:…", "\\host").
const OWN_PAGE = /^\/(kb|helpdesk)\/[A-Za-z0-9_\-\/?=&.%]*$/;

function destination(role) {
  const next = new URLSearchParams(window.location.search).get("next");
  if (next && OWN_PAGE.test(next) && !next.includes("..")) return next;
  return role === "editor" || role === "reviewer" ? "/kb/" : "/helpdesk/";
}

document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("login-error");
  error.textContent = "";
  if (!document.getElementById("name").value.trim() || !document.getElementById("password").value) {
    error.textContent = "请填写用户名和密码。";
    return;
  }
  try {
    const response = await fetch("/api/helpdesk/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        name: document.getElementById("name").value,
        password: document.getElementById("password").value,
      }),
    });
    if (response.ok) {
      const me = await response.json();
      window.location.assign(destination(me.role));
      return;
    }
    const body = await response.json().catch(() => ({}));
    // The server says "中文。 / English."; staff read the Chinese half.
    const message = body.error && body.error.message ? body.error.message.split(" / ")[0] : "";
    error.textContent = response.status === 429 ? "尝试次数太多，请稍后再试。" : message || "登录失败，请稍后再试。";
  } catch (err) {
    error.textContent = "无法连接服务，请稍后再试。";
  }
});
