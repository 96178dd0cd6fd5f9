// 事件页的处置操作：确认收到、登记证据、调整等级、改派、合并、拆分、备注、办结、重新打开。
// Each calls the JSON API in the signed-in session: the cookie goes along by itself, the CSRF token (from the
// page's <meta name="csrf-token">) in a header no foreign page can set; the audit log names the signed-in user.
// Server text is only ever set as textContent (never parsed as HTML). No inline script: the CSP forbids it.
(function () {
  const section = document.getElementById("actions");
  if (!section) return;
  const incident = section.dataset.incident;
  const result = document.getElementById("action-result");
  const titles = {};  // rule → its Chinese title, from the page itself
  document.querySelectorAll("button.ack").forEach(b => { titles[b.dataset.rule] = b.dataset.title; });

  function csrf() {  // read at each request: the page's token is the one the server checks
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function show(text, ok) {
    result.textContent = text;
    result.className = ok ? "ok" : "error";
    result.scrollIntoView({block: "nearest"});
  }

  function named(rules) {
    return (rules || []).map(r => titles[r] ? `「${titles[r]}」` : r).join("、") || "无";
  }

  const DONE = {
    ack: d => `已确认：${(d.acknowledged || []).map(r => titles[r] ? `${r}（${titles[r]}）` : r).join("、")}，本级提醒停止，期限继续计时`,
    evidence: d => {
      const done = (d.satisfied || []).map(s => `${titles[s.rule] || ""} · ${s.rule}${s.on_time ? "（按时）" : "（逾期）"}`);
      return `证据已登记，完成期限：${done.join("、") || "无"}` + (d.incident_closed ? "；事件已自动办结" : "");
    },
    regrade: d => `等级已调整为${d.severity}；开启期限：${named(d.opened)}；取消期限：${named(d.cancelled)}`,
    reassign: d => `已改派至 ${d.department}，期限随之移交`,
    merge: d => `已合并：${(d.merged || []).map(i => "#" + i).join("、")} 并入本事件`,
    split: d => `已拆分为新事件 #${d.new_incident_id}`,
    note: () => "备注已记入时间线",
    close: d => `事件已办结（答复：${d.reply}）`,
    reopen: () => "事件已重新打开",
  };

  async function post(action, body) {
    let response;
    try {
      response = await fetch(`/api/v1/incidents/${incident}/${action}`, {
        method: "POST",
        credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf()},
        body: JSON.stringify(body),
      });
    } catch (err) {
      show(`无法连接服务：${err}`, false); return;
    }
    const data = await response.json().catch(() => ({}));
    if (response.status === 401) { show("登录已过期，请刷新页面重新登录", false); return; }
    if (!response.ok) { show(`操作失败（${response.status}）：${data.error || response.statusText}`, false); return; }
    show(DONE[action](data), true);
    setTimeout(() => {
      if (action === "split" && data.new_incident_id) location.assign(`/incidents/${data.new_incident_id}`);
      else location.reload();
    }, 900);  // long enough to read the message; the reloaded page shows the change and its timeline line
  }

  function fields(form) {
    const body = {};
    new FormData(form).forEach((value, key) => { body[key] = typeof value === "string" ? value.trim() : value; });
    return body;
  }

  document.querySelectorAll("button.ack").forEach(button => {
    button.addEventListener("click", () => post("ack", {rule: button.dataset.rule}));
  });
  document.querySelectorAll("form.action").forEach(form => {
    form.addEventListener("submit", event => {
      event.preventDefault();
      const action = form.dataset.action;
      const body = fields(form);
      if (action === "merge") {
        const ids = (body.incident_ids || "").split(/[\s,，、#]+/).filter(Boolean).map(Number);
        if (!ids.length || ids.some(i => !Number.isInteger(i) || i < 1)) { show("请填写要并入的事件编号，如 12, 15", false); return; }
        body.incident_ids = ids;
      }
      if (action === "regrade") body.severity = Number(body.severity);
      post(action, body);
    });
  });
  const split = document.getElementById("split-button");
  if (split) {
    split.addEventListener("click", () => {
      const ids = Array.from(document.querySelectorAll("input.split-item:checked")).map(b => Number(b.value));
      if (!ids.length) { show("请先勾选要拆出的留言", false); return; }
      post("split", {item_ids: ids});
    });
  }
})();
