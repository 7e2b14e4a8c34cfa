// The round control room (strategy office): the round's phase among all
// phases, its calendar with live countdowns, every move the API lists as a
// button (the API's moves: the allowed ones enabled, the others disabled
// with the API's reason), who has answered with counterproposals as a board of
// org units × status with silent units highlighted, the approval chain's
// position, and the versions as a lineage graph with their consistency.
import type { Round, VersionPage, Version, CPOverview, Approval, InconsistencyPage } from "./api.gen";
import { ApiError, call, get } from "./api";
import { h, clear } from "./dom";
import { t, when } from "./i18n";
import { Ctx, unitName, problemText, link, navigate, homeUnit } from "./main";
import { followScreen } from "./live";

const PHASES = ["draft", "open", "counterproposals", "review", "approved", "closed"];
const CP_STATES = ["none", "draft", "submitted", "closed", "withdrawn"];

// countdown says how long until due, or how long ago it passed.
export function countdown(due: string, now = Date.now()): { text: string; overdue: boolean } {
  let s = Math.round((new Date(due).getTime() - now) / 1000);
  const overdue = s < 0;
  s = Math.abs(s);
  const d = Math.floor(s / 86400), hh = Math.floor((s % 86400) / 3600), mm = Math.floor((s % 3600) / 60);
  const span = d > 0 ? t("dh", { d, h: hh }) : hh > 0 ? t("hm", { h: hh, m: mm }) : t("mOnly", { m: mm });
  return { text: overdue ? t("overdueBy", { span }) : t("dueIn", { span }), overdue };
}

// boardCells sums the overview by org unit and state: lines, undecided
// lines and how many rows (product lines) fell there.
export function boardCells(o: CPOverview): Map<string, Map<string, { lines: number; undecided: number }>> {
  const out = new Map<string, Map<string, { lines: number; undecided: number }>>();
  for (const it of o.items) {
    if (!out.has(it.org_unit)) out.set(it.org_unit, new Map());
    const row = out.get(it.org_unit)!;
    const cell = row.get(it.status) ?? { lines: 0, undecided: 0 };
    cell.lines += it.lines;
    cell.undecided += it.undecided;
    row.set(it.status, cell);
  }
  return out;
}

export async function controlRoom(c: Ctx, id: number): Promise<HTMLElement> {
  const res = await call<Round>("GET", `/rounds/${id}`);
  const round = res.data;
  const versions = (await get<VersionPage>(`/rounds/${id}/versions?limit=100`)).items;
  const wv = round.working_version_id;
  const focus = wv ?? round.record_version_id;
  const [overview, approval, consistency] = await Promise.all([
    wv ? get<CPOverview>(`/versions/${wv}/counterproposals/overview`).catch(() => null) : Promise.resolve(null),
    focus ? get<Approval>(`/versions/${focus}/approval`).catch(() => null) : Promise.resolve(null),
    Promise.all(versions.map((v) => get<InconsistencyPage>(`/versions/${v.id}/consistency?limit=100`).catch((e) => (e instanceof ApiError ? null : Promise.reject(e))))),
  ]);
  const msg = h("p", { role: "status" });

  // ---- phase, calendar, moves ----
  const stepper = h("ol", { class: "phases" }, PHASES.map((p) => h("li", {
    class: "phase-step" + (p === round.status ? " current phase" : PHASES.indexOf(p) < PHASES.indexOf(round.status) ? " past" : ""),
    "aria-current": p === round.status ? "step" : null,
  }, t("phase." + p))));
  const cdCells: { el: HTMLElement; due: string }[] = [];
  const calendar = h("table", { class: "plain calendar" },
    h("thead", {}, h("tr", {}, [t("phase"), t("due"), t("countdown")].map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, round.calendar.map((d) => {
      const cd = h("td", { class: "countdown", "data-due": d.due });
      cdCells.push({ el: cd, due: d.due });
      return h("tr", { class: d.phase === round.status ? "current" : "" }, h("td", {}, t("phase." + d.phase)), h("td", {}, when(d.due)), cd);
    })));
  const tick = () => {
    for (const x of cdCells) {
      const cd = countdown(x.due);
      x.el.textContent = cd.text;
      x.el.classList.toggle("overdue", cd.overdue);
    }
  };
  tick();
  const timer = window.setInterval(() => { if (!document.body.contains(calendar)) window.clearInterval(timer); else tick(); }, 30_000);

  const comment = h("input", { id: "transition-comment" });
  // Every move the API lists, as a button; a refused one disabled, with
  // the API's reason: its kind in the reader's language, its words as the
  // API says them (the detail the POST would answer).
  const moves = round.moves.map((tr) => {
    const p = tr.to;
    const reason = tr.allowed ? null : tr.reason;
    const rid = "move-reason-" + p;
    const btn = h("button", {
      type: "button", class: reason ? "" : "primary", disabled: !tr.allowed, "data-to": p, title: tr.description, "aria-describedby": reason ? rid : null,
      onclick: async () => {
        try {
          await call("POST", `/rounds/${id}/transitions`, { to: p, comment: comment.value }, res.etag ? { "If-Match": res.etag } : {});
          navigate(location.pathname);
        } catch (e) { msg.textContent = problemText(e); }
      },
    }, t("moveTo", { phase: t("phase." + p) }));
    const desc = t("movedesc." + p) === "movedesc." + p ? tr.description : t("movedesc." + p);
    return h("li", { class: "move" + (tr.allowed ? "" : " blocked") }, btn, reason
      ? h("span", { class: "muted reason", id: rid, "data-code": reason.code },
        h("span", { class: "tag" }, t("why.kind." + reason.code)), " ", h("span", { class: "reason-text", lang: "en" }, reason.message))
      : h("span", { class: "muted" }, desc));
  });

  // ---- counterproposal board ----
  let board: HTMLElement = h("p", { class: "muted" }, t("noBoard"));
  if (overview) {
    const cells = boardCells(overview);
    const order = new Map(c.units.map((u, i) => [u.code, i]));
    const units = [...cells.keys()].sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
    const silent = units.filter((u) => cells.get(u)!.has("none")).length;
    board = h("div", {},
      h("p", { class: "board-summary" }, t("boardSummary", { n: units.length, silent })),
      h("table", { class: "plain board", "data-version": overview.version_id },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("unit")), CP_STATES.map((s) => h("th", { scope: "col", class: "num" }, t("cpstate." + s))))),
        h("tbody", {}, units.map((code) => {
          const row = cells.get(code)!;
          const isSilent = row.has("none");
          return h("tr", { class: isSilent ? "silent" : "", "data-unit": code },
            h("th", { scope: "row" }, unitName(c.units.find((u) => u.code === code)) || code, isSilent ? h("span", { class: "tag" }, t("silent")) : null),
            CP_STATES.map((s) => {
              const x = row.get(s);
              return h("td", { class: "num", "data-status": s, "data-lines": x ? x.lines : 0, "data-undecided": x ? x.undecided : 0 },
                x ? (s === "none" ? "—" : t("linesN", { n: x.lines }) + (x.undecided ? " · " + t("undecidedN", { n: x.undecided }) : "")) : "");
            }));
        }))));
  }

  // ---- approval chain ----
  const chain = approval ? h("div", {},
    h("p", { class: "state " + approval.state }, t("approval." + approval.state), " · ", link(`/versions/${approval.version_id}/approval`, t("openApproval"))),
    h("ol", { class: "timeline" }, approval.steps.map((s) => h("li", { class: "step " + s.state, "data-step": s.step },
      h("div", { class: "role" }, t("role." + s.role)),
      h("div", { class: "muted" }, t("state." + s.state), s.actor_name ? " · " + s.actor_name : "", s.at ? " · " + when(s.at) : ""))))) : h("p", { class: "muted" }, t("noApproval"));

  // ---- versions as a lineage graph ----
  const kids = new Map<number | null, Version[]>();
  for (const v of versions) {
    const p = v.parent_id != null && versions.some((x) => x.id === v.parent_id) ? v.parent_id : null;
    if (!kids.has(p)) kids.set(p, []);
    kids.get(p)!.push(v);
  }
  const consistent = new Map(versions.map((v, i) => [v.id, consistency[i]]));
  const node = (v: Version): HTMLElement => {
    const cons = consistent.get(v.id);
    const record = v.id === round.record_version_id;
    const consText = cons === null || cons === undefined ? "" : cons.items.length === 0 ? "✓ " + t("addsUp") : "✗ " + t("doesNotAddUp", { n: cons.items.length + (cons.next_cursor ? "+" : "") });
    return h("li", {},
      h("div", { class: "vnode" + (v.status === "frozen" ? " frozen" : "") + (record ? " record" : ""), "data-version": v.id, "data-consistent": cons ? String(cons.items.length === 0) : "" },
        h("strong", {}, t("version", { n: v.number })), v.label ? " · " + v.label : "",
        h("div", { class: "muted" }, (v.status === "frozen" ? "🔒 " : "") + t("vstatus." + v.status), record ? h("span", { class: "tag record" }, "★ " + t("budgetOfRecord")) : null),
        h("div", { class: "cons " + (cons && cons.items.length === 0 ? "ok" : "bad") }, consText),
        h("div", { class: "vlinks" },
          link(`/versions/${v.id}/grid?unit=${encodeURIComponent(homeUnit(c))}`, t("targets")),
          v.parent_id ? link(`/versions/${v.id}/diff?against=${v.parent_id}`, t("diffParent")) : null,
          v.status === "working" ? link(`/versions/${v.id}/studio`, t("studio")) : null)),
      kids.get(v.id)?.length ? h("ul", {}, kids.get(v.id)!.map(node)) : null);
  };
  const lineage = h("ul", { class: "lineage" }, (kids.get(null) ?? []).map(node));

  const a = h("select", { id: "diff-a", "aria-label": t("diffThis") }, versions.map((v) => h("option", { value: v.id }, t("version", { n: v.number }))));
  const b = h("select", { id: "diff-b", "aria-label": t("diffAgainst") }, versions.map((v, i) => h("option", { value: v.id, selected: i === 0 }, t("version", { n: v.number }))));
  if (versions.length) a.value = String(versions[versions.length - 1].id);

  const body = h("section", { class: "control-room" },
    h("h1", {}, round.name),
    h("div", { class: "cr-grid" },
      h("div", { class: "card" }, h("h2", {}, t("phase")), stepper,
        h("ul", { class: "moves" }, moves),
        moves.some((m) => !m.classList.contains("blocked")) ? [h("label", { for: "transition-comment" }, t("comment")), comment] : null, msg),
      h("div", { class: "card" }, h("h2", {}, t("calendar")), round.calendar.length ? calendar : h("p", { class: "muted" }, t("noCalendar")))),
    h("div", { class: "card" }, h("h2", {}, t("whoAnswered")), board),
    h("div", { class: "card" }, h("h2", {}, t("approvalChain")), chain),
    h("div", { class: "card" }, h("h2", {}, t("versions")), lineage,
      h("div", { class: "row" }, t("compare"), a, t("with"), b, h("button", { type: "button", onclick: () => navigate(`/versions/${a.value}/diff?against=${b.value}`) }, t("showDiff")))),
    h("p", { class: "row" },
      link(`/rounds/${id}/attainment`, t("attainment")),
      wv ? link(`/versions/${wv}/studio`, t("studio")) : null));
  clear(msg);
  // Live: everything of the round (phase, moves, board, approval,
  // versions) but its reminders.
  followScreen(body, (e) => (e.data.round_id === id || (e.data.entity === "round" && e.data.entity_id === id)) && !e.type.startsWith("deadline."),
    () => controlRoom(c, id));
  return body;
}
