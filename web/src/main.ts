// The Cascade console: a client of the public API only. The server's
// authorization is the only authorization: a screen the caller may not see
// shows "not found" because the API answered 404.
import "./style.css";
import type { Me, SessionInfo, TaskList, Task, Round, Version, DecisionPreview, Approval, Counterproposal, CPCommentList, OrgUnit, ProductLine, Measure, Diff } from "./api.gen";
import { ApiError, all, call, get, setCSRF, whenUnauthorized } from "./api";
import { h, clear, Child } from "./dom";
import { t, when, duration, currentLang, setLang } from "./i18n";
import { gridScreen } from "./grid";
import { studioScreen } from "./studio";
import { controlRoom } from "./control";
import { diffScreen } from "./diff";
import { attainmentScreen } from "./attainment";
import { format, parseAmount } from "./decimal";
import { startLive, stopLive, followScreen } from "./live";

export interface Ctx {
  me: Me;
  units: OrgUnit[];
  lines: ProductLine[];
  measures: Measure[];
}

let ctx: Ctx | null = null;
const app = document.getElementById("app")!;

export function navigate(path: string): void {
  history.pushState(null, "", path);
  void render();
}

// link is an anchor the router handles without a page load.
export function link(path: string, ...children: Child[]): HTMLAnchorElement {
  return h("a", {
    href: path,
    onclick: ((e: MouseEvent) => {
      if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
      e.preventDefault();
      navigate(path);
    }) as EventListener,
  }, ...children);
}

window.addEventListener("popstate", () => void render());
whenUnauthorized(() => {
  ctx = null;
  stopLive();
  if (location.pathname !== "/sign-in") navigate("/sign-in?next=" + encodeURIComponent(location.pathname + location.search));
});

export function unitName(u: OrgUnit | undefined): string {
  if (!u) return "";
  return currentLang() === "zh" && u.name_local ? u.name_local : u.name;
}

export function lineName(l: ProductLine | undefined): string {
  if (!l) return "";
  return currentLang() === "zh" && l.name_local ? l.name_local : l.name;
}

export function measureName(m: Measure | undefined): string {
  if (!m) return "";
  return currentLang() === "zh" && m.name_local ? m.name_local : m.name;
}

function hasRole(role: string): boolean {
  return !!ctx?.me.roles.some((r) => r.role === role);
}

async function loadContext(): Promise<Ctx> {
  if (ctx) return ctx;
  const [session, me, units, lines, measures] = await Promise.all([
    get<SessionInfo>("/sessions/current"),
    get<Me>("/me"),
    all<OrgUnit>("/org-units"),
    all<ProductLine>("/product-lines"),
    all<Measure>("/measures"),
  ]);
  setCSRF(session.csrf_token);
  ctx = { me, units, lines, measures };
  return ctx;
}

function shell(c: Ctx, main: HTMLElement): HTMLElement {
  const langBtn = h("button", { class: "link", type: "button", title: t("languageLabel"), onclick: () => { setLang(currentLang() === "zh" ? "en" : "zh"); void render(); } }, t("language"));
  const out = h("button", { class: "link", type: "button", onclick: async () => {
    try { await call("DELETE", "/sessions/current"); } catch { /* signed out anyway */ }
    ctx = null;
    stopLive();
    setCSRF("");
    navigate("/sign-in");
  } }, t("signOut"));
  return h("div", { class: "shell" },
    h("header", { class: "top" },
      link("/", h("span", { class: "brand" }, t("appName"))),
      h("nav", { "aria-label": "main" }, link("/", t("myWork"))),
      h("div", { class: "who" }, h("span", { id: "live-note", class: "live-note", role: "status", "aria-live": "polite" }),
        h("span", { class: "user-name" }, c.me.user.name), langBtn, out)),
    h("main", { id: "main" }, main));
}

function notFound(): HTMLElement {
  return h("section", { class: "not-found" }, h("h1", {}, t("notFound")), h("p", {}, t("notFoundText")), link("/", t("home")));
}

export function problemText(e: unknown): string {
  if (e instanceof ApiError) {
    const fields = e.problem?.errors?.map((f) => f.field + ": " + f.message).join("; ");
    return fields || e.message;
  }
  return String(e);
}

async function render(): Promise<void> {
  const path = location.pathname;
  document.documentElement.lang = currentLang() === "zh" ? "zh-CN" : "en";
  if (path === "/sign-in") return show(signInScreen());
  if (path === "/set-password") return show(setPasswordScreen());
  let c: Ctx;
  try {
    c = await loadContext();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return; // whenUnauthorized went to sign-in
    return show(h("p", { class: "error" }, t("error", { msg: problemText(e) })));
  }
  // The screens follow the caller's events without a reload, over one
  // stream for the tab.
  startLive();
  const main = h("div", {}, h("p", { class: "muted" }, t("loading")));
  show(shell(c, main));
  let m: RegExpExecArray | null;
  try {
    let screen: HTMLElement;
    if (path === "/") {
      screen = await homeScreen(c);
      followScreen(screen, () => true, () => homeScreen(c));
    }
    else if ((m = /^\/versions\/(\d+)\/grid$/.exec(path))) screen = await gridScreen(c, Number(m[1]), new URLSearchParams(location.search));
    else if ((m = /^\/versions\/(\d+)\/approval$/.exec(path))) screen = await approvalScreen(c, Number(m[1]));
    else if ((m = /^\/counterproposals\/(\d+)$/.exec(path))) screen = await counterproposalScreen(c, Number(m[1]));
    else if ((m = /^\/rounds\/(\d+)$/.exec(path))) screen = await controlRoom(c, Number(m[1]));
    else if ((m = /^\/rounds\/(\d+)\/attainment$/.exec(path))) screen = await attainmentScreen(c, Number(m[1]), new URLSearchParams(location.search));
    else if ((m = /^\/versions\/(\d+)\/studio$/.exec(path))) screen = await studioScreen(c, Number(m[1]), new URLSearchParams(location.search));
    else if ((m = /^\/versions\/(\d+)\/diff$/.exec(path))) screen = await diffScreen(c, Number(m[1]), new URLSearchParams(location.search));
    else screen = notFound();
    clear(main);
    main.appendChild(screen);
  } catch (e) {
    clear(main);
    if (e instanceof ApiError && e.status === 404) main.appendChild(notFound());
    else if (!(e instanceof ApiError && e.status === 401)) main.appendChild(h("p", { class: "error", role: "alert" }, t("error", { msg: problemText(e) })));
  }
}

function show(el: HTMLElement): void {
  clear(app);
  app.appendChild(el);
  const heading = el.querySelector("h1");
  document.title = (heading?.textContent ? heading.textContent + " · " : "") + "Cascade";
}

// ---- sign-in and passwords ----

function signInScreen(): HTMLElement {
  const user = h("input", { id: "username", name: "username", autocomplete: "username", required: true });
  const pass = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const msg = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "card narrow", onsubmit: async (e: Event) => {
    e.preventDefault();
    msg.textContent = "";
    try {
      const r = await call<SessionInfo>("POST", "/sessions", { username: user.value.trim(), password: pass.value });
      setCSRF(r.data.csrf_token);
      ctx = null;
      const next = new URLSearchParams(location.search).get("next");
      navigate(next && next.startsWith("/") && !next.startsWith("//") ? next : "/");
    } catch (err) {
      msg.textContent = err instanceof ApiError && err.status === 429 ? t("throttled") : err instanceof ApiError && err.status === 401 ? t("wrongCredentials") : problemText(err);
      pass.value = "";
      pass.focus();
    }
  } },
    h("h1", {}, t("appName")),
    h("label", { for: "username" }, t("username")), user,
    h("label", { for: "password" }, t("password")), pass,
    msg,
    h("button", { type: "submit", class: "primary" }, t("signIn")),
    h("button", { type: "button", class: "link", onclick: () => { setLang(currentLang() === "zh" ? "en" : "zh"); void render(); } }, t("language")));
  return h("main", { class: "center" }, form);
}

function setPasswordScreen(): HTMLElement {
  const token = new URLSearchParams(location.hash.slice(1)).get("token") ?? "";
  const pass = h("input", { id: "new-password", type: "password", autocomplete: "new-password", required: true, minlength: 10 });
  const msg = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "card narrow", onsubmit: async (e: Event) => {
    e.preventDefault();
    try {
      await call("POST", "/passwords", { token, password: pass.value });
      history.replaceState(null, "", "/set-password");
      clear(form);
      form.append(h("h1", {}, t("setPassword")), h("p", { role: "status" }, t("passwordSet")), link("/sign-in", t("signIn")));
    } catch (err) {
      msg.textContent = problemText(err);
    }
  } }, h("h1", {}, t("setPassword")), h("label", { for: "new-password" }, t("newPassword")), pass, msg, h("button", { type: "submit", class: "primary" }, t("setPassword")));
  return h("main", { class: "center" }, form);
}

// ---- my work ----

function taskText(task: Task, c: Ctx): string {
  const unit = task.org_unit_id ? unitName(c.units.find((u) => u.id === task.org_unit_id)) || (currentLang() === "zh" ? task.org_unit_name_local : task.org_unit_name) || "" : "";
  return t("task." + task.kind, { unit, title: task.counterproposal_title ?? "", n: task.undecided, role: task.step_role ? t("role." + task.step_role) : "" });
}

function taskLink(task: Task): string {
  switch (task.kind) {
    case "review_targets":
      return `/versions/${task.version_id}/grid?unit=${encodeURIComponent(task.org_unit_code ?? "")}`;
    case "submit_counterproposal":
    case "decide_counterproposal":
      return `/counterproposals/${task.counterproposal_id}`;
    default:
      return `/versions/${task.version_id}/approval`;
  }
}

// homeUnit is the unit a person's grid opens on: their scope, else the root.
export function homeUnit(c: Ctx): string {
  const scoped = c.me.roles.find((r) => r.org_unit_id);
  const u = scoped ? c.units.find((x) => x.id === scoped.org_unit_id) : c.units.find((x) => !x.parent_id);
  return u?.code ?? "";
}

async function homeScreen(c: Ctx): Promise<HTMLElement> {
  const [tasks, rounds] = await Promise.all([get<TaskList>("/me/tasks"), all<Round>("/rounds")]);
  const list = tasks.items.length === 0
    ? h("p", { class: "muted" }, t("nothingWaiting"))
    : h("ul", { class: "tasks" }, tasks.items.map((task) =>
      h("li", { class: "task " + task.kind },
        h("div", {}, link(taskLink(task), taskText(task, c)), h("div", { class: "muted" }, task.round_name)),
        h("div", { class: "due" }, task.due ? t("due") + " " + when(task.due) : t("noDeadline")))));
  const live = rounds.filter((r) => r.working_version_id || hasRole("strategy_office") || hasRole("admin"));
  return h("section", {},
    h("h1", {}, t("myWork")), list,
    h("h2", {}, t("rounds")),
    h("table", { class: "plain" },
      h("tbody", {}, live.map((r) => h("tr", {},
        h("th", { scope: "row" }, link(`/rounds/${r.id}`, r.name)),
        h("td", {}, t("phase." + r.status)),
        h("td", {}, r.working_version_id ? link(`/versions/${r.working_version_id}/grid?unit=${encodeURIComponent(homeUnit(c))}`, t("targets")) : ""),
        h("td", {}, r.working_version_id ? link(`/versions/${r.record_version_id ?? r.working_version_id}/approval`, t("approval")) : ""),
        h("td", {}, r.working_version_id && (hasRole("product_manager") || hasRole("strategy_office") || hasRole("admin")) ? link(`/versions/${r.working_version_id}/studio`, t("studio")) : ""),
        h("td", {}, r.record_version_id || r.status !== "draft" ? link(`/rounds/${r.id}/attainment`, t("attainment")) : ""))))));
}

// ---- counterproposals ----

async function counterproposalScreen(c: Ctx, id: number): Promise<HTMLElement> {
  const res = await call<Counterproposal>("GET", `/counterproposals/${id}`);
  const cp = res.data;
  const [version, comments] = await Promise.all([get<Version>(`/versions/${cp.version_id}`), get<CPCommentList>(`/counterproposals/${id}/comments`)]);
  const measures = new Map(c.measures.map((m) => [m.code, m]));
  const lines = new Map(c.lines.map((l) => [l.code, l]));
  const unit = c.units.find((u) => u.id === cp.org_unit_id);
  const mine = (code: string) => { const l = lines.get(code); return !!l && c.me.owned_product_line_ids.includes(l.id); };
  const msg = h("p", { role: "status" });
  const fmt = (s: string, m: string) => { const sc = measures.get(m)?.scale ?? 2; return format(parseAmount(s, sc), sc, false); };

  const decisions = new Map<number, { action: HTMLSelectElement; amount: HTMLInputElement; apply: HTMLSelectElement; comment: HTMLInputElement }>();
  const deciding = cp.status === "submitted" && hasRole("product_manager");
  const rows = cp.lines.map((l) => {
    let decisionCell: HTMLElement;
    if (l.decision) {
      decisionCell = h("td", {}, t(l.decision), l.decided_amount ? " " + fmt(l.decided_amount, l.measure) : "", l.apply ? " · " + t(l.apply) : "",
        h("div", { class: "muted" }, l.decided_by_name ? t("decidedBy", { name: l.decided_by_name }) : "", l.decision_comment ? " — " + l.decision_comment : ""));
    } else if (deciding && mine(l.product_line)) {
      const action = h("select", { "aria-label": t("decision") + " " + lineName(lines.get(l.product_line)) }, ["accept", "modify", "reject"].map((a) => h("option", { value: a }, t(a))));
      const amount = h("input", { class: "amount", "aria-label": t("amount"), inputmode: "decimal", value: l.proposed });
      const apply = h("select", { "aria-label": t("apply") }, ["rebalance", "raise_parent"].map((a) => h("option", { value: a }, t(a))));
      const comment = h("input", { "aria-label": t("comment"), placeholder: t("comment") });
      decisions.set(l.id, { action, amount, apply, comment });
      decisionCell = h("td", { class: "decide" }, action, amount, apply, comment);
    } else {
      decisionCell = h("td", { class: "muted" }, "—");
    }
    return h("tr", {},
      h("td", {}, lineName(lines.get(l.product_line))),
      h("td", {}, measureName(measures.get(l.measure))),
      h("td", {}, l.period === "year" ? t("year") : l.period),
      h("td", { class: "num" }, fmt(l.current, l.measure)),
      h("td", { class: "num" }, fmt(l.proposed, l.measure)),
      h("td", { class: "num" }, fmt(l.delta, l.measure)),
      h("td", {}, l.reason),
      decisionCell);
  });

  const actions: HTMLElement[] = [];
  if (cp.status === "draft" && cp.author_id === c.me.user.id) {
    actions.push(h("button", { class: "primary", type: "button", onclick: async () => {
      try {
        await call("POST", `/counterproposals/${id}/submit`, undefined, res.etag ? { "If-Match": res.etag } : {});
        navigate(location.pathname);
      } catch (e) { msg.textContent = problemText(e); }
    } }, t("submit")));
  }
  const effects = h("div", { class: "effects" });
  const decisionBody = () => ({ decisions: [...decisions.entries()].map(([lineID, d]) => ({
    line_id: lineID, decision: d.action.value, comment: d.comment.value,
    ...(d.action.value === "modify" ? { amount: d.amount.value.replace(/,/g, "") } : {}),
    ...(d.action.value !== "reject" ? { apply: d.apply.value } : {}),
  })) });
  if (decisions.size > 0) {
    actions.push(h("button", { type: "button", onclick: async () => {
      clear(effects);
      try {
        const p = (await call<DecisionPreview>("POST", `/counterproposals/${id}/decision/preview`, decisionBody())).data;
        const byLine = new Map(cp.lines.map((l) => [l.id, l]));
        effects.append(h("table", { class: "plain" },
          h("caption", {}, t("previewCaption")),
          h("thead", {}, h("tr", {}, [t("productLine"), t("unit"), t("before"), t("after"), t("delta")].map((x) => h("th", { scope: "col" }, x)))),
          h("tbody", {}, p.items.map((e) => {
            const l = byLine.get(e.line_id);
            const m = l?.measure ?? "";
            return h("tr", { class: "rel-" + e.relation },
              h("td", {}, lineName(lines.get(l?.product_line ?? ""))),
              h("td", {}, (currentLang() === "zh" && e.org_unit_name_local ? e.org_unit_name_local : e.org_unit_name) + " · " + t("rel." + e.relation)),
              h("td", { class: "num" }, fmt(e.before, m)), h("td", { class: "num" }, fmt(e.after, m)), h("td", { class: "num" }, fmt(e.delta, m)));
          }))));
      } catch (e) { msg.textContent = problemText(e); }
    } }, t("preview")));
    actions.push(h("button", { class: "primary", type: "button", onclick: async () => {
      const body = decisionBody();
      try {
        await call("POST", `/counterproposals/${id}/decision`, body, res.etag ? { "If-Match": res.etag } : {});
        navigate(location.pathname);
      } catch (e) { msg.textContent = problemText(e); }
    } }, t("decide")));
  }
  const screen = h("section", {},
    h("h1", {}, t("counterproposal") + ": " + cp.title),
    h("dl", { class: "facts" },
      h("dt", {}, t("unit")), h("dd", {}, unitName(unit)),
      h("dt", {}, t("status")), h("dd", { class: "status" }, t("status." + cp.status)),
      h("dt", {}, t("author")), h("dd", {}, cp.author_name),
      cp.submitted_at ? [h("dt", {}, t("submitted")), h("dd", {}, when(cp.submitted_at))] : null),
    h("p", {}, link(`/versions/${version.id}/grid?unit=${encodeURIComponent(cp.org_unit)}`, t("targets"))),
    h("table", { class: "plain lines" },
      h("thead", {}, h("tr", {}, [t("productLine"), t("measure"), t("period"), t("current"), t("proposed"), t("delta"), t("reason"), t("decision")].map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, rows)),
    h("div", { class: "actions" }, actions), msg, effects,
    h("h2", {}, t("comments")),
    h("ul", { class: "history comments" }, comments.items.map((cm) => h("li", {}, h("strong", {}, cm.author_name), " · " + when(cm.created_at), h("div", { class: "comment" }, cm.body)))),
    commentForm(id));
  // Live: its status, decisions and comments; the amounts it is read
  // against; the round's phase (who may act).
  followScreen(screen, (e) => (e.data.entity === "counterproposal" && e.data.entity_id === id) ||
    (e.data.version_id === cp.version_id && ["allocation.saved", "targets.edited", "version.frozen"].includes(e.type)) ||
    (e.data.round_id === version.round_id && e.type.startsWith("round.")), () => counterproposalScreen(c, id));
  return screen;
}

function commentForm(id: number): HTMLElement {
  const body = h("textarea", { id: "new-comment", rows: 2 });
  const msg = h("p", { role: "status" });
  return h("form", { class: "card", onsubmit: async (e: Event) => {
    e.preventDefault();
    if (!body.value.trim()) return;
    try {
      await call("POST", `/counterproposals/${id}/comments`, { body: body.value });
      navigate(location.pathname);
    } catch (err) { msg.textContent = problemText(err); }
  } }, h("label", { for: "new-comment" }, t("addComment")), body, h("div", { class: "actions" }, h("button", { type: "submit" }, t("send"))), msg);
}

// ---- approval ----

async function approvalScreen(c: Ctx, vid: number): Promise<HTMLElement> {
  const version = await get<Version>(`/versions/${vid}`);
  const [round, res] = await Promise.all([get<Round>(`/rounds/${version.round_id}`), call<Approval>("GET", `/versions/${vid}/approval`)]);
  const ap = res.data;
  const msg = h("p", { role: "status" });
  const comment = h("textarea", { id: "approval-comment", rows: 2 });
  const act = (action: string) => async () => {
    if (action === "reject" && !comment.value.trim()) { msg.textContent = t("rejectReasonRequired"); comment.focus(); return; }
    try {
      await call("POST", `/versions/${vid}/approval/actions`, { action, comment: comment.value }, res.etag ? { "If-Match": res.etag } : {});
      navigate(location.pathname);
    } catch (e) { msg.textContent = problemText(e); }
  };
  const myTurn = ap.next_role && hasRole(ap.next_role);
  const canSubmit = ap.state === "none" && round.status === "review" && round.approval_chain.length > 0 && hasRole(round.approval_chain[0].role);
  const buttons: HTMLElement[] = [];
  if (myTurn) buttons.push(h("button", { class: "primary", type: "button", onclick: act("approve") }, t("approve")), h("button", { class: "danger", type: "button", onclick: act("reject") }, t("reject")));
  if (canSubmit) buttons.push(h("button", { class: "primary", type: "button", onclick: act("submit") }, t("submit")));

  let diff: HTMLElement = h("p", { class: "muted" }, t("noDiff"));
  if (version.parent_id) {
    const revenue = c.measures.find((m) => m.code === "revenue") ?? c.measures[0];
    const d = await get<Diff>(`/versions/${vid}/diff?against=${version.parent_id}&measure=${revenue.code}&limit=1`);
    const byCode = new Map(c.units.map((u) => [u.code, u]));
    diff = h("table", { class: "plain" },
      h("caption", {}, t("changedCells", { n: d.changed_cells, measure: measureName(revenue) })),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("unit")), h("th", { scope: "col" }, t("before")), h("th", { scope: "col" }, t("after")), h("th", { scope: "col" }, t("delta")))),
      h("tbody", {}, d.rollups.by_org_unit.slice(0, 20).map((r) => h("tr", {},
        h("td", {}, unitName(byCode.get(r.key)) || r.key),
        h("td", { class: "num" }, format(parseAmount(r.before, revenue.scale), revenue.scale, false)),
        h("td", { class: "num" }, format(parseAmount(r.after, revenue.scale), revenue.scale, false)),
        h("td", { class: "num" }, format(parseAmount(r.delta, revenue.scale), revenue.scale, false))))));
  }
  const screen = h("section", {},
    h("h1", {}, t("approval") + ": " + round.name + " · " + t("version", { n: version.number })),
    h("p", { class: "state " + ap.state }, t("approval." + ap.state)),
    h("ol", { class: "timeline" }, ap.steps.map((s) => h("li", { class: "step " + s.state },
      h("div", { class: "role" }, t("role." + s.role)),
      h("div", { class: "muted" }, t("state." + s.state), s.actor_name ? " · " + s.actor_name : "", s.at ? " · " + when(s.at) : "", s.took_seconds ? " · " + t("took", { d: duration(s.took_seconds) }) : ""),
      s.comment ? h("div", { class: "comment" }, s.comment) : null))),
    buttons.length ? h("div", { class: "card" }, h("label", { for: "approval-comment" }, t("comment")), comment, h("div", { class: "actions" }, buttons), msg) : null,
    h("h2", {}, t("history")),
    h("ul", { class: "history" }, ap.history.map((x) => h("li", { class: "action-" + x.action },
      h("strong", {}, x.actor_name), " " + t("action." + x.action) + " · " + t("role." + (round.approval_chain[x.step]?.role ?? "")) + " · " + when(x.at),
      x.comment ? h("div", { class: "comment" }, x.comment) : null))),
    h("h2", {}, t("diff")), diff,
    version.parent_id ? h("p", {}, link(`/versions/${vid}/diff?against=${version.parent_id}`, t("fullDiff"))) : null,
    h("p", {}, link(`/versions/${vid}/grid?unit=${encodeURIComponent(homeUnit(c))}`, t("targets"))));
  // Live: the version's steps and changes, and the round's phase.
  followScreen(screen, (e) => (e.data.version_id === vid && !e.type.startsWith("deadline.")) ||
    (e.data.round_id === round.id && e.type.startsWith("round.")), () => approvalScreen(c, vid));
  return screen;
}

void render();
