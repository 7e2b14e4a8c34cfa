// The target grid: a unit's subtree × product lines for one measure, by
// month with quarter and year subtotals (or by quarter, or the year), org
// units as an indented tree in tree order. Only the rows in view are in the
// DOM, so a product manager's whole company scrolls as smoothly as a
// branch. Keyboard: arrows move, Shift+arrows select, Ctrl+C copies the
// selection as Excel does, Ctrl+V pastes from Excel as one atomic batch
// with If-Match; a 412 says the version changed and offers to reapply.
import type { GridPage, Version, Round, OrgUnit, ProductLine, Counterproposal, MeasureRef, AuditEventPage } from "./api.gen";
import { ApiError, call, get } from "./api";
import { h, clear } from "./dom";
import { t, when } from "./i18n";
import { format, parseAmount, toAmount } from "./decimal";
import { Ctx, unitName, lineName, measureName, navigate, problemText, link } from "./main";
import { follow, updated } from "./live";

const ROW_H = 30;
const OVERSCAN = 8;

interface Row {
  unit: OrgUnit;
  line: ProductLine;
  // twelve, at the measure's scale; null where a measure that does not
  // add up (a rate, level or rating) holds no value: not zero
  months: (bigint | null)[];
  // a measure that does not add up: Q1-Q4 and the year by its rule, as
  // the server computes them (its months are not summed)
  subs?: (bigint | null)[];
}

interface Col {
  label: string;
  month?: number; // 0-11 for month columns
  quarter?: number; // 0-3 for quarter subtotals
  year?: boolean;
}

// treeOrder lists units depth-first, siblings in creation order.
export function treeOrder(units: OrgUnit[]): OrgUnit[] {
  const kids = new Map<number | null, OrgUnit[]>();
  for (const u of units) {
    const p = u.parent_id != null && units.some((x) => x.id === u.parent_id) ? u.parent_id : null;
    if (!kids.has(p)) kids.set(p, []);
    kids.get(p)!.push(u);
  }
  const out: OrgUnit[] = [];
  const walk = (p: number | null) => {
    for (const u of (kids.get(p) ?? []).sort((a, b) => a.id - b.id)) {
      out.push(u);
      walk(u.id);
    }
  };
  walk(null);
  return out;
}

function columns(round: Round, grain: string): Col[] {
  const cols: Col[] = [];
  for (let q = 0; q < 4; q++) {
    if (grain === "month") for (let m = q * 3; m < q * 3 + 3; m++) cols.push({ label: round.months[m], month: m });
    if (grain !== "year") cols.push({ label: "Q" + (q + 1), quarter: q });
  }
  cols.push({ label: t("total"), year: true });
  return cols;
}

function value(row: Row, col: Col): bigint | null {
  if (col.month !== undefined) return row.months[col.month];
  if (row.subs) return row.subs[col.year ? 4 : col.quarter!];
  const [from, to] = col.year ? [0, 12] : [col.quarter! * 3, col.quarter! * 3 + 3];
  let s = 0n;
  for (let m = from; m < to; m++) s += row.months[m] ?? 0n;
  return s;
}

// shown formats an amount for a cell: empty where there is no value.
function shown(v: bigint | null, scale: number, wan: boolean): string {
  return v === null ? "" : format(v, scale, wan);
}

// amountOf is an amount to copy or edit: empty where there is no value.
function amountOf(v: bigint | null, scale: number): string {
  return v === null ? "" : toAmount(v, scale);
}

// orNull parses an amount of the grid, null staying null.
function orNull(s: string | null | undefined, scale: number): bigint | null {
  return s == null ? null : parseAmount(s, scale);
}

export async function gridScreen(c: Ctx, vid: number, q: URLSearchParams): Promise<HTMLElement> {
  const version = await get<Version>(`/versions/${vid}`);
  const round = await get<Round>(`/rounds/${version.round_id}`);
  const unitCode = q.get("unit") || "";
  const measure: MeasureRef = round.measures.find((m) => m.code === q.get("measure")) ?? round.measures[0];
  const grain = ["month", "quarter", "year"].includes(q.get("grain") ?? "") ? q.get("grain")! : "month";
  const wan = q.get("wan") === "1";
  const scale = measure.scale;
  const summed = (c.measures.find((m) => m.code === measure.code)?.aggregation ?? "sum") === "sum";
  const unitsByCode = new Map(c.units.map((u) => [u.code, u]));
  const linesByCode = new Map(c.lines.map((l) => [l.code, l]));
  const root = unitsByCode.get(unitCode);
  if (!root) throw new ApiError(404, null); // not a unit the caller sees
  const canWrite = c.me.roles.some((r) => ["admin", "strategy_office", "product_manager"].includes(r.role)) && version.status === "working";
  const canPropose = c.me.roles.some((r) => r.role === "branch_manager" || r.role === "team_lead") && round.status === "counterproposals";

  const status = h("p", { class: "grid-status", role: "status", "aria-live": "polite" });
  let etag: string | null = null;
  let loadedAt: string | null = null;
  let rows: Row[] = [];

  async function load(): Promise<void> {
    const out: Row[] = [];
    let cursor = "";
    etag = null;
    for (;;) {
      const res = await call<GridPage>("GET", `/versions/${vid}/targets?org_unit=${encodeURIComponent(unitCode)}&subtree=true&measure=${measure.code}&grain=month&limit=1000` + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
      if (!cursor) {
        etag = res.etag;
        loadedAt = res.date;
      }
      for (const r of res.data.items) {
        const unit = unitsByCode.get(r.org_unit);
        const line = linesByCode.get(r.product_line);
        if (!unit || !line) continue;
        out.push({ unit, line, months: r.periods.map((p) => orNull(p.amount, scale)) });
      }
      if (!res.data.next_cursor) break;
      cursor = res.data.next_cursor;
    }
    if (!summed) {
      // Quarters and the year of a rate or rating follow its rule: read
      // them from the server rather than adding months up.
      const subs = new Map<string, (bigint | null)[]>();
      for (const g of ["quarter", "year"]) {
        for (let cur = ""; ;) {
          const res = await call<GridPage>("GET", `/versions/${vid}/targets?org_unit=${encodeURIComponent(unitCode)}&subtree=true&measure=${measure.code}&grain=${g}&limit=1000` + (cur ? "&cursor=" + encodeURIComponent(cur) : ""));
          for (const r of res.data.items) {
            const k = r.org_unit + "\u001f" + r.product_line;
            subs.set(k, [...(subs.get(k) ?? []), ...r.periods.map((p) => orNull(p.amount, scale))]);
          }
          if (!res.data.next_cursor) break;
          cur = res.data.next_cursor;
        }
      }
      for (const row of out) row.subs = subs.get(row.unit.code + "\u001f" + row.line.code) ?? [null, null, null, null, null];
    }
    const order = new Map(treeOrder(c.units).map((u, i) => [u.id, i]));
    const lineOrder = new Map([...c.lines].sort((a, b) => (a.group ?? "").localeCompare(b.group ?? "") || a.id - b.id).map((l, i) => [l.id, i]));
    out.sort((a, b) => order.get(a.unit.id)! - order.get(b.unit.id)! || lineOrder.get(a.line.id)! - lineOrder.get(b.line.id)!);
    rows = out;
  }
  await load();

  const cols = columns(round, grain);
  const depth0 = root.depth;
  const template = `240px 180px repeat(${cols.length}, minmax(96px, 1fr))`;

  // ---- controls ----
  const go = (changes: Record<string, string>) => {
    const p = new URLSearchParams(location.search);
    for (const [k, v] of Object.entries(changes)) p.set(k, v);
    navigate(`${location.pathname}?${p}`);
  };
  const tree = treeOrder(c.units);
  const unitSel = h("select", { id: "grid-unit", onchange: (e: Event) => go({ unit: (e.target as HTMLSelectElement).value }) },
    tree.map((u) => h("option", { value: u.code, selected: u.code === unitCode }, "\u00a0\u00a0".repeat(Math.max(0, u.depth - tree[0].depth)) + unitName(u))));
  const measureSel = h("select", { id: "grid-measure", onchange: (e: Event) => go({ measure: (e.target as HTMLSelectElement).value }) },
    round.measures.map((m) => h("option", { value: m.code, selected: m.code === measure.code }, measureName(c.measures.find((x) => x.code === m.code)))));
  const grainBtns = h("div", { class: "seg", role: "group", "aria-label": t("grain") }, ["month", "quarter", "year"].map((g) =>
    h("button", { type: "button", "aria-pressed": String(g === grain), class: g === grain ? "on" : "", onclick: () => go({ grain: g }) }, t(g))));
  const wanBox = h("input", { type: "checkbox", id: "grid-wan", checked: wan, onchange: (e: Event) => go({ wan: (e.target as HTMLInputElement).checked ? "1" : "0" }) });

  // ---- the virtualized grid ----
  let active = { r: 0, c: 0 };
  let anchor = { r: 0, c: 0 };
  const viewport = h("div", { class: "grid-viewport", role: "grid", tabindex: 0, "aria-label": t("targets"), "aria-rowcount": rows.length + 1, "aria-colcount": cols.length + 2, "aria-multiselectable": "true" });
  const header = h("div", { class: "grid-row grid-head", role: "row", "aria-rowindex": 1 },
    h("div", { class: "cell head", role: "columnheader" }, t("unit")),
    h("div", { class: "cell head", role: "columnheader" }, t("productLine")),
    cols.map((col) => h("div", { class: "cell head num" + (col.month === undefined ? " sub" : ""), role: "columnheader" }, col.label)));
  header.style.gridTemplateColumns = template;
  const body = h("div", { class: "grid-body" });
  body.style.height = rows.length * ROW_H + "px";
  viewport.append(header, body);

  const inRange = (r: number, ci: number) => r >= Math.min(active.r, anchor.r) && r <= Math.max(active.r, anchor.r) && ci >= Math.min(active.c, anchor.c) && ci <= Math.max(active.c, anchor.c);

  let painted = "";
  // paint renders the rows in view; a scroll within the rows already
  // rendered (the overscan) costs nothing.
  function paint(force = true): void {
    const top = Math.max(0, viewport.scrollTop - header.offsetHeight);
    const inView = Math.floor(top / ROW_H);
    const lastInView = Math.ceil((top + viewport.clientHeight) / ROW_H);
    const [f0, l0] = painted.split(":").map(Number);
    if (!force && painted && inView >= f0 && lastInView <= l0 && (f0 === 0 || inView - f0 >= 2) && (l0 === rows.length || l0 - lastInView >= 2)) return;
    const first = Math.max(0, inView - OVERSCAN);
    const last = Math.min(rows.length, lastInView + OVERSCAN);
    painted = first + ":" + last;
    clear(body);
    for (let i = first; i < last; i++) {
      const row = rows[i];
      const el = h("div", { class: "grid-row", role: "row", "aria-rowindex": i + 2 },
        h("div", { class: "cell unit", role: "rowheader" }, unitName(row.unit)),
        h("div", { class: "cell line", role: "rowheader" }, lineName(row.line)),
        cols.map((col, ci) => {
          const sel = inRange(i, ci);
          const isActive = i === active.r && ci === active.c;
          return h("div", {
            class: "cell num" + (col.month === undefined ? " sub" : "") + (sel ? " sel" : "") + (isActive ? " active" : ""),
            role: "gridcell", id: isActive ? "grid-active" : null, "aria-selected": sel ? "true" : "false",
            "data-r": i, "data-c": ci,
          }, shown(value(row, col), scale, wan));
        }));
      el.style.gridTemplateColumns = template;
      el.style.transform = `translateY(${i * ROW_H}px)`;
      (el.children[0] as HTMLElement).style.paddingLeft = 8 + 16 * Math.max(0, row.unit.depth - depth0) + "px";
      body.appendChild(el);
    }
    if (body.querySelector("#grid-active")) viewport.setAttribute("aria-activedescendant", "grid-active");
    else viewport.removeAttribute("aria-activedescendant");
    describe();
  }

  const selected = h("p", { class: "muted selected-cell" });
  function describe(): void {
    const row = rows[active.r];
    if (!row) return;
    selected.textContent = `${unitName(row.unit)} · ${lineName(row.line)} · ${cols[active.c].label}: ${shown(value(row, cols[active.c]), scale, wan)}`;
  }

  function move(dr: number, dc: number, extend: boolean): void {
    active = { r: Math.min(rows.length - 1, Math.max(0, active.r + dr)), c: Math.min(cols.length - 1, Math.max(0, active.c + dc)) };
    if (!extend) anchor = { ...active };
    const y = active.r * ROW_H;
    const headH = header.offsetHeight;
    if (y < viewport.scrollTop) viewport.scrollTop = y;
    else if (y + ROW_H + headH > viewport.scrollTop + viewport.clientHeight) viewport.scrollTop = y + ROW_H + headH - viewport.clientHeight;
    paint();
  }

  // A writer edits one month cell in place: Enter or F2 (or typing a
  // number) opens it, Enter saves it as a batch of one, Escape cancels.
  let editing = false;
  function edit(initial: string, selectAll: boolean): void {
    const cell = body.querySelector<HTMLElement>("#grid-active");
    if (!cell) return;
    editing = true;
    const input = h("input", { class: "cell-edit", "aria-label": t("amount"), inputmode: "decimal", value: initial });
    clear(cell);
    cell.appendChild(input);
    input.focus();
    if (selectAll) input.select();
    const done = () => { editing = false; paint(); viewport.focus(); };
    input.addEventListener("keydown", (e: KeyboardEvent) => {
      e.stopPropagation();
      if (e.key === "Enter") {
        editing = false;
        void paste(input.value, { ...active }).then(() => viewport.focus());
      } else if (e.key === "Escape") {
        done();
      }
    });
    input.addEventListener("paste", (e) => e.stopPropagation());
    input.addEventListener("blur", () => { if (editing) done(); });
  }
  viewport.addEventListener("keydown", (e: KeyboardEvent) => {
    if (editing || !canWrite || grain !== "month" || cols[active.c]?.month === undefined || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "Enter" || e.key === "F2") {
      e.preventDefault();
      edit(amountOf(value(rows[active.r], cols[active.c]), scale), true);
    } else if (/^[0-9.-]$/.test(e.key)) {
      e.preventDefault();
      edit(e.key, false);
    }
  });
  viewport.addEventListener("scroll", () => { if (!editing) paint(false); });
  viewport.addEventListener("keydown", (e: KeyboardEvent) => {
    const page = Math.max(1, Math.floor(viewport.clientHeight / ROW_H) - 1);
    const keys: Record<string, [number, number]> = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1], PageUp: [-page, 0], PageDown: [page, 0] };
    if (keys[e.key]) {
      e.preventDefault();
      move(keys[e.key][0], keys[e.key][1], e.shiftKey);
    } else if (e.key === "Home") {
      e.preventDefault();
      move(0, -active.c, e.shiftKey);
    } else if (e.key === "End") {
      e.preventDefault();
      move(0, cols.length - 1 - active.c, e.shiftKey);
    }
  });
  viewport.addEventListener("mousedown", (e: MouseEvent) => {
    const cell = (e.target as HTMLElement).closest<HTMLElement>("[data-r]");
    if (!cell) return;
    active = { r: Number(cell.dataset.r), c: Number(cell.dataset.c) };
    if (!e.shiftKey) anchor = { ...active };
    viewport.focus();
    paint();
  });
  viewport.addEventListener("copy", (e: ClipboardEvent) => {
    const lines: string[] = [];
    for (let r = Math.min(active.r, anchor.r); r <= Math.max(active.r, anchor.r); r++) {
      const vals: string[] = [];
      for (let ci = Math.min(active.c, anchor.c); ci <= Math.max(active.c, anchor.c); ci++) vals.push(amountOf(value(rows[r], cols[ci]), scale));
      lines.push(vals.join("\t"));
    }
    e.clipboardData?.setData("text/plain", lines.join("\r\n"));
    e.preventDefault();
  });

  // ---- paste: one atomic batch with If-Match ----
  let pending: { text: string; at: { r: number; c: number } } | null = null;
  async function paste(text: string, at: { r: number; c: number }): Promise<void> {
    if (!canWrite) { status.textContent = t("proposeHint"); return; }
    if (grain !== "month") { status.textContent = t("pasteHint"); return; }
    const monthCols = cols.map((col, i) => ({ col, i })).filter((x) => x.col.month !== undefined);
    const startIdx = monthCols.findIndex((x) => x.i >= at.c);
    const grid = text.replace(/\r?\n$/, "").split(/\r?\n/).map((l) => l.split("\t"));
    const cells: { org_unit: string; product_line: string; measure: string; period: string; amount: string }[] = [];
    try {
      grid.forEach((vals, dr) => {
        const row = rows[at.r + dr];
        if (!row) return;
        vals.forEach((v, dc) => {
          const mc = monthCols[startIdx + dc];
          if (!mc || v.trim() === "") return;
          cells.push({ org_unit: row.unit.code, product_line: row.line.code, measure: measure.code, period: round.months[mc.col.month!], amount: toAmount(parseAmount(v, scale), scale) });
        });
      });
    } catch (err) {
      status.textContent = t("error", { msg: String((err as Error).message) });
      return;
    }
    if (cells.length === 0) return;
    try {
      const res = await call<unknown>("PUT", `/versions/${vid}/targets`, { cells }, { "If-Match": etag ?? "*" });
      await load();
      etag = res.etag ?? etag;
      status.className = "grid-status ok";
      status.textContent = t("saved", { n: cells.length });
      pending = null;
      paint();
    } catch (err) {
      status.className = "grid-status error";
      if (err instanceof ApiError && err.status === 412) {
        pending = { text, at };
        const now = await get<Version>(`/versions/${vid}`).catch(() => null);
        // Whose change won: the version's writes since the grid was read.
        const since = loadedAt ? new Date(new Date(loadedAt).getTime() - 1000).toISOString().replace(/\.\d+Z$/, "Z") : "";
        const events = since ? await get<AuditEventPage>(`/audit?version=${vid}&from=${encodeURIComponent(since)}&limit=100`).catch(() => null) : null;
        const last = events?.items.filter((e) => e.action.startsWith("targets.")).pop();
        clear(status);
        status.append(t("conflict", { rev: now?.revision ?? "?" }), " ",
          last ? t("changedBy", { who: last.actor_name ?? "system", when: when(last.at) }) + " " : "", h("button", { type: "button", class: "link", onclick: async () => {
          await load();
          paint();
          if (pending) await paste(pending.text, pending.at);
          viewport.focus();
        } }, t("reapply")));
      } else {
        status.textContent = t("error", { msg: problemText(err) });
      }
    }
  }
  viewport.addEventListener("paste", (e: ClipboardEvent) => {
    e.preventDefault();
    void paste(e.clipboardData?.getData("text/plain") ?? "", { ...active });
  });

  // ---- propose (branch managers and team leads) ----
  let proposal: HTMLElement | null = null;
  if (canPropose) {
    type Draft = { row: Row; col: Col; proposed: HTMLInputElement; reason: HTMLInputElement };
    const drafts: Draft[] = [];
    const list = h("tbody", {});
    const title = h("input", { id: "cp-title", value: unitName(root) + " " + round.name });
    const msg = h("p", { role: "status" });
    const redraw = () => {
      clear(list);
      if (drafts.length === 0) list.append(h("tr", {}, h("td", { colspan: 5, class: "muted" }, t("noLines"))));
      for (const d of drafts) list.append(h("tr", {}, h("td", {}, unitName(d.row.unit) + " · " + lineName(d.row.line)), h("td", {}, d.col.year ? t("year") : d.col.label),
        h("td", { class: "num" }, shown(value(d.row, d.col), scale, false)), h("td", {}, d.proposed), h("td", {}, d.reason)));
    };
    // Add a line for every selected month or year cell of the selection.
    const add = h("button", { type: "button", onclick: () => {
      let first: HTMLInputElement | null = null;
      for (let r = Math.min(active.r, anchor.r); r <= Math.max(active.r, anchor.r); r++) {
        for (let ci = Math.min(active.c, anchor.c); ci <= Math.max(active.c, anchor.c); ci++) {
          const row = rows[r];
          const col = cols[ci];
          if (!row || col.quarter !== undefined || drafts.some((d) => d.row === row && d.col === col)) continue;
          // A counterproposal is one unit's: other units' cells wait for their own.
          const unit = drafts[0]?.row.unit ?? row.unit;
          if (row.unit !== unit) { msg.textContent = t("oneUnit", { unit: unitName(unit) }); continue; }
          const proposed = h("input", { class: "amount", inputmode: "decimal", "aria-label": t("proposed") + " " + lineName(row.line) + " " + col.label, value: amountOf(value(row, col), scale) });
          const reason = h("input", { "aria-label": t("reason") + " " + lineName(row.line) + " " + col.label, placeholder: t("reason") });
          drafts.push({ row, col, proposed, reason });
          first ??= proposed;
        }
      }
      if (!first) { msg.textContent = t("proposeHint"); return; }
      redraw();
      first.focus();
      first.select();
    } }, t("addLine"));
    const save = h("button", { type: "button", class: "primary", onclick: async () => {
      if (drafts.length === 0) { msg.textContent = t("noLines"); return; }
      try {
        const res = await call<Counterproposal>("POST", `/versions/${vid}/counterproposals`, {
          org_unit: drafts[0].row.unit.code, title: title.value,
          lines: drafts.map((d) => ({ product_line: d.row.line.code, measure: measure.code, period: d.col.year ? "year" : d.col.label, proposed: d.proposed.value.replace(/,/g, ""), reason: d.reason.value })),
        });
        navigate(`/counterproposals/${res.data.id}`);
      } catch (err) {
        msg.textContent = problemText(err);
      }
    } }, t("saveDraft"));
    redraw();
    proposal = h("section", { class: "card propose", "aria-label": t("propose") },
      h("h2", {}, t("propose")), h("p", { class: "muted" }, t("proposeHint")),
      h("label", { for: "cp-title" }, t("title")), title,
      h("table", { class: "plain" }, h("thead", {}, h("tr", {}, [t("productLine"), t("period"), t("current"), t("proposed"), t("reason")].map((x) => h("th", { scope: "col" }, x)))), list),
      h("div", { class: "actions" }, add, save), msg);
  }

  const screen = h("section", { class: "grid-screen" },
    h("h1", {}, t("targets") + ": " + unitName(root) + " · " + round.name + " · " + t("version", { n: version.number })),
    h("div", { class: "toolbar" },
      h("label", { for: "grid-unit" }, t("unit")), unitSel,
      h("label", { for: "grid-measure" }, t("measure")), measureSel,
      grainBtns,
      h("span", {}, wanBox, h("label", { for: "grid-wan" }, t("wan"))),
      link(`/versions/${vid}/approval`, t("approval"))),
    h("p", { class: "muted" }, canWrite ? t("pasteHint") : canPropose ? t("proposeHint") : ""),
    viewport, selected, status, proposal);
  requestAnimationFrame(() => paint());

  // ---- live: another's allocation run, decision or edit ----
  // The rows are read again in place: the scroll position, the selection
  // and the proposal's drafts stay. A cell being edited is never
  // overwritten: a notice offers the change, and saving the edit meets the
  // version's new revision as a conflict (412) with its reapply.
  const stale = () => {
    status.className = "grid-status stale";
    clear(status);
    status.append(t("gridChanged"), " ", h("button", { type: "button", class: "link", onclick: async () => {
      editing = false;
      clear(status);
      await refresh();
      viewport.focus();
    } }, t("liveRefresh")));
  };
  const refresh = async (): Promise<void> => {
    const top = viewport.scrollTop;
    await load();
    // An edit opened while the rows were read stays open: the rows are
    // painted when it closes.
    if (editing) { stale(); return; }
    body.style.height = rows.length * ROW_H + "px";
    viewport.setAttribute("aria-rowcount", String(rows.length + 1));
    active = { r: Math.min(active.r, Math.max(0, rows.length - 1)), c: active.c };
    anchor = { r: Math.min(anchor.r, Math.max(0, rows.length - 1)), c: anchor.c };
    viewport.scrollTop = top;
    paint();
    updated();
  };
  follow(screen, (e) => e.data.version_id === vid && ["allocation.saved", "counterproposal.decided", "targets.edited", "version.frozen"].includes(e.type), async () => {
    if (editing) stale();
    else await refresh();
  });
  return screen;
}
