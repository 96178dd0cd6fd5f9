// 当前页：法定期限倒计时（每秒）、实时更新（/api/v1/stream，服务器推送事件）、“更多”翻页、卡片与超时横幅刷新。
// The now page's script. Countdowns tick every second from each deadline's due time (data-due) against the server's
// clock (data-now gives the offset: the server may run on another clock than the browser). Live events replace,
// add or remove rows in page order and refresh the cards; scraped text is only ever set with textContent.
(function () {
  "use strict";
  const root = document.getElementById("now");
  if (!root) return;
  const tbody = document.getElementById("rows");
  const args = root.dataset.args || "";
  const view = {
    status: root.dataset.status, department: root.dataset.department,
    severity: root.dataset.severity ? Number(root.dataset.severity) : null, narrowed: root.dataset.narrowed === "1",
  };
  let next = root.dataset.next || "";
  let offset = Date.parse(root.dataset.now) - Date.now();  // server time minus browser time
  const BIDI = /[\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;  // as the server's templates: no bidi controls shown
  const clean = (s) => String(s == null ? "" : s).replace(BIDI, "");
  const now = () => Date.now() + offset;

  // ---------------------------------------------------------------- countdowns
  function left(ms) {  // 3小时59分59秒 / 已超时 1分5秒 (fmt_delta's words, to the second)
    const over = ms < 0;
    let s = Math.floor(Math.abs(ms) / 1000);
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    const text = (d ? d + "天" : "") + (h ? h + "小时" : "") + (m ? m + "分" : "") + s + "秒";
    return over ? "已超时 " + text : text;
  }

  function tick() {
    const t = now();
    document.querySelectorAll("#rows .countdown[data-due]").forEach((el) => {
      const due = Date.parse(el.dataset.due), starts = Date.parse(el.dataset.starts);
      el.textContent = clean(el.dataset.title) + "：" + left(due - t);
      const box = el.closest(".due");
      const remaining = due - t;
      box.classList.toggle("overdue", remaining <= 0);
      box.classList.toggle("soon", remaining > 0 && remaining < 7200 * 1000);
      const bar = box.querySelector(".clock i");
      if (bar && due > starts) {
        const used = Math.max(0, Math.min(100, Math.round(100 * (t - starts) / (due - starts))));
        bar.className = "w" + used;
        bar.parentElement.title = "时限已用 " + used + "%";
      }
    });
    document.querySelectorAll("#rows tr[data-id]").forEach((tr) => {
      tr.classList.toggle("overdue", !!tr.querySelector(".due.overdue"));
    });
  }

  // ---------------------------------------------------------------- rows
  function keyOf(tr) {
    return {id: Number(tr.dataset.id), due: tr.dataset.due ? Date.parse(tr.dataset.due) : null,
            sev: Number(tr.dataset.sev), last: Date.parse(tr.dataset.last)};
  }

  function before(a, b) {  // the server's order (monitor/store/dashboard.py): earliest open deadline, then the rest
    if (a.due !== null && b.due !== null) return a.due !== b.due ? a.due < b.due : a.id < b.id;
    if (a.due !== null || b.due !== null) return a.due !== null;
    if (a.sev !== b.sev) return a.sev > b.sev;
    if (a.last !== b.last) return a.last > b.last;
    return a.id > b.id;
  }

  function build(row) {
    const tr = document.getElementById("row-template").content.firstElementChild.cloneNode(true);
    tr.dataset.id = row.id;
    tr.dataset.due = row.next_due || "";
    tr.dataset.sev = row.sev;
    tr.dataset.last = row.last_seen_at;
    tr.className = "sev" + row.sev + (row.triage === "pending" ? " triage" : "");
    const badge = tr.querySelector(".badge");
    badge.classList.add("sev" + row.sev);
    badge.textContent = row.severity;
    const link = tr.querySelector("a.title");
    link.href = "/incidents/" + Number(row.id);
    link.textContent = "#" + row.id + " " + clean(row.title);
    if (row.triage === "pending") {
      const tag = document.createElement("span");
      tag.className = "badge triage"; tag.textContent = "待研判";
      link.after(" ", tag);
    }
    const dept = tr.querySelector(".dept");
    dept.textContent = clean(row.department);
    if (row.co_departments && row.co_departments.length) {
      const co = document.createElement("small");
      co.textContent = "（协办：" + row.co_departments.map(clean).join("、") + "）";
      dept.append(co);
    }
    tr.querySelector(".domain").textContent = clean(row.domain);
    tr.querySelector(".heat").textContent = row.item_count + " 条 / " + row.reporter_count + " 人" +
      (row.likes ? " / 👍" + row.likes : "");
    const cell = tr.querySelector(".deadlines");
    for (const d of row.deadlines || []) {
      const box = document.getElementById("due-template").content.firstElementChild.cloneNode(true);
      const cd = box.querySelector(".countdown");
      cd.dataset.due = d.due_at; cd.dataset.starts = d.starts_at; cd.dataset.title = clean(d.title);
      cd.title = d.due_local + " 到期（北京时间）";
      cd.textContent = clean(d.title) + "：" + d.left;
      if (d.acked_by) {
        const ack = document.createElement("small");
        ack.className = "acked"; ack.textContent = clean(d.acked_by) + " 已确认";
        box.append(" ", ack);
      }
      if (d.provisional) {
        const p = document.createElement("span");
        p.className = "badge provisional"; p.title = d.provisional; p.textContent = "暂定";
        box.append(" ", p);
      }
      cell.append(box);
    }
    tr.querySelector(".last").textContent = row.last_seen_local;
    return tr;
  }

  function visible(row) {  // the filters a pushed row can be checked against here
    if (view.status && row.status !== view.status) return false;
    if (view.department && row.department !== view.department) return false;
    if (view.severity && row.sev !== view.severity) return false;
    return true;
  }

  function place(tr) {
    const key = keyOf(tr);
    const rows = Array.from(tbody.querySelectorAll("tr[data-id]"));
    const after = rows.find((other) => before(key, keyOf(other)));
    if (after) { tbody.insertBefore(tr, after); return true; }
    if (!next) { tbody.append(tr); return true; }  // the whole list is shown: it goes last
    return false;  // beyond the rows shown: it comes with 更多
  }

  function apply(data) {
    const id = data.row ? data.row.id : data.id;
    const old = tbody.querySelector('tr[data-id="' + Number(id) + '"]');
    if (data.gone || !visible(data.row)) { if (old) old.remove(); return; }
    if (!old && view.narrowed) return;  // a search or a source/date filter: only the server can tell
    const tr = build(data.row);
    if (old) old.remove();
    if (place(tr)) {
      const empty = tbody.querySelector("tr.none");
      if (empty) empty.remove();
      if (!old) tr.classList.add("fresh");
    }
  }

  function shown() { document.getElementById("shown").textContent = tbody.querySelectorAll("tr[data-id]").length; }

  // ---------------------------------------------------------------- cards and banner
  let refreshTimer = null;
  function refreshSoon() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(async () => {
      refreshTimer = null;
      try {
        const response = await fetch("/api/v1/now/summary?" + args, {credentials: "same-origin"});
        if (response.ok) summary(await response.json());
      } catch (err) { /* the next event refreshes again */ }
    }, 300);
  }

  function card(id, n) { document.querySelector("#" + id + " b").textContent = n; }

  function summary(s) {
    card("card-overdue", s.counts.overdue); card("card-open", s.counts.open);
    card("card-satisfied", s.counts.satisfied); card("card-total", s.total);
    document.getElementById("card-overdue").classList.toggle("alert", s.counts.overdue > 0);
    document.getElementById("total").textContent = s.total;
    const banner = document.getElementById("overdue-banner");
    if (s.banner) {
      banner.querySelector(".n").textContent = s.banner.count;
      const a = banner.querySelector("a.first");
      a.href = "/incidents/" + Number(s.banner.incident_id);
      a.textContent = "#" + s.banner.incident_id + " " + clean(s.banner.incident) + " · " + clean(s.banner.deadline) +
        "（" + s.banner.due_local + " 到期，已超时 " + s.banner.late + "）";
    }
    banner.hidden = !s.banner;
    if (s.now) offset = Date.parse(s.now) - Date.now();
  }

  // ---------------------------------------------------------------- live stream
  const state = document.getElementById("live-state");
  function live(text, ok) { state.textContent = text; state.classList.toggle("down", !ok); }
  if (window.EventSource) {
    // ?after: what changed since the page's data was read (a reconnect sends Last-Event-ID instead)
    const source = new EventSource("/api/v1/stream?after=" + encodeURIComponent(root.dataset.mark || ""));
    source.addEventListener("open", () => live("实时更新中", true));
    source.addEventListener("error", () => live("实时更新已断开，正在重连…", false));
    source.addEventListener("reset", () => location.reload());  // missed too much: start over
    source.addEventListener("incident", (e) => {
      let data;
      try { data = JSON.parse(e.data); } catch (err) { return; }
      if (data.now) offset = Date.parse(data.now) - Date.now();
      apply(data);
      shown(); tick(); refreshSoon();
    });
  } else {
    live("此浏览器不支持实时更新，请手动刷新", false);
  }

  // ---------------------------------------------------------------- 更多
  const more = document.getElementById("more");
  if (more) {
    more.addEventListener("click", async (event) => {
      event.preventDefault();
      if (!next) return;
      const response = await fetch("/api/v1/incidents?" + args + "&limit=" + root.dataset.limit + "&cursor=" +
        encodeURIComponent(next), {credentials: "same-origin"});
      if (!response.ok) { location.href = more.href; return; }
      const body = await response.json();
      for (const row of body.incidents) {
        const old = tbody.querySelector('tr[data-id="' + Number(row.id) + '"]');
        if (old) old.remove();
        tbody.append(build(row));
      }
      next = body.next_cursor || "";
      if (!next) more.remove();
      shown(); tick();
    });
  }

  tick();
  setInterval(tick, 1000);
})();
