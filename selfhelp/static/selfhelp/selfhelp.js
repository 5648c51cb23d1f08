// Self-help pages: exercises, progress and the safety plan live in ONE localStorage key on this device.
// Nothing typed here is ever sent anywhere; the only requests are anonymous counts to /count/.
const STORE_KEY = "helpline.selfhelp.v1";
const PLAN_FIELDS = ["warning_signs", "coping_steps", "contacts", "reasons"];

function emptyState() {
  return { answers: {}, plan: {}, modules: {}, counted: {} };
}

export function loadState() {
  try {
    const parsed = JSON.parse(window.localStorage.getItem(STORE_KEY) || "null");
    if (parsed && typeof parsed === "object") return Object.assign(emptyState(), parsed);
  } catch (error) { /* unreadable or blocked storage: start empty */ }
  return emptyState();
}

function saveState(state) {
  try {
    window.localStorage.setItem(STORE_KEY, JSON.stringify(state));
    return true;
  } catch (error) {
    return false;
  }
}

function wipeState() {
  try { window.localStorage.removeItem(STORE_KEY); } catch (error) { /* nothing to wipe */ }
}

function readRawState() {
  try { return window.localStorage.getItem(STORE_KEY); } catch (error) { return null; }
}

function writeRawState(raw) {
  try { window.localStorage.setItem(STORE_KEY, raw); } catch (error) { /* storage blocked: nothing to bring back */ }
}

// An anonymous count: a metric name and, at most, a module slug or result band. No identifier, no answer.
// fetch with keepalive outlives the page like sendBeacon does, and omits credentials explicitly.
function count(metric, dimension) {
  const body = JSON.stringify(dimension === undefined ? { metric } : { metric, dimension });
  try {
    fetch("/count/", { method: "POST", body, headers: { "Content-Type": "application/json" },
      credentials: "omit", keepalive: true, cache: "no-store", referrerPolicy: "no-referrer" }).catch(() => {});
  } catch (error) { /* counting is best effort */ }
}

function strings() {
  const node = document.getElementById("selfhelp-strings");
  return node ? JSON.parse(node.textContent) : {};
}

function planHasContent(plan) {
  return PLAN_FIELDS.some((name) => typeof plan[name] === "string" && plan[name].trim() !== "");
}

function countPlanOnce(state) {
  if (!state.counted.plan && planHasContent(state.plan)) {
    state.counted.plan = true;
    count("selfhelp.safety_plan_made");
  }
}

function setStatus(root, text) {
  const status = root.querySelector("[data-status]");
  if (status) status.textContent = text;
}

// Wipe asks first, then can be undone for a few seconds. The copy that undo brings back is held only in this
// page's memory, and only until the time is up; it is never written anywhere else.
function setupWipe(root, text, reload) {
  const noScript = root.querySelector("[data-no-script]");
  if (noScript) noScript.hidden = true;
  const button = root.querySelector("[data-wipe]");
  if (!button) return;
  const confirm = root.querySelector("[data-wipe-confirm]");
  const undo = root.querySelector("[data-wipe-undo]");
  const seconds = Number(button.closest("[data-undo-seconds]").dataset.undoSeconds);
  let kept = null;
  let timer = null;
  const asking = (on) => {
    confirm.hidden = !on;
    button.hidden = on;
  };
  const forgetCopy = () => {
    window.clearTimeout(timer);
    kept = null;
    const hadFocus = document.activeElement === undo;
    undo.hidden = true;
    if (hadFocus) button.focus();
  };
  button.hidden = false;
  button.addEventListener("click", () => {
    asking(true);
    confirm.querySelector("[tabindex]").focus();
  });
  root.querySelector("[data-wipe-no]").addEventListener("click", () => {
    asking(false);
    button.focus();
  });
  root.querySelector("[data-wipe-yes]").addEventListener("click", () => {
    forgetCopy();
    kept = readRawState();
    wipeState();
    reload();
    asking(false);
    if (kept === null) {
      setStatus(root, text.wiped);
      button.focus();
      return;
    }
    setStatus(root, `${text.wiped} ${text.undo_hint.replace("{seconds}", String(seconds))}`);
    undo.hidden = false;
    undo.focus();
    timer = window.setTimeout(() => {
      forgetCopy();
      setStatus(root, text.wiped);
    }, seconds * 1000);
  });
  undo.addEventListener("click", () => {
    const copy = kept;
    forgetCopy();
    if (copy !== null) writeRawState(copy);
    reload();
    setStatus(root, text.restored);
    button.focus();
  });
}

// --- Module page: restore answers, save on every change, count start and finish once per device ----------

function readExercise(node) {
  const kind = node.dataset.kind;
  if (kind === "checklist") {
    return [...node.querySelectorAll("input[type=checkbox]")].filter((box) => box.checked).map((box) => box.value);
  }
  if (kind === "scale") {
    const chosen = node.querySelector("input[type=radio]:checked");
    return chosen ? chosen.value : "";
  }
  return node.querySelector("textarea").value;
}

function writeExercise(node, value) {
  const kind = node.dataset.kind;
  if (kind === "checklist") {
    const chosen = Array.isArray(value) ? value : [];
    node.querySelectorAll("input[type=checkbox]").forEach((box) => { box.checked = chosen.includes(box.value); });
  } else if (kind === "scale") {
    node.querySelectorAll("input[type=radio]").forEach((radio) => { radio.checked = radio.value === value; });
  } else {
    node.querySelector("textarea").value = typeof value === "string" ? value : "";
  }
}

function setupModule(root, text) {
  const slug = root.dataset.slug;
  let state = loadState();
  const exercises = [...root.querySelectorAll("[data-exercise]")];
  const finish = root.querySelector("[data-finish]");
  const finishStatus = root.querySelector("[data-finish-status]");
  const restore = () => {
    for (const node of exercises) {
      const field = node.dataset.planField;
      writeExercise(node, field ? state.plan[field] : state.answers[node.dataset.exercise]);
    }
    const finished = Boolean(state.modules[slug] && state.modules[slug].completed);
    if (finishStatus) finishStatus.textContent = finished ? text.finished : "";
    markProgress(root, state.modules, text);
  };
  restore();
  for (const node of exercises) {
    const onChange = () => {
      const value = readExercise(node);
      const field = node.dataset.planField;
      if (field) state.plan[field] = value; else state.answers[node.dataset.exercise] = value;
      state.modules[slug] = state.modules[slug] || {};
      if (!state.modules[slug].started) {
        state.modules[slug].started = true;
        count("selfhelp.module_started", slug);
      }
      countPlanOnce(state);
      setStatus(root, saveState(state) ? text.saved : text.not_saved);
    };
    node.addEventListener("input", onChange);
    node.addEventListener("change", onChange);
  }
  if (finish) {
    finish.hidden = false;
    finish.addEventListener("click", () => {
      state.modules[slug] = state.modules[slug] || {};
      if (!state.modules[slug].completed) {
        state.modules[slug].completed = true;
        count("selfhelp.module_completed", slug);
      }
      saveState(state);
      restore();
      // The path goes on: take the visitor to the link to the next module.
      const next = root.querySelector("[data-next-module]");
      if (next) next.focus();
    });
  }
  setupWipe(root, text, () => { state = loadState(); restore(); });
}

// --- Safety plan page -------------------------------------------------------------------------------------

function planAsText(plan, text) {
  const lines = [text.plan_title, "", text.plan_note, ""];
  for (const name of PLAN_FIELDS) {
    lines.push(text[`plan_${name}`], (plan[name] || "").trim() || "-", "");
  }
  return lines.join("\n");
}

function setupSafetyPlan(root, text) {
  let state = loadState();
  const fields = [...root.querySelectorAll("textarea[data-plan-field]")];
  const restore = () => { fields.forEach((area) => { area.value = state.plan[area.dataset.planField] || ""; }); };
  restore();
  for (const area of fields) {
    area.addEventListener("input", () => {
      state.plan[area.dataset.planField] = area.value;
      countPlanOnce(state);
      setStatus(root, saveState(state) ? text.saved : text.not_saved);
    });
  }
  const printButton = root.querySelector("[data-print]");
  printButton.hidden = false;
  printButton.addEventListener("click", () => window.print());
  const download = root.querySelector("[data-download]");
  download.hidden = false;
  download.addEventListener("click", () => {
    const blob = new Blob([planAsText(state.plan, text)], { type: "text/plain;charset=utf-8" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = text.plan_file || "safety-plan.txt";
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  });
  setupWipe(root, text, () => { state = loadState(); restore(); });
}

// --- Right-now page: show the visitor's own plan, if this device has one -----------------------------------

function setupRightNow(root) {
  const plan = loadState().plan;
  if (!planHasContent(plan)) return;
  for (const name of PLAN_FIELDS) {
    const value = (plan[name] || "").trim();
    const show = root.querySelector(`[data-plan-show="${name}"]`);
    if (!value || !show) continue;
    show.textContent = value;
    show.hidden = false;
    root.querySelector(`[data-plan-label="${name}"]`).hidden = false;
  }
  document.getElementById("my-plan").hidden = false;
}

// --- Module list: this device's own progress marks ------------------------------------------------------

// Marks every [data-module-slug] item (module list cards, a module's path) with this device's progress.
function markProgress(root, modules, text) {
  for (const item of root.querySelectorAll("[data-module-slug]")) {
    const progress = modules[item.dataset.moduleSlug];
    const mark = item.querySelector("[data-progress]");
    const done = Boolean(progress && (progress.started || progress.completed));
    mark.textContent = done ? (progress.completed ? text.completed : text.started) : "";
    mark.hidden = !done;
  }
}

function setupModuleList(root, text) {
  markProgress(root, loadState().modules, text);
}

// --- Self-check: the same rules as selfhelp/selfcheck.py (score_selfcheck), computed here ------------------

export function scoreSelfCheck(questions, answers, scaleScores, bands) {
  const top = Math.max(...scaleScores);
  let total = 0;
  let talkNow = false;
  const suggestions = new Map();
  const order = new Map();
  for (const question of questions) for (const slug of question.modules) if (!order.has(slug)) order.set(slug, order.size);
  for (const question of questions) {
    const index = answers[question.key];
    const score = question.reverse ? top - scaleScores[index] : scaleScores[index];
    total += score;
    if (question.talk_now_threshold > 0 && score >= question.talk_now_threshold) talkNow = true;
    if (score >= 2) for (const slug of question.modules) suggestions.set(slug, (suggestions.get(slug) || 0) + 1);
  }
  let band = "";
  for (const [name, minScore] of [...bands].sort((a, b) => a[1] - b[1])) if (total >= minScore) band = name;
  const ranked = [...suggestions.keys()].sort((a, b) => (suggestions.get(b) - suggestions.get(a)) || (order.get(a) - order.get(b)));
  return { total, band: talkNow ? "talk-now" : band, talkNow, suggested: ranked.slice(0, 3) };
}

function setupSelfCheck(root) {
  const form = root.querySelector("[data-selfcheck-form]");
  const dataNode = document.getElementById("selfcheck-data");
  if (!form || !dataNode) return;
  const data = JSON.parse(dataNode.textContent);
  form.addEventListener("submit", (event) => {
    const answers = {};
    for (const question of data.questions) {
      const chosen = form.querySelector(`input[name="${CSS.escape(question.key)}"]:checked`);
      if (!chosen) return; // let the server say which question is missing
      answers[question.key] = Number(chosen.value);
    }
    event.preventDefault();
    const result = scoreSelfCheck(data.questions, answers, data.scale_scores, data.bands);
    const section = document.getElementById("selfcheck-result");
    section.querySelectorAll("[data-band-text]").forEach((node) => { node.hidden = node.dataset.bandText !== result.band; });
    const suggestions = section.querySelector("[data-suggestions]");
    const list = suggestions.querySelector("ul");
    list.replaceChildren();
    for (const slug of result.suggested) {
      const module = data.modules[slug];
      if (!module) continue;
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = module.url;
      link.textContent = module.title;
      item.append(link);
      list.append(item);
    }
    suggestions.hidden = list.children.length === 0;
    form.hidden = true;
    section.hidden = false;
    section.querySelector("h2").focus();
    count("selfhelp.selfcheck_completed", result.band);
  });
}

const root = typeof document === "undefined" ? null : document.getElementById("selfhelp");
if (root) {
  const text = strings();
  const page = root.dataset.page;
  if (page === "module") setupModule(root, text);
  else if (page === "safety-plan") setupSafetyPlan(root, text);
  else if (page === "right-now") setupRightNow(root);
  else if (page === "module-list") setupModuleList(root, text);
  else if (page === "self-check") setupSelfCheck(root);
}
