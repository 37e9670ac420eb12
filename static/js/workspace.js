/* Verdict annotator workspace: keyboard, click-in-order and drag ranking on top of a plain HTML form.
 *
 * The form's own inputs (radios for pairwise answers, rank selects for k-way rankings) hold the
 * answer, so the server sees the same fields however the annotator worked. The page holds the
 * annotator's next task, reserved and rendered, in <template id="ws-next">: a complete answer swaps
 * it in at once and is posted meanwhile; a refused or failed post brings the answered task back.
 * htmx drives the rest (skip, "check again"); this script re-binds to each new #task.
 *
 * The private request protocol of a submission (documented once, with the server side, at the top
 * of annotation/web/workspace.py): the post goes by fetch, not htmx, because the next task is
 * already on screen. So sendJudgement sets the "HX-Request: true" header by hand (the view then
 * answers with fragments), adds "shown" (the lease id of the prefetched task on screen), applies
 * the out-of-band progress bar itself (applyProgress strips its hx-swap-oob), and flashes the
 * URL-encoded "X-Verdict-Notice" response header when there is one. The diff fetch sets
 * "HX-Request" for the same reason.
 */
(function () {
  "use strict";

  if (window.htmx) {
    // Validation errors (422) re-render the task with a message; other errors keep the page as is.
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "422", swap: true },
      { code: "[45]..", swap: false, error: true },
    ];
  }

  var state = { assignment: null, started: 0, hiddenMs: 0, hiddenSince: null, priorMs: 0, active: 0, tieNext: false, history: {} };

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function taskEl() { var t = document.getElementById("task"); return t && t.dataset.assignment ? t : null; }
  function questions() { var t = taskEl(); return t ? $$(".ws-q", t) : []; }
  function activeQ() { return questions()[state.active] || null; }
  function form() { return document.getElementById("judgement-form"); }
  function skipDialog() { return document.getElementById("ws-skip"); }
  function helpDialog() { return document.getElementById("ws-help"); }

  /* ---------- ranking questions: the selects are the truth ---------- */

  function selects(q) { return $$("select", q); }
  function ranksOf(q) {
    var ranks = {};
    selects(q).forEach(function (s) { ranks[s.dataset.letter] = s.value ? parseInt(s.value, 10) : null; });
    return ranks;
  }
  function setRanks(q, ranks) {
    // Dense ranks 1..n keep the selects tidy after removals and moves.
    var used = Object.keys(ranks).map(function (l) { return ranks[l]; }).filter(function (r) { return r; });
    var distinct = used.filter(function (r, i) { return used.indexOf(r) === i; }).sort(function (a, b) { return a - b; });
    selects(q).forEach(function (s) {
      var r = ranks[s.dataset.letter];
      s.value = r ? String(distinct.indexOf(r) + 1) : "";
    });
  }
  function groups(q) {
    var ranks = ranksOf(q), byRank = {}, unplaced = [];
    Object.keys(ranks).forEach(function (l) {
      if (ranks[l]) { (byRank[ranks[l]] = byRank[ranks[l]] || []).push(l); } else { unplaced.push(l); }
    });
    var order = Object.keys(byRank).map(Number).sort(function (a, b) { return a - b; });
    return { ranked: order.map(function (r) { return byRank[r]; }), unplaced: unplaced };
  }
  function rankComplete(q) { return groups(q).unplaced.length === 0; }

  function placeRank(q, letter) {
    var ranks = ranksOf(q);
    if (!(letter in ranks)) { return; }
    var hist = state.history[q.dataset.q] = state.history[q.dataset.q] || [];
    if (ranks[letter]) { // picking a placed response again takes it out
      ranks[letter] = null;
      hist.splice(hist.indexOf(letter), 1);
      setRanks(q, ranks);
      return;
    }
    var max = Math.max.apply(null, [0].concat(Object.keys(ranks).map(function (l) { return ranks[l] || 0; })));
    ranks[letter] = state.tieNext && max > 0 ? max : max + 1;
    hist.push(letter);
    state.tieNext = false;
    var left = Object.keys(ranks).filter(function (l) { return !ranks[l]; });
    if (left.length === 1) { ranks[left[0]] = ranks[letter] + 1; hist.push(left[0]); } // the last one is implied
    setRanks(q, ranks);
    if (left.length <= 1) { advance(); }
  }
  function undo(q) {
    var anyPlaced = selects(q).some(function (s) { return s.value; });
    var i = questions().indexOf(q);
    if (!anyPlaced && i > 0) { setActive(i - 1); q = activeQ(); } // e.g. right after the last pick moved on
    var hist = state.history[q.dataset.q] || [];
    var ranks = ranksOf(q);
    var last = hist.pop();
    if (!last) { // nothing picked by keyboard: clear the lowest-ranked response
      var placed = Object.keys(ranks).filter(function (l) { return ranks[l]; });
      if (!placed.length) { return; }
      last = placed.sort(function (a, b) { return ranks[b] - ranks[a]; })[0];
    }
    ranks[last] = null;
    setRanks(q, ranks);
  }
  function rankFromOrder(q, letters) {
    var ranks = {};
    letters.forEach(function (l, i) { ranks[l] = i + 1; });
    setRanks(q, ranks);
    state.history[q.dataset.q] = letters.slice();
  }

  function renderTray(q) {
    var tray = $(".ws-tray", q);
    if (!tray) { return; }
    var g = groups(q), html = [];
    g.ranked.forEach(function (group, i) {
      group.forEach(function (l, j) {
        html.push('<li class="ws-chip" draggable="true" tabindex="0" data-letter="' + l + '">' +
          '<span class="ws-chip-rank">' + (i + 1) + (group.length > 1 ? "=" : "") + '</span>' + l + "</li>");
      });
    });
    g.unplaced.forEach(function (l) {
      html.push('<li class="ws-chip is-unplaced" draggable="true" tabindex="0" data-letter="' + l + '">' +
        '<span class="ws-chip-rank">–</span>' + l + "</li>");
    });
    tray.innerHTML = html.join("");
    tray.classList.toggle("tie-next", state.tieNext && q === activeQ());
  }

  /* ---------- pairwise questions ---------- */

  function choose(q, value) {
    var input = $('input[type=radio][value="' + value + '"]', q);
    if (!input) { flash(value === "tie" ? "Ties are not allowed in this project." : "Not available here."); return; }
    input.checked = true;
    if (q.dataset.q === "overall" && (value === "A" || value === "B") && $('input[name=strength]') &&
        !$('input[name=strength]:checked')) {
      refresh();
      return; // stay: the strength comes next (keys 1..n)
    }
    advance();
  }
  function answered(q) {
    if (q.dataset.kind === "rank") { return rankComplete(q) || (questions().indexOf(q) === 0 && bothBad()); }
    var picked = $("input[type=radio]:checked", q);
    if (!picked) { return false; }
    if (q.dataset.q === "overall" && (picked.value === "A" || picked.value === "B") && $("input[name=strength]", q)) {
      return !!$("input[name=strength]:checked", q);
    }
    return true;
  }
  function allAnswered(qs) { // criteria are optional on a both-bad answer
    return qs.every(function (el, i) { return answered(el) || (bothBad() && i > 0); });
  }
  function tiesForbidden(q) { // only the overall ranking obeys the project's no-ties rule
    return q === questions()[0] && q.dataset.kind === "rank" && taskEl().dataset.allowTies !== "1";
  }
  function bothBad() {
    var overall = $('.ws-q[data-q="overall"]');
    var radio = overall && $('input[value="both_bad"]', overall);
    return (radio && radio.checked) || !!$("input[name=both_bad]:checked");
  }

  /* ---------- question navigation and display ---------- */

  function setActive(i) {
    var qs = questions();
    if (!qs.length) { return; }
    state.active = Math.max(0, Math.min(qs.length - 1, i));
    state.tieNext = false;
    refresh();
    qs[state.active].scrollIntoView({ block: "nearest" });
  }
  function advance() {
    var qs = questions();
    for (var i = 1; i <= qs.length; i++) {
      var j = (state.active + i) % qs.length;
      if (!answered(qs[j]) && !(bothBad() && j > 0)) { state.active = j; state.tieNext = false; refresh(); qs[j].scrollIntoView({ block: "nearest" }); return; }
    }
    refresh();
  }
  function refresh() {
    var t = taskEl();
    if (!t) { return; }
    var qs = questions(), q = activeQ();
    qs.forEach(function (el, i) {
      el.classList.toggle("is-active", i === state.active);
      el.classList.toggle("is-answered", answered(el));
      if (el.dataset.kind === "rank") { renderTray(el); }
    });
    // Badges on the response cards describe the active question.
    $$(".ws-response", t).forEach(function (card) {
      var letter = card.dataset.letter, badge = $(".ws-rankbadge", card), text = "", chosen = false;
      if (q && q.dataset.kind === "rank") {
        var r = ranksOf(q)[letter];
        text = r ? "#" + r : "";
        chosen = r === 1;
      } else if (q) {
        var v = $("input[type=radio]:checked", q);
        if (v) {
          chosen = v.value === letter;
          text = v.value === "tie" ? "tie" : v.value === "both_bad" ? "bad" : chosen ? "better" : "";
        }
      }
      badge.textContent = text;
      card.classList.toggle("is-chosen", chosen);
    });
    // Strength says how much better A or B is: after a tie or "both bad" it has nothing to grade.
    var strength = $(".ws-strength", t), overallPick = $('input[name="overall"]:checked', t);
    if (strength) {
      var off = !!overallPick && overallPick.value !== "A" && overallPick.value !== "B";
      strength.classList.toggle("is-off", off);
      $$("input[name=strength]", strength).forEach(function (input) {
        input.disabled = off;
        if (off) { input.checked = false; }
      });
    }
    var ready = allAnswered(qs);
    var submit = $('#judgement-form button[type=submit]');
    if (submit) { submit.classList.toggle("is-ready", ready); }
  }
  function flash(message) {
    var t = taskEl();
    if (!t) { return; }
    var box = $(".ws-flash", t);
    if (!box) { box = document.createElement("div"); box.className = "ws-flash"; box.setAttribute("role", "status"); t.prepend(box); }
    box.textContent = message;
    clearTimeout(flash.timer);
    flash.timer = setTimeout(function () { box.remove(); }, 3000);
  }

  /* ---------- actions ---------- */

  function pick(letter) {
    var q = activeQ();
    if (!q) { return; }
    if (q.dataset.kind === "rank") { placeRank(q, letter); refresh(); } else if (letter === "A" || letter === "B") { choose(q, letter); }
  }
  function tie() {
    var q = activeQ();
    if (!q) { return; }
    if (q.dataset.kind === "rank") {
      if (tiesForbidden(q)) { flash("Ties are not allowed in this project's overall ranking."); return; }
      if (groups(q).ranked.length === 0) { flash("Pick a response first; the next pick then ties with it."); return; }
      state.tieNext = !state.tieNext;
      refresh();
      if (state.tieNext) { flash("The next pick ties with the previous one."); }
    } else { choose(q, "tie"); }
  }
  function markBothBad() {
    var overall = questions()[0];
    if (!overall) { return; }
    var radio = $('input[value="both_bad"]', overall), box = $("input[name=both_bad]", overall);
    if (radio) { radio.checked = true; } else if (box) { box.checked = !box.checked; } else { flash("This project does not offer “both bad”."); return; }
    refresh();
  }
  function setStrength(n) {
    var input = $('input[name=strength][value="' + (n - 1) + '"]');
    if (!input) { return; }
    if (state.active !== 0) { flash("Strength belongs to the overall answer: press K to go back to it."); return; }
    input.checked = true;
    if (answered(questions()[0])) { advance(); } else { refresh(); }
  }
  function reviseLast() {
    // The last submitted judgement comes back, filled in, as a task of its own (annotate_revise);
    // its form posts to the revise view, which answers with the current task again.
    var ws = document.getElementById("ws");
    if (!ws || !window.htmx) { return; }
    if (inflight) { flash("Saving your previous answer… revise it in a moment."); return; }
    htmx.ajax("GET", ws.dataset.reviseUrl, { target: "#task", swap: "outerHTML" });
  }
  function criteriaAsOverall() {
    // One key for "every criterion agrees with my overall answer" (the same pick, or the same ranking).
    var qs = questions(), overall = qs[0];
    if (qs.length < 2) { flash("This project has no rubric criteria."); return; }
    if (bothBad()) { flash("With “both bad” the criteria are optional: nothing to copy."); return; }
    if (!answered(overall)) { flash("Answer the overall question first; O then copies it to every criterion."); return; }
    var picked = $('input[name="overall"]:checked', overall), ranks = overall.dataset.kind === "rank" ? ranksOf(overall) : null;
    qs.slice(1).forEach(function (q) {
      if (ranks) { setRanks(q, Object.assign({}, ranks)); return; }
      var input = $('input[type=radio][value="' + picked.value + '"]', q);
      if (input) { input.checked = true; }
    });
    setActive(0);
    flash("Every criterion now has the overall answer: Enter submits.");
  }
  function submit() {
    var f = form();
    if (f) { f.requestSubmit(); }
  }
  function openSkip() {
    var d = skipDialog();
    if (!d) { return; }
    if (inflight) { flash("Saving your previous answer… skip in a moment."); return; }
    d.showModal();
    var first = $("input[type=radio]:checked", d) || $("input[type=radio]", d);
    if (first) { first.focus(); }
  }
  function toggleDiff() {
    var t = taskEl(), button = $('[data-ws-action="diff"]');
    if (!t) { return; }
    var show = function () {
      var on = t.classList.toggle("show-diff");
      if (button) { button.setAttribute("aria-pressed", on ? "true" : "false"); }
    };
    if (t.dataset.diffLoaded) { show(); return; }
    if (t.dataset.diffLoading) { return; }
    t.dataset.diffLoading = "1";
    if (button) { button.setAttribute("aria-busy", "true"); }
    fetch(t.dataset.diffUrl, { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.text(); })
      .then(function (html) {
        if (taskEl() !== t) { return; } // the task changed meanwhile
        // Server-rendered and escaped (annotation.rendering.compare), like any htmx swap.
        var sink = document.createElement("div");
        sink.innerHTML = html;
        $$("[id^=ws-diff-]", sink).forEach(function (part) {
          var target = document.getElementById(part.id);
          if (target && t.contains(target)) { target.innerHTML = part.innerHTML; }
        });
        t.dataset.diffLoaded = "1";
        show();
      })
      .catch(function (err) { if (taskEl() === t) { flash("Could not load the differences (" + err.message + "). Press W to try again."); } })
      .then(function () { delete t.dataset.diffLoading; if (button) { button.removeAttribute("aria-busy"); } });
  }
  function toggleGuide() {
    var g = document.getElementById("ws-guide");
    if (g && !g.hidden) { g.open = !g.open; }
  }
  function toggleHelp() {
    var d = helpDialog();
    if (d) { if (d.open) { d.close(); } else { d.showModal(); } }
  }

  /* ---------- keyboard ---------- */

  function typing(el) {
    return el && (el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && /^(text|search|number)$/.test(el.type)) ||
      el.isContentEditable);
  }

  document.addEventListener("keydown", function (e) {
    var el = document.activeElement;
    var skip = skipDialog(), help = helpDialog();
    if (typing(el)) {
      if (e.key === "Escape" && el.closest("dialog")) { return; } // the dialog closes itself
      if (e.key === "Escape") { el.blur(); e.preventDefault(); }
      else if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        if (skip && skip.open) { $("form", skip).requestSubmit(); } else { submit(); }
      }
      return;
    }
    if (e.ctrlKey || e.metaKey) { return; }
    if (el && el.classList && el.classList.contains("ws-chip") && e.altKey &&
        (e.key === "ArrowLeft" || e.key === "ArrowRight" || e.key === "ArrowUp" || e.key === "ArrowDown")) {
      e.preventDefault();
      moveChip(el, e.key === "ArrowLeft" || e.key === "ArrowUp" ? -1 : 1);
      return;
    }
    if (e.altKey) { return; }
    if (skip && skip.open) {
      if (/^[1-9]$/.test(e.key)) {
        var radio = $$("input[type=radio]", skip)[parseInt(e.key, 10) - 1];
        if (radio) { radio.checked = true; radio.focus(); if (radio.value === "Other") { $("input[name=other]", skip).focus(); } }
        e.preventDefault();
      } else if (e.key === "Enter") { e.preventDefault(); $("form", skip).requestSubmit(); }
      return;
    }
    if (help && help.open) { if (e.key === "?") { help.close(); e.preventDefault(); } return; }
    if (e.key === "?") { e.preventDefault(); toggleHelp(); return; }
    if (!taskEl()) { return; }
    if ((e.key === "ArrowDown" || e.key === "ArrowUp") && el && el.classList && el.classList.contains("ws-body")) {
      return; // a focused response scrolls with the arrow keys
    }
    var key = e.key.length === 1 ? e.key.toUpperCase() : e.key;
    var k = parseInt(taskEl().dataset.k, 10);
    var letters = "ABCDEFGHI".slice(0, k);
    if (key.length === 1 && letters.indexOf(key) >= 0) { e.preventDefault(); pick(key); return; }
    if (/^[1-9]$/.test(key)) { e.preventDefault(); setStrength(parseInt(key, 10)); return; }
    var handled = true;
    switch (key) {
      case "T": case "=": tie(); break;
      case "X": markBothBad(); break;
      case "O": criteriaAsOverall(); break;
      case "Z": reviseLast(); break;
      case "ArrowDown": case "J": setActive(state.active + 1); break;
      case "ArrowUp": case "K": setActive(state.active - 1); break;
      case "Backspace": case "U": if (activeQ() && activeQ().dataset.kind === "rank") { undo(activeQ()); refresh(); } break;
      case "R": var ta = $("textarea[name=rationale]"); if (ta) { ta.focus(); } break;
      case "S": openSkip(); break;
      case "W": toggleDiff(); break;
      case "N": toggleGuide(); break;
      case "Enter":
        if (el && (el.tagName === "BUTTON" || el.tagName === "A" || el.tagName === "SUMMARY")) { handled = false; break; }
        submit(); break;
      default: handled = false;
    }
    if (handled) { e.preventDefault(); }
  });

  /* ---------- drag and drop (and its keyboard twin, Alt+arrows on a chip) ---------- */

  function trayOrder(tray) { return $$(".ws-chip", tray).map(function (c) { return c.dataset.letter; }); }
  function moveChip(chip, delta) {
    var tray = chip.parentElement, q = chip.closest(".ws-q"), order = trayOrder(tray);
    var i = order.indexOf(chip.dataset.letter), j = i + delta;
    if (j < 0 || j >= order.length) { return; }
    order.splice(j, 0, order.splice(i, 1)[0]);
    rankFromOrder(q, order);
    state.active = questions().indexOf(q);
    refresh();
    var moved = $('.ws-chip[data-letter="' + chip.dataset.letter + '"]', tray);
    if (moved) { moved.focus(); }
  }
  var dragged = null;
  document.addEventListener("dragstart", function (e) {
    var chip = e.target.closest && e.target.closest(".ws-chip");
    if (!chip) { return; }
    dragged = chip;
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", chip.dataset.letter);
  });
  document.addEventListener("dragover", function (e) {
    if (dragged && e.target.closest && e.target.closest(".ws-tray") === dragged.parentElement) { e.preventDefault(); }
  });
  document.addEventListener("drop", function (e) {
    var tray = dragged && e.target.closest && e.target.closest(".ws-tray");
    if (!tray || tray !== dragged.parentElement) { return; }
    e.preventDefault();
    var order = trayOrder(tray).filter(function (l) { return l !== dragged.dataset.letter; });
    var target = e.target.closest(".ws-chip");
    var at = target ? trayOrder(tray).filter(function (l) { return l !== dragged.dataset.letter; }).indexOf(target.dataset.letter) : order.length;
    if (target) {
      var box = target.getBoundingClientRect();
      if (e.clientX > box.left + box.width / 2) { at += 1; }
    }
    order.splice(at, 0, dragged.dataset.letter);
    var q = tray.closest(".ws-q");
    rankFromOrder(q, order);
    state.active = questions().indexOf(q);
    dragged = null;
    refresh();
  });
  document.addEventListener("dragend", function () { dragged = null; });

  /* ---------- clicks ---------- */

  document.addEventListener("click", function (e) {
    var t = e.target;
    var pickButton = t.closest("[data-pick]");
    if (pickButton) { pick(pickButton.dataset.pick); return; }
    var action = t.closest("[data-ws-action]");
    if (action) {
      var name = action.dataset.wsAction;
      if (name === "skip") { openSkip(); } else if (name === "diff") { toggleDiff(); }
      else if (name === "guide") { toggleGuide(); } else if (name === "help") { toggleHelp(); }
      else if (name === "close-skip") { skipDialog().close(); } else if (name === "as-overall") { criteriaAsOverall(); }
      return;
    }
    var q = t.closest(".ws-q");
    if (q) { state.active = questions().indexOf(q); setTimeout(refresh, 0); }
  });
  document.addEventListener("change", function (e) {
    if (e.target.closest(".ws-q")) {
      if (e.target.tagName === "SELECT") { state.history[e.target.closest(".ws-q").dataset.q] = []; }
      refresh();
    }
  });

  /* ---------- time spent, and binding to each new task ---------- */

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { state.hiddenSince = performance.now(); }
    else if (state.hiddenSince !== null) { state.hiddenMs += performance.now() - state.hiddenSince; state.hiddenSince = null; }
  });
  function csrfCookie() {
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : null;
  }
  function visibleMs() { return state.priorMs + performance.now() - state.started - state.hiddenMs; }
  document.addEventListener("submit", function (e) {
    if (inflight && e.target.closest && e.target.closest("#task")) {
      // The task on screen becomes this annotator's lease only when the answer before it is saved.
      e.preventDefault();
      e.stopImmediatePropagation();
      if (e.target.id === "judgement-form") { queuedSubmit = true; } else { flash("Saving your previous answer… try again in a moment."); }
      return;
    }
    // Signing in again (in another tab) rotates the CSRF token: always send the current one.
    var token = csrfCookie(), field = e.target.elements && e.target.elements.csrfmiddlewaretoken;
    if (token && field) { field.value = token; }
    if (e.target.id !== "judgement-form") { return; }
    e.preventDefault();
    sendJudgement(e.target);
  }, true);
  function alertBox(html) {
    var t = taskEl() || document.getElementById("task");
    if (!t) { return; }
    var box = $(".ws-alert", t);
    if (!box) { box = document.createElement("div"); box.className = "ws-error ws-alert"; box.setAttribute("role", "alert"); box.tabIndex = -1; t.prepend(box); }
    box.innerHTML = html; // fixed text only, never server data
    box.scrollIntoView({ block: "nearest" });
    box.focus({ preventScroll: true });
  }
  function signedOut() {
    var login = (document.getElementById("ws") || {}).dataset;
    alertBox("<strong>You are signed out</strong> (your session ended). Your answer is still here and nothing was lost: " +
      '<a href="' + (login && login.loginUrl ? login.loginUrl : "/accounts/login/") + '" target="_blank" rel="noopener">sign in again in a new tab</a>, ' +
      "then come back and press Enter.");
  }
  function failed(status) { // status 0: the server could not be reached
    if (status === 401 || status === 403) { signedOut(); }
    else if (!status) { flash("Could not reach the server. Your answer is still here; press Enter to try again (it is never stored twice)."); }
    else { flash("The server answered " + status + ". Your answer is still here; press Enter to try again."); }
  }
  document.addEventListener("htmx:sendError", function () { failed(0); });
  document.addEventListener("htmx:responseError", function (e) { failed(e.detail.xhr.status); });

  /* ---------- submitting: the prefetched next task appears at once, the answer travels meanwhile ---------- */

  var inflight = null; // one submission at a time
  var queuedSubmit = false; // an Enter pressed meanwhile, sent once the save succeeds

  function readyToSubmit() {
    var qs = questions(), f = form();
    var ok = qs.length > 0 && allAnswered(qs);
    if (ok && tiesForbidden(qs[0]) && !bothBad()) {
      ok = groups(qs[0]).ranked.every(function (g) { return g.length === 1; });
    }
    if (ok && f && f.dataset.rationaleRequired === "1") { ok = !!f.elements.rationale.value.trim(); }
    return ok;
  }
  function fragment(html) { var box = document.createElement("template"); box.innerHTML = html; return box.content; }
  function showTask(el) {
    document.getElementById("task").replaceWith(el);
    if (window.htmx) { htmx.process(el); }
    bind();
  }
  function applyProgress(frag) {
    var fresh = frag.querySelector("#ws-progress"), current = document.getElementById("ws-progress");
    if (fresh && current) { fresh.removeAttribute("hx-swap-oob"); current.replaceWith(fresh); }
  }
  function sendJudgement(f) {
    if (inflight) { queuedSubmit = true; return; }
    var old = taskEl();
    if (!old) { return; }
    var spentMs = Math.max(0, Math.round(visibleMs()));
    f.elements.duration_ms.value = String(spentMs);
    var data = new FormData(f);
    var upcoming = document.getElementById("ws-next");
    var optimistic = !!(upcoming && readyToSubmit());
    var shown = null;
    if (optimistic) {
      // The next task is already reserved and rendered: show it now. `old` stays intact, answers
      // and all, in case the server refuses the answer or cannot be reached.
      var next = document.importNode(upcoming.content.querySelector("#task"), true);
      shown = next.dataset.assignment;
      data.append("shown", shown);
      upcoming.remove();
      showTask(next);
    } else {
      var button = $("button[type=submit]", f);
      if (button) { button.disabled = true; }
    }
    inflight = fetch(f.action, { method: "POST", body: data, credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (r) {
        return r.text().then(function (html) { return { status: r.status, html: html, notice: r.headers.get("X-Verdict-Notice") }; });
      })
      .then(function (res) {
        if (res.status === 200) {
          settle(fragment(res.html), shown, old.dataset.assignment);
          if (res.notice) { flash(decodeURIComponent(res.notice)); }
          return true;
        }
        restore(old, optimistic, res.status === 422 ? fragment(res.html) : null, spentMs);
        if (res.status !== 422) { failed(res.status); }
      }, function () {
        restore(old, optimistic, null, spentMs);
        failed(0);
      })
      .then(function (saved) {
        inflight = null;
        var button = $("#judgement-form button[type=submit]");
        if (button) { button.disabled = false; }
        var again = queuedSubmit;
        queuedSubmit = false;
        if (saved === true && again) { submit(); }
      });
  }
  function settle(frag, shown, answered) {
    try { sessionStorage.removeItem("ws-ms-" + answered); } catch (err) { /* private mode */ }
    applyProgress(frag);
    var task = frag.querySelector("#task");
    if (task) { // the server chose what to show: there was no prefetched task, or it was gone
      showTask(task);
      if (shown && task.dataset.assignment !== shown) {
        alertBox("The task that was on screen went to another annotator while you worked (reservations last " +
          "one lease time), so here is your next one.");
      }
      return;
    }
    var upcoming = frag.querySelector("template#ws-next"), t = taskEl();
    if (upcoming && t && t.dataset.assignment === upcoming.dataset.for && !document.getElementById("ws-next")) {
      t.appendChild(upcoming); // the task after this one
    }
  }
  function restore(old, optimistic, frag, spentMs) {
    if (frag) { // 422: the answer comes back with the server's message (and the next task again)
      applyProgress(frag);
      var again = frag.querySelector("#task");
      if (again) { showTask(again); }
    } else if (optimistic) {
      var shownTask = document.getElementById("task"), tpl = document.createElement("template");
      tpl.id = "ws-next";
      tpl.dataset.for = old.dataset.assignment;
      tpl.content.appendChild(shownTask.cloneNode(true));
      old.appendChild(tpl);
      showTask(old);
    }
    if (optimistic && state.assignment === old.dataset.assignment) { // the time spent so far still counts
      state.priorMs = spentMs;
      state.started = performance.now();
      state.hiddenMs = 0;
    }
  }

  function bind() {
    var t = taskEl();
    if (!t) { state.assignment = null; return; }
    var fresh = state.assignment !== t.dataset.assignment;
    if (fresh) {
      // A new task; a re-render of the same one (a validation message) keeps the timer running.
      // Time already spent on this lease before a reload is carried over (sessionStorage, per tab).
      var prior = 0;
      try { prior = parseFloat(sessionStorage.getItem("ws-ms-" + t.dataset.assignment)) || 0; } catch (err) { prior = 0; }
      state = { assignment: t.dataset.assignment, started: performance.now(), hiddenMs: 0, hiddenSince: null,
                priorMs: prior, active: 0, tieNext: false, history: {} };
    }
    var prompt = $(".ws-prompt", t);
    if (fresh && prompt) { prompt.scrollTop = prompt.scrollHeight; } // a long chat: the last user turn is what is answered
    var qs = questions(), first = 0;
    while (first < qs.length && answered(qs[first])) { first++; }
    state.active = first < qs.length ? first : 0;
    refresh();
    if (document.activeElement && document.activeElement !== document.body && !document.body.contains(document.activeElement)) {
      document.body.focus();
    }
    var error = $(".ws-error", t);
    if (error) { // a validation message: bring it into view and let screen readers announce it
      error.tabIndex = -1;
      error.scrollIntoView({ block: "center" });
      error.focus({ preventScroll: true });
    } else if (fresh && t.getBoundingClientRect().top < 0) {
      t.scrollIntoView({ block: "start" }); // the new task starts at its prompt
    }
  }
  window.addEventListener("pagehide", function () {
    if (!state.assignment) { return; }
    try { sessionStorage.setItem("ws-ms-" + state.assignment, String(Math.round(visibleMs()))); } catch (err) { /* private mode */ }
  });
  document.addEventListener("htmx:afterSettle", bind); // bind() is idempotent for the same task
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", bind); } else { bind(); }
})();
