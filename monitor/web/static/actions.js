// 事件页的处置操作：确认收到（停止当前一级提醒）与登记证据（完成期限）。
// Calls the JSON API with the Bearer token the officer typed (kept for this browser tab only).
(function () {
  const section = document.getElementById("actions");
  if (!section) return;
  const incident = section.dataset.incident;
  const actor = document.getElementById("actor");
  const token = document.getElementById("token");
  const result = document.getElementById("action-result");
  actor.value = localStorage.getItem("yuqing.actor") || "";
  token.value = sessionStorage.getItem("yuqing.token") || "";

  function show(text, ok) {
    result.textContent = text;  // textContent: server text is never parsed as HTML
    result.className = ok ? "ok" : "error";
  }

  async function post(action, body) {
    if (!actor.value.trim()) { show("请填写值班人姓名", false); actor.focus(); return; }
    localStorage.setItem("yuqing.actor", actor.value.trim());
    sessionStorage.setItem("yuqing.token", token.value);
    let response;
    try {
      response = await fetch(`/api/v1/incidents/${incident}/${action}`, {
        method: "POST",
        headers: {"Content-Type": "application/json", "Authorization": `Bearer ${token.value}`},
        body: JSON.stringify(Object.assign({actor: actor.value.trim()}, body)),
      });
    } catch (err) {
      show(`无法连接服务：${err}`, false); return;
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) { show(`操作失败（${response.status}）：${data.error || response.statusText}`, false); return; }
    if (action === "ack") {
      show(`已确认：${(data.acknowledged || []).join("、")}，本级提醒停止，期限继续计时`, true);
    } else {
      const done = (data.satisfied || []).map(d => `${d.rule}${d.on_time ? "（按时）" : "（超时）"}`);
      show(`证据已登记，完成期限：${done.join("、") || "无"}`, true);
    }
    setTimeout(() => location.reload(), 1200);
  }

  section.ownerDocument.querySelectorAll("button.ack").forEach(button => {
    button.addEventListener("click", () => post("ack", {rule: button.dataset.rule}));
  });
  document.getElementById("evidence-form").addEventListener("submit", event => {
    event.preventDefault();
    const form = new FormData(event.target);
    post("evidence", {rule: form.get("rule"), url: form.get("url") || "", note: form.get("note") || ""});
  });
})();
