// Chorus: the small script on top of the server-rendered pages. Every
// action also works without it (plain forms); this adds live updates
// (Server-Sent Events), inline comments and reactions, the composer's live
// audience line, the live notification badge, the search box's suggestions
// and keyboard shortcuts.
"use strict";
(function () {
  const $ = (s, r) => (r || document).querySelector(s);
  const $$ = (s, r) => Array.from((r || document).querySelectorAll(s));
  const csrf = ($('meta[name="csrf-token"]') || {}).content || "";
  document.documentElement.classList.add("js");

  async function api(method, url, body) {
    const res = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: Object.assign({ "X-CSRF-Token": csrf }, body ? { "Content-Type": "application/json" } : {}),
      body: body ? JSON.stringify(body) : undefined,
    });
    if (!res.ok) {
      let detail = "Something went wrong (" + res.status + "). Reload the page and try again.";
      try { detail = (await res.json()).detail || detail; } catch (_) { /* not JSON */ }
      throw new Error(detail);
    }
    return res.status === 204 ? null : res.json();
  }

  async function html(url) {
    const res = await fetch(url, { credentials: "same-origin" });
    if (res.status !== 200) return [];
    const t = document.createElement("template");
    t.innerHTML = await res.text();
    return Array.from(t.content.children);
  }

  const here = () => encodeURIComponent(location.pathname + location.search);
  // Live connections, closed when the page goes away so they never hold
  // one of the browser's few connections to the server.
  const sources = [];
  function live(url) {
    const es = new EventSource(url);
    sources.push(es);
    return es;
  }
  addEventListener("pagehide", () => sources.forEach((s) => s.close()));

  function flash(near, msg) {
    let p = near.querySelector(".errors");
    if (!p) {
      p = document.createElement("p");
      p.className = "errors";
      p.setAttribute("role", "alert");
      near.appendChild(p);
    }
    p.textContent = msg;
  }

  // ---- the notification badge ----
  const badge = $("#badge");
  const baseTitle = document.title;
  function setUnread(n) {
    if (!badge) return;
    badge.textContent = n;
    badge.hidden = n === 0;
    $("#bell").setAttribute("aria-label", n ? "Notifications, " + n + " unread" : "Notifications");
    document.title = (n ? "(" + n + ") " : "") + baseTitle;
  }
  if (badge && window.EventSource) {
    const es = live("/api/v1/notifications/events");
    es.addEventListener("notification", (e) => setUnread(JSON.parse(e.data).unread));
  }

  // ---- live streams ----
  const stream = $("#stream");
  if (stream && stream.dataset.live && window.EventSource) {
    const es = live(stream.dataset.live);
    es.addEventListener("activity", async (e) => {
      const a = JSON.parse(e.data);
      if (document.getElementById("a" + a.id)) return;
      const home = stream.dataset.live.includes("/streams/home/") ? "&home=1" : "";
      const els = await html("/fragments/activities/" + a.id + "?filter=" + (stream.dataset.filter || "all") + home + "&back=" + here());
      const fresh = $(".fresh", stream);
      for (const el of els.reverse()) {
        if (document.getElementById(el.id)) continue;
        el.classList.add("new");
        fresh.after(el);
      }
      if (els.length) { const empty = $(".empty", stream); if (empty) empty.remove(); }
    });
  }

  // ---- comments ----
  async function loadComments(list, after) {
    const els = await html("/fragments/items/" + list.dataset.item + "/comments?after=" + after + "&back=" + here());
    for (const el of els) {
      if (document.getElementById(el.id)) continue;
      el.classList.add("new");
      list.appendChild(el);
    }
    const count = $("#comment-count");
    if (count && list.classList.contains("full")) count.textContent = $$(".comment", list).length;
  }
  function lastComment(list) {
    const all = $$(".comment", list);
    return all.length ? Number(all[all.length - 1].dataset.comment) : 0;
  }
  const item = $("#item");
  if (item) {
    api("POST", "/api/v1/items/" + item.dataset.item + "/seen").catch(() => {});
    if (window.EventSource) {
      const es = live(item.dataset.live);
      es.addEventListener("activity", (e) => {
        const a = JSON.parse(e.data);
        const list = $("ol.comments.full");
        if (a.verb === "comment" && list) loadComments(list, lastComment(list));
      });
    }
  }
  document.addEventListener("submit", async (ev) => {
    const f = ev.target;
    if (f.classList.contains("comment-form")) {
      ev.preventDefault();
      const ta = $("textarea", f);
      const id = f.dataset.item;
      const btn = $("button", f);
      btn.disabled = true;
      try {
        const c = await api("POST", "/api/v1/items/" + id + "/comments", { body: ta.value });
        const entry = f.closest(".entry");
        const list = entry ? $("ol.comments", entry) : $("ol.comments.full");
        await loadComments(list, Number(c.id) - 1);
        ta.value = "";
        const err = $(".errors", f); if (err) err.remove();
        const d = f.closest("details"); if (d) d.open = false;
      } catch (e) { flash(f, e.message); }
      btn.disabled = false;
    } else if (f.classList.contains("reactions")) {
      ev.preventDefault();
      const v = ev.submitter && ev.submitter.value;
      if (!v) return;
      const add = v[0] === "+", emoji = v.slice(1);
      const item = f.action.match(/\/items\/(\d+)\//)[1];
      const comment = f.elements.comment_id ? f.elements.comment_id.value : "";
      try {
        if (add) {
          await api("POST", "/api/v1/items/" + item + "/reactions", comment ? { emoji, comment_id: comment } : { emoji });
        } else {
          await api("DELETE", "/api/v1/items/" + item + "/reactions/" + encodeURIComponent(emoji) + (comment ? "?comment_id=" + comment : ""));
        }
        bump(f, emoji, add);
      } catch (e) { flash(f, e.message); }
      const d = $("details", f); if (d) d.open = false;
    }
  });
  // Updates a reaction bar after the viewer added or removed one.
  function bump(bar, emoji, add) {
    let chip = $$("button.chip", bar).find((b) => b.value.slice(1) === emoji);
    if (!chip) {
      if (!add) return;
      chip = document.createElement("button");
      chip.className = "chip"; chip.name = "r";
      chip.append(emoji + " ", document.createElement("b"));
      chip.lastChild.textContent = "0";
      bar.insertBefore(chip, $("details.picker", bar));
    } else if (add === (chip.getAttribute("aria-pressed") === "true")) {
      return;
    }
    const n = $("b", chip);
    const count = Number(n.textContent) + (add ? 1 : -1);
    if (count <= 0) { chip.remove(); return; }
    n.textContent = count;
    chip.value = (add ? "-" : "+") + emoji;
    chip.setAttribute("aria-pressed", String(add));
  }

  // ---- the composer's audience line ----
  const target = $("#target"), to = $("#to"), toWrap = $("#to-wrap"), label = $("#audience-label");
  let audienceTimer = 0, audienceSeq = 0;
  async function audience() {
    const seq = ++audienceSeq;
    const t = target.value;
    toWrap.hidden = t !== "direct";
    const names = to.value.replace(/[@,\s]+/g, ",").replace(/^,+|,+$/g, "");
    if (t === "direct" && !names) { label.textContent = "only you"; return; }
    const q = t === "direct" ? "direct=" + encodeURIComponent(names)
      : t.startsWith("space:") ? "space=" + encodeURIComponent(t.slice(6)) : "profile=1";
    label.parentElement.classList.add("busy");
    try {
      const a = await api("GET", "/api/v1/audience?" + q);
      if (seq === audienceSeq) label.textContent = a.label;
    } catch (e) { if (seq === audienceSeq) label.textContent = e.message; }
    label.parentElement.classList.remove("busy");
  }
  if (target && label) {
    toWrap.hidden = target.value !== "direct";
    target.addEventListener("change", audience);
    to.addEventListener("input", () => { clearTimeout(audienceTimer); audienceTimer = setTimeout(audience, 250); });
  }

  // ---- small things ----
  document.addEventListener("change", (e) => {
    if (e.target.matches("select[data-autosubmit]")) e.target.form.submit();
  });
  document.addEventListener("click", (e) => {
    const c = e.target.closest("[data-confirm]");
    if (c && !confirm(c.dataset.confirm)) e.preventDefault();
    if (e.target.closest("[data-help]")) help();
    const d = e.target.closest("details.menu, details.picker");
    for (const o of $$("details.menu[open], details.picker[open]")) if (o !== d) o.open = false;
  });
  function help() { const h = $("#help"); if (h && !h.open) h.showModal(); }

  // ---- the search box: suggestions as you type ----
  const box = $("#q-box"), list = $("#q-list");
  let suggestTimer = 0, suggestSeq = 0, active = -1;
  const options = () => $$("[role=option]", list);
  function closeList() {
    list.hidden = true; active = -1;
    box.setAttribute("aria-expanded", "false");
    box.removeAttribute("aria-activedescendant");
  }
  function mark(i) {
    const all = options();
    if (!all.length) return;
    active = (i + all.length) % all.length;
    all.forEach((o, n) => o.setAttribute("aria-selected", String(n === active)));
    box.setAttribute("aria-activedescendant", all[active].id);
    all[active].scrollIntoView({ block: "nearest" });
  }
  function pick(o) {
    if (o.dataset.complete) {
      box.value = box.value.replace(/\S*$/, o.dataset.complete + " ");
      box.focus();
      suggest();
    } else location.href = o.dataset.href;
  }
  function showSuggestions(r, typed) {
    list.textContent = "";
    let n = 0;
    const enc = encodeURIComponent;
    const group = (title, rows) => {
      if (!rows.length) return;
      const h = document.createElement("li");
      h.setAttribute("role", "presentation");
      h.className = "group";
      h.textContent = title;
      list.appendChild(h);
      for (const [label, detail, href, complete] of rows) {
        const li = document.createElement("li");
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.id = "q-opt-" + n++;
        li.dataset.href = href;
        if (r.operator && complete) li.dataset.complete = complete;
        const name = document.createElement("span");
        name.textContent = label;
        li.appendChild(name);
        if (detail) {
          const d = document.createElement("span");
          d.className = "muted";
          d.textContent = detail;
          li.appendChild(d);
        }
        list.appendChild(li);
      }
    };
    group("Recent searches", r.recent.map((q) => [q, "", "/search?q=" + enc(q)]));
    group("People", r.people.map((p) => [p.display_name, "@" + p.handle, "/members/" + enc(p.handle), "from:@" + p.handle]));
    group("Spaces", r.spaces.map((s) => [s.name, s.visibility === "open" ? "" : s.visibility, "/spaces/" + enc(s.slug), "in:" + s.slug]));
    group("Topics", r.topics.map((t) => ["#" + t, "", "/topics/" + enc(t), "#" + t]));
    if (typed.trim()) group("Search", [["Search for “" + typed.trim() + "”", "Enter", "/search?q=" + enc(typed.trim())]]);
    active = -1;
    box.removeAttribute("aria-activedescendant");
    list.hidden = n === 0;
    box.setAttribute("aria-expanded", String(n > 0));
    const status = $("#q-status");
    if (status) status.textContent = n ? n + " suggestions; use the arrow keys to choose" : "";
  }
  async function suggest() {
    const seq = ++suggestSeq, typed = box.value;
    try {
      const r = await api("GET", "/api/v1/suggestions/search?q=" + encodeURIComponent(typed.slice(0, 500)));
      if (seq === suggestSeq && document.activeElement === box) showSuggestions(r, typed);
    } catch (_) { /* no suggestions: the form still searches */ }
  }
  if (box && list) {
    box.addEventListener("input", () => { clearTimeout(suggestTimer); suggestTimer = setTimeout(suggest, 120); });
    box.addEventListener("focus", suggest);
    box.addEventListener("blur", () => { suggestSeq++; closeList(); });
    box.addEventListener("keydown", (e) => {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        if (list.hidden) suggest(); else mark(active + (e.key === "ArrowDown" ? 1 : -1));
      } else if (e.key === "Enter" && active >= 0 && !list.hidden) {
        e.preventDefault();
        pick(options()[active]);
      } else if (e.key === "Escape" && !list.hidden) {
        // Closes the list only: the box keeps its text and the focus.
        e.preventDefault();
        e.stopPropagation();
        closeList();
      }
    });
    // Keeps the focus in the box while an option is clicked.
    list.addEventListener("mousedown", (e) => e.preventDefault());
    list.addEventListener("click", (e) => { const o = e.target.closest("[role=option]"); if (o) pick(o); });
  }

  // ---- keyboard shortcuts ----
  let current = -1, pendingG = false;
  const entries = () => $$(".entry:not(.note)");
  function select(i) {
    const list = entries();
    if (!list.length) return;
    current = Math.max(0, Math.min(list.length - 1, i));
    list.forEach((el, n) => el.classList.toggle("current", n === current));
    list[current].focus({ preventScroll: true });
    list[current].scrollIntoView({ block: "nearest", behavior: "smooth" });
  }
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName)) {
      if (e.key === "Escape") t.blur();
      return;
    }
    if (pendingG) {
      pendingG = false;
      const go = { h: "/", n: "/notifications", s: "/spaces", p: "/directory" }[e.key];
      if (go) { location.href = go; e.preventDefault(); }
      return;
    }
    const cur = entries()[current];
    switch (e.key) {
      case "c": {
        const body = $("#body");
        if (body) { body.focus(); body.scrollIntoView({ block: "center" }); } else location.href = "/#compose";
        break;
      }
      case "j": select(current + 1); break;
      case "k": select(current - 1); break;
      case "o": case "Enter": if (cur && cur.dataset.href) location.href = cur.dataset.href; else return; break;
      case "r": {
        const d = cur && $("details.reply", cur);
        if (d) { d.open = true; $("textarea", d).focus(); }
        break;
      }
      case "/": if (box) { box.focus(); box.select(); } else return; break;
      case "g": pendingG = true; break;
      case "?": help(); break;
      default: return;
    }
    e.preventDefault();
  });
  if (location.hash === "#compose") { const b = $("#body"); if (b) b.focus(); }
})();
