// 待分诊与值班表页面的操作：确认、更正（领域、责任单位、等级及理由），添加、删除手动班次。
// Calls the JSON API in the signed-in session (cookie, plus the page's CSRF token in a header no foreign page can
// set); server text is shown with textContent only, never parsed as HTML. The audit log names the signed-in user.
(function () {
  "use strict";
  const result = document.getElementById("office-result");
  const FIELDS = {domain: "领域", department: "责任单位", co_departments: "协办单位", severity: "等级",
                  response_type: "回应类型"};

  function csrf() {  // read at each request: the page's token is the one the server checks
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function show(text, ok) {
    if (!result) return;
    result.textContent = text;
    result.className = ok ? "ok" : "error";
  }

  async function call(method, url, body) {
    const init = {method, credentials: "same-origin", headers: {"X-CSRF-Token": csrf(), "Accept": "application/json"}};
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      show(`无法连接服务：${err}`, false);
      return null;
    }
    const data = await response.json().catch(() => ({}));
    if (response.status === 401) { show("登录已过期，请刷新页面重新登录", false); return null; }
    if (!response.ok) { show(`操作失败（${response.status}）：${data.error || response.statusText}`, false); return null; }
    return data;
  }

  // ------------------------------------------------------------------ triage queue
  function done(id, text) {
    const row = document.getElementById(`triage-${id}`);
    if (!row) return;
    row.classList.add("done");
    const cell = row.querySelector("td.act");
    if (cell) cell.textContent = text;
  }

  function outcome(id, data) {
    const changes = Object.entries(data.changes || {}).map(([k, [a, b]]) => `${FIELDS[k] || k}：${a} → ${b}`);
    const extra = [];
    if (data.deadlines_moved) extra.push(`${data.deadlines_moved} 个未关闭期限已转至新单位`);
    if ((data.opened || []).length) extra.push(`新开期限 ${data.opened.join("、")}`);
    if ((data.cancelled || []).length) extra.push(`取消期限 ${data.cancelled.join("、")}`);
    return `事件 #${id} ` + (changes.length ? `已更正：${changes.join("；")}` : "已确认") +
      (extra.length ? `（${extra.join("；")}）` : "") + "，离开待分诊队列";
  }

  document.querySelectorAll("button.accept").forEach(button => {
    button.addEventListener("click", async () => {
      const id = button.dataset.incident;
      button.disabled = true;
      const data = await call("POST", `/api/v1/incidents/${id}/triage/accept`, {});
      button.disabled = false;
      if (data) { show(outcome(id, data), true); done(id, "已确认"); }
    });
  });

  document.querySelectorAll("form.correct").forEach(form => {
    form.addEventListener("submit", async event => {
      event.preventDefault();
      const id = form.dataset.incident;
      const values = new FormData(form);
      const body = {};
      for (const key of ["domain", "department", "severity"]) {
        const value = (values.get(key) || "").trim();
        if (value) body[key] = value;
      }
      const reason = (values.get("reason") || "").trim();
      if (!Object.keys(body).length) { show(`事件 #${id}：请填写要更正的领域、责任单位或等级`, false); return; }
      if (body.severity && body.severity !== form.dataset.severity && !reason) {
        show(`事件 #${id}：更正等级须写明理由`, false);
        form.querySelector('[name="reason"]').focus();
        return;
      }
      if (reason) body.reason = reason;
      const data = await call("POST", `/api/v1/incidents/${id}/triage/correct`, body);
      if (data) { show(outcome(id, data), true); done(id, "已更正"); }
    });
  });

  // ------------------------------------------------------------------ duty roster
  const shiftForm = document.getElementById("shift-form");
  if (shiftForm) {
    shiftForm.addEventListener("submit", async event => {
      event.preventDefault();
      const values = new FormData(shiftForm);
      const body = {};
      for (const key of ["role", "user", "starts_at", "ends_at"]) body[key] = (values.get(key) || "").trim();
      const data = await call("POST", "/api/v1/roster", body);  // datetime-local has no offset: Beijing time
      if (data) {
        show(`已添加班次 #${data.id}：${data.role} ${data.user}`, true);
        setTimeout(() => location.reload(), 800);  // the grid and the warning are drawn by the server
      }
    });
  }

  document.querySelectorAll("button.remove-shift").forEach(button => {
    button.addEventListener("click", async () => {
      const id = button.dataset.shift;
      const data = await call("DELETE", `/api/v1/roster/${id}`);
      if (data) {
        show(`已删除班次 #${id}：${data.removed.role} ${data.removed.user}`, true);
        setTimeout(() => location.reload(), 800);
      }
    });
  });
})();
