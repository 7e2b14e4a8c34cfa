// The allocation studio: a product manager picks product lines, a root
// unit and amounts, a method per level (even, proportional to weights
// typed, pasted, taken from last year's actuals or from another version,
// or manual amounts), buffers, locks (click a node) and the phasing; every
// change previews through the API's dry run, against the current version;
// saving is one idempotent call (or, for a large tree, an asynchronous job
// with real progress and a cancel button). "Why this number?" explains a
// node of the preview before anything is saved (the API's dry run with
// explain_under), or of a saved run from the API's replayed explanation.
import type { AllocationJob, AllocationJobPage, AllocationPhasing, Version, Round, OrgUnit, AllocationResponse, AllocationRequest, AllocationLevel, AllocationRun, AllocationRunPage, GridRow, ActualRow, SeasonalityProfile, NodeExplanation, VersionPage, AllocatedNode } from "./api.gen";
import { ApiError, all, call, get } from "./api";
import { h, clear } from "./dom";
import { t, when, currentLang } from "./i18n";
import { format, parseAmount, toAmount } from "./decimal";
import { Ctx, unitName, lineName, measureName, problemText, link, homeUnit } from "./main";
import { treeOrder } from "./grid";

// Above this many cells a save runs as an asynchronous job, and the
// preview waits for the button instead of following every keystroke.
export const ASYNC_CELLS = 200_000;

interface LevelUI {
  method: HTMLSelectElement;
  buffer: HTMLInputElement;
  source: HTMLSelectElement; // typed | version
  refVersion: HTMLSelectElement;
  inputs: Map<string, HTMLInputElement>; // by unit code
  box: HTMLElement;
}

function newKey(): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

// ordinal in the current language.
function nth(n: number): string {
  if (currentLang() === "zh") return "第 " + n;
  const s = ["th", "st", "nd", "rd"], v = n % 100;
  return n + (s[(v - 20) % 10] || s[v] || s[0]);
}

// approxOf shows a fraction quota ("100000001/300") as a decimal to six
// places, exactly truncated: " ≈ 333333.336666…".
export function approxOf(quota: string): string {
  const m = /^(-?\d+)\/(\d+)$/.exec(quota);
  if (!m) return "";
  const n = BigInt(m[1]), d = BigInt(m[2]);
  const neg = n < 0n;
  const scaled = ((neg ? -n : n) * 1000000n) / d;
  const s = scaled.toString().padStart(7, "0");
  return " ≈ " + (neg ? "-" : "") + s.slice(0, -6) + "." + s.slice(-6) + "…";
}

// explainText says in plain words how a node's year came about, from the
// API's explanation: its basis, exact quota, floor, rounding rule and rank.
export function explainText(e: NodeExplanation, unit: string, fmt: (s: string) => string): string[] {
  const out: string[] = [t("why.amount", { unit, amount: fmt(e.amount) })];
  const basis = "why.basis." + e.basis;
  out.push(t(basis) === basis ? e.basis : t(basis));
  if (e.rule !== "fixed") {
    out.push(t("why.quota", { quota: e.quota + approxOf(e.quota) }));
    switch (e.rule) {
      case "exact": out.push(t("why.exact")); break;
      case "largest_remainder": out.push(t("why.largest", { floor: fmt(e.floor), rank: nth(e.rank), of: e.of })); break;
      case "rounded_down": out.push(t("why.down", { floor: fmt(e.floor), rank: nth(e.rank), of: e.of })); break;
    }
    if (e.tie_by_key) out.push(t("why.tie"));
  }
  return out;
}

export async function studioScreen(c: Ctx, vid: number, q: URLSearchParams): Promise<HTMLElement> {
  const vres = await call<Version>("GET", `/versions/${vid}`);
  const version = vres.data;
  const [round, profiles, versions] = await Promise.all([
    get<Round>(`/rounds/${version.round_id}`), all<SeasonalityProfile>("/seasonality-profiles"), get<VersionPage>(`/rounds/${version.round_id}/versions?limit=100`)]);
  const unitsByCode = new Map(c.units.map((u) => [u.code, u]));
  const linesByCode = new Map(c.lines.map((l) => [l.code, l]));
  const isPM = c.me.roles.some((r) => r.role === "product_manager");
  const myLines = c.lines.filter((l) => l.active && (!isPM || c.me.owned_product_line_ids.includes(l.id))).sort((a, b) => a.id - b.id);
  const tree = treeOrder(c.units);

  // ---- the form ----
  const measureSel = h("select", { id: "st-measure" }, round.measures.map((m) => h("option", { value: m.code }, measureName(c.measures.find((x) => x.code === m.code)))));
  const rootSel = h("select", { id: "st-root" }, tree.filter((u) => tree.some((x) => x.parent_id === u.id)).map((u) =>
    h("option", { value: u.code, selected: u.code === (q.get("root") ?? homeUnit(c)) }, "\u00a0\u00a0".repeat(Math.max(0, u.depth - tree[0].depth)) + unitName(u))));
  const lineBoxes = new Map<string, { check: HTMLInputElement; amount: HTMLInputElement }>();
  const linesBox = h("div", { class: "st-lines" }, myLines.map((l) => {
    const check = h("input", { type: "checkbox", id: "st-line-" + l.code });
    const amount = h("input", { class: "amount", id: "st-amount-" + l.code, inputmode: "decimal", "aria-label": t("amount") + " " + lineName(l), placeholder: "0.00",
      oninput: () => { check.checked = amount.value.trim() !== ""; } });
    lineBoxes.set(l.code, { check, amount });
    return h("div", { class: "st-line" }, check, h("label", { for: "st-line-" + l.code }, lineName(l)), amount);
  }));
  const phasingSel = h("select", { id: "st-phasing" },
    ["even", "profile", "reference", "custom"].map((p) => h("option", { value: p }, t("phasing." + p))));
  const profileSel = h("select", { id: "st-profile", "aria-label": t("phasing.profile") }, profiles.map((p) => h("option", { value: p.code }, p.name)));
  const otherVersions = versions.items.filter((v) => v.id !== vid);
  const versionOptions = () => otherVersions.map((v) => h("option", { value: v.id }, t("version", { n: v.number }) + (v.label ? " · " + v.label : "")));
  const phaseVersionSel = h("select", { id: "st-phase-version", "aria-label": t("phasing.reference") }, versionOptions());
  const shapeInputs = round.months.map((m, i) => h("input", { class: "shape", id: "st-shape-" + i, "aria-label": m, inputmode: "decimal", value: "1" }));
  const shapeMsg = h("span", { class: "muted", role: "status" });
  const shapeBtn = h("button", { type: "button", onclick: async () => {
    try {
      const code = "custom-" + Date.now().toString(36);
      const p = (await call<SeasonalityProfile>("POST", "/seasonality-profiles", { code, name: t("customShapeName", { who: c.me.user.name, when: new Date().toISOString().slice(0, 16).replace("T", " ") }), weights: shapeInputs.map((x) => x.value.trim() || "0") })).data;
      profiles.push(p);
      profileSel.append(h("option", { value: p.code, selected: true }, p.name));
      phasingSel.value = "profile";
      shapeMsg.textContent = t("shapeSaved", { name: p.name });
      changed();
    } catch (e) { shapeMsg.textContent = problemText(e); }
  } }, t("saveShape"));
  const shapeBox = h("div", { class: "st-shape" }, h("div", { class: "shape-row" }, round.months.map((m, i) => h("label", { class: "shape-cell" }, h("span", { class: "muted" }, m.slice(5)), shapeInputs[i]))), shapeBtn, shapeMsg);
  const phasingExtra = h("div", { class: "st-phasing-extra" });
  const showPhasing = () => {
    clear(phasingExtra);
    if (phasingSel.value === "profile") phasingExtra.append(profileSel);
    if (phasingSel.value === "reference") phasingExtra.append(phaseVersionSel);
    if (phasingSel.value === "custom") phasingExtra.append(shapeBox);
  };
  phasingSel.addEventListener("change", showPhasing);
  showPhasing();

  const locks = new Set<string>();
  const locksBox = h("p", { class: "st-locks muted" });
  const showLocks = () => {
    clear(locksBox);
    locksBox.append(locks.size ? t("lockedUnits") + ": " : t("noLocks"));
    for (const code of locks) locksBox.append(h("button", { type: "button", class: "chip", "data-lock": code, "aria-label": t("unlock", { unit: unitName(unitsByCode.get(code)) }), onclick: () => { locks.delete(code); showLocks(); changed(); } }, unitName(unitsByCode.get(code)) + " ×"));
  };
  showLocks();

  // ---- levels: one per depth below the root ----
  const levelsBox = h("div", { class: "st-levels" });
  let levels: LevelUI[] = [];
  const rootUnit = () => unitsByCode.get(rootSel.value)!;
  const subtree = (): OrgUnit[] => {
    const root = rootUnit();
    const inside = new Set([root.id]);
    const out: OrgUnit[] = [];
    for (const u of tree) {
      if (u.id === root.id) { out.push(u); continue; }
      if (u.parent_id != null && inside.has(u.parent_id)) { inside.add(u.id); out.push(u); }
    }
    return out;
  };
  const unitsAt = (depth: number) => subtree().filter((u) => u.depth - rootUnit().depth === depth);
  const levelMsg = h("p", { class: "muted", role: "status" });

  function buildLevels(): void {
    clear(levelsBox);
    const sub = subtree();
    const maxDepth = Math.max(0, ...sub.map((u) => u.depth - rootUnit().depth));
    levels = [];
    for (let d = 1; d <= maxDepth; d++) {
      const units = unitsAt(d);
      const method = h("select", { id: `st-method-${d}`, "aria-label": t("levelMethod", { n: d }) }, ["even", "proportional", "manual"].map((m) => h("option", { value: m }, t("method." + m))));
      const buffer = h("input", { id: `st-buffer-${d}`, class: "pct", inputmode: "decimal", "aria-label": t("bufferOf", { n: d }), placeholder: "0" });
      const source = h("select", { id: `st-source-${d}`, "aria-label": t("weightsFrom") }, ["typed", "version"].map((s) => h("option", { value: s }, t("weights." + s))));
      const refVersion = h("select", { id: `st-refversion-${d}`, "aria-label": t("weights.version") }, versionOptions());
      const inputs = new Map<string, HTMLInputElement>();
      const table = h("table", { class: "plain st-weights" }, h("tbody", {}, units.map((u) => {
        const inp = h("input", { class: "amount", "data-unit": u.code, "aria-label": unitName(u), inputmode: "decimal" });
        inputs.set(u.code, inp);
        return h("tr", {}, h("th", { scope: "row" }, unitName(u)), h("td", {}, inp));
      })));
      // A column pasted from Excel fills the inputs downwards.
      table.addEventListener("paste", (e: ClipboardEvent) => {
        const target = e.target as HTMLInputElement;
        const text = e.clipboardData?.getData("text/plain") ?? "";
        if (!text.includes("\n")) return;
        e.preventDefault();
        const vals = text.replace(/\r/g, "").split("\n").filter((x) => x.trim() !== "").map((x) => x.split("\t").pop()!.trim());
        const list = [...inputs.values()];
        let i = list.indexOf(target);
        for (const v of vals) { if (i < 0 || i >= list.length) break; list[i++].value = v.replace(/,/g, ""); }
        changed();
      });
      const actualsBtn = h("button", { type: "button", onclick: () => void fromActuals(d, inputs) }, t("fromActuals"));
      const detail = h("div", { class: "st-level-detail" });
      const box = h("fieldset", { class: "st-level", "data-level": d },
        h("legend", {}, t("levelName", { n: d })),
        h("div", { class: "muted small" }, units.slice(0, 4).map(unitName).join(", ") + (units.length > 4 ? t("andMore", { n: units.length - 4 }) : "")),
        h("div", { class: "row" }, method, h("label", { for: `st-buffer-${d}` }, t("buffer")), buffer, h("span", { class: "muted" }, "%")),
        detail);
      const showDetail = () => {
        clear(detail);
        if (method.value === "proportional") {
          detail.append(h("div", { class: "row" }, source, source.value === "version" ? refVersion : actualsBtn));
          if (source.value === "typed") detail.append(h("p", { class: "muted" }, t("weightsHint")), table);
        } else if (method.value === "manual") {
          detail.append(h("p", { class: "muted" }, t("manualHint")), table);
        }
      };
      method.addEventListener("change", showDetail);
      source.addEventListener("change", showDetail);
      showDetail();
      levels.push({ method, buffer, source, refVersion, inputs, box });
      levelsBox.append(box);
    }
  }

  // fromActuals fills a level's weights with last fiscal year's actuals of
  // the selected product lines, each unit's rolled up over its subtree.
  async function fromActuals(depth: number, inputs: Map<string, HTMLInputElement>): Promise<void> {
    const first = round.months[0];
    const [y, m] = first.split("-").map(Number);
    const from = `${y - 1}-${String(m).padStart(2, "0")}`;
    const last = round.months[11];
    const to = `${Number(last.slice(0, 4)) - 1}-${last.slice(5)}`;
    const lines = selectedLines().map((x) => x.code).join(",");
    try {
      const sums = new Map<string, bigint>();
      const scale = measureScale();
      for (const u of unitsAt(depth)) {
        const rows = await all<ActualRow>(`/actuals?org_unit=${encodeURIComponent(u.code)}&product_line=${lines}&measure=${measureSel.value}&period=${from}..${to}`);
        sums.set(u.code, rows.reduce((s, r) => s + parseAmount(r.total ?? "0", scale), 0n));
      }
      if ([...sums.values()].every((v) => v === 0n)) { levelMsg.textContent = t("noActuals", { from, to }); return; }
      for (const [code, v] of sums) inputs.get(code)!.value = toAmount(v, scale);
      levelMsg.textContent = t("actualsUsed", { from, to });
      changed();
    } catch (e) { levelMsg.textContent = problemText(e); }
  }

  const measureScale = () => round.measures.find((m) => m.code === measureSel.value)?.scale ?? 2;
  const selectedLines = () => myLines.filter((l) => lineBoxes.get(l.code)!.check.checked);
  const fmt = (s: string) => format(parseAmount(s, measureScale()), measureScale(), false);

  function request(dry: boolean): AllocationRequest {
    const lv: AllocationLevel[] = levels.map((l) => {
      const out: AllocationLevel = { method: l.method.value as AllocationLevel["method"] };
      const pct = l.buffer.value.trim();
      if (pct && Number(pct) !== 0) out.buffer = pctToFraction(pct);
      const vals = [...l.inputs.entries()].filter(([, i]) => i.value.trim() !== "").map(([code, i]) => ({ org_unit: code, value: i.value.trim().replace(/,/g, "") }));
      if (out.method === "proportional") {
        if (l.source.value === "version") out.reference_version_id = Number(l.refVersion.value);
        else { out.weights = vals; out.zero_weights = "even"; }
      }
      if (out.method === "manual") out.manual = vals;
      return out;
    });
    const phasing = phasingSel.value === "profile" ? { method: "profile" as const, profile: profileSel.value }
      : phasingSel.value === "reference" ? { method: "reference" as const, reference_version_id: Number(phaseVersionSel.value) }
        : phasingSel.value === "custom" ? { method: "even" as const } : { method: "even" as const };
    return {
      measure: measureSel.value, root: rootSel.value,
      targets: selectedLines().map((l) => ({ product_line: l.code, amount: lineBoxes.get(l.code)!.amount.value.trim().replace(/,/g, "") })),
      levels: lv, locks: [...locks], phasing, dry_run: dry,
    };
  }

  // ---- the preview ----
  const status = h("p", { class: "st-status", role: "status", "aria-live": "polite" });
  const previewBox = h("div", { class: "st-preview" });
  const monthsBox = h("div", { class: "st-months" });
  const whyBox = h("div", { class: "st-why", "aria-live": "polite" });
  const estimate = () => subtree().length * Math.max(1, selectedLines().length) * 12;
  let nodes: AllocatedNode[] = [];
  let shownRun: AllocationRun | null = null; // the saved run "Why?" explains
  let seq = 0;
  let timer = 0;
  let idemKey = newKey();
  let lastBody = "";

  function changed(): void {
    idemKey = newKey();
    lastBody = "";
    clearTimeout(timer);
    if (estimate() > ASYNC_CELLS) { status.textContent = t("largePreview", { n: estimate().toLocaleString() }); return; }
    timer = window.setTimeout(() => void preview(), 350);
  }

  async function preview(): Promise<void> {
    const body = request(true);
    if (!body.targets.length || body.targets.some((x) => !x.amount)) { status.textContent = t("enterAmounts"); clear(previewBox); return; }
    if (phasingSel.value === "custom") { status.textContent = t("saveShapeFirst"); return; }
    const my = ++seq;
    status.textContent = t("previewing");
    try {
      const lines = body.targets.map((x) => x.product_line).join(",");
      const [res, current] = await Promise.all([
        call<AllocationResponse>("POST", `/versions/${vid}/allocations`, body),
        all<GridRow>(`/versions/${vid}/targets?org_unit=${encodeURIComponent(body.root)}&subtree=true&measure=${body.measure}&product_line=${lines}&grain=year`)]);
      if (my !== seq) return;
      nodes = res.data.nodes ?? [];
      lastBody = JSON.stringify({ ...body, dry_run: false });
      shownRun = null;
      renderPreview(nodes, current, res.data.run);
      status.textContent = t("previewReady", { n: res.data.run.cell_count.toLocaleString() });
    } catch (e) {
      if (my !== seq) return;
      clear(previewBox);
      status.textContent = problemText(e);
    }
  }

  function renderPreview(ns: AllocatedNode[], current: GridRow[], run: AllocationRun): void {
    const scale = measureScale();
    const lines = [...new Set(ns.map((n) => n.product_line))];
    const byKey = new Map(ns.map((n) => [n.org_unit + "|" + n.product_line, n]));
    const cur = new Map(current.map((r) => [r.org_unit + "|" + r.product_line, parseAmount(r.total ?? "0", scale)]));
    const sub = subtree().filter((u) => lines.some((l) => byKey.has(u.code + "|" + l)));
    const d0 = rootUnit().depth;
    // Totals per level and line: each level holds its own cells.
    const levelTotals = new Map<string, bigint>();
    for (const n of ns) {
      const k = (unitsByCode.get(n.org_unit)!.depth - d0) + "|" + n.product_line;
      levelTotals.set(k, (levelTotals.get(k) ?? 0n) + parseAmount(n.year, scale));
    }
    const all = ns.reduce((s, n) => s + parseAmount(n.year, scale), 0n);
    clear(previewBox);
    previewBox.append(
      h("table", { class: "plain st-tree", "data-run-checksum": run.checksum, "data-cells": run.cell_count },
        h("caption", {}, t("previewCaption2")),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("unit")), lines.map((l) => [
          h("th", { scope: "col", class: "num" }, lineName(linesByCode.get(l))), h("th", { scope: "col", class: "num" }, t("delta"))]), h("th", { scope: "col" }, ""))),
        h("tbody", {}, sub.map((u) => {
          const locked = locks.has(u.code);
          const isRoot = u.code === rootUnit().code;
          const nameBtn = h("button", { type: "button", class: "link node" + (locked ? " locked" : ""), "data-node": u.code, "aria-pressed": String(locked), title: isRoot ? "" : t("clickToLock"),
            onclick: () => { if (isRoot) return; if (locks.has(u.code)) locks.delete(u.code); else locks.add(u.code); showLocks(); changed(); } },
          unitName(u), locked ? h("span", { class: "tag" }, t("lockedTag")) : null);
          nameBtn.style.paddingLeft = 4 + 16 * (u.depth - d0) + "px";
          return h("tr", { "data-unit": u.code, class: locked ? "locked" : "" },
            h("th", { scope: "row" }, nameBtn),
            lines.map((l) => {
              const n = byKey.get(u.code + "|" + l);
              if (!n) return [h("td", {}), h("td", {})];
              const was = cur.get(u.code + "|" + l) ?? 0n;
              const delta = parseAmount(n.year, scale) - was;
              return [
                h("td", { class: "num", "data-line": l, "data-year": n.year }, format(parseAmount(n.year, scale), scale, false)),
                h("td", { class: "num delta " + (delta > 0n ? "up" : delta < 0n ? "down" : "same"), "data-delta": toAmount(delta, scale) }, (delta > 0n ? "+" : "") + format(delta, scale, false))];
            }),
            h("td", {}, h("button", { type: "button", class: "link", "data-months": u.code, onclick: () => showMonths(u.code) }, t("months")),
              isRoot ? null : h("button", { type: "button", class: "link why", "data-why": u.code, onclick: () => void why(u) }, t("whyThisNumber"))));
        })),
        h("tfoot", {}, [...new Set([...levelTotals.keys()].map((k) => Number(k.split("|")[0])))].sort((a, b) => a - b).map((d) => h("tr", { "data-level-total": d },
          h("th", { scope: "row" }, d === 0 ? t("rootTotal") : t("levelTotal", { n: d })),
          lines.map((l) => [h("td", { class: "num", "data-line": l, "data-total": toAmount(levelTotals.get(d + "|" + l) ?? 0n, scale) }, format(levelTotals.get(d + "|" + l) ?? 0n, scale, false)), h("td", {})]),
          h("td", {}))),
        h("tr", { class: "grand" }, h("th", { scope: "row" }, t("allCells")), h("td", { class: "num", colspan: lines.length * 2, "data-grand-total": toAmount(all, scale) }, format(all, scale, false)), h("td", {})))));
    showMonths(rootUnit().code);
  }

  function showMonths(code: string): void {
    const scale = measureScale();
    const ns = nodes.filter((n) => n.org_unit === code);
    clear(monthsBox);
    if (!ns.length) return;
    monthsBox.append(h("table", { class: "plain st-month-table", "data-unit": code },
      h("caption", {}, t("monthsOf", { unit: unitName(unitsByCode.get(code)) })),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("productLine")), round.months.map((m) => h("th", { scope: "col", class: "num" }, m)), h("th", { scope: "col", class: "num" }, t("year")))),
      h("tbody", {}, ns.map((n) => h("tr", {}, h("th", { scope: "row" }, lineName(linesByCode.get(n.product_line))),
        n.months.map((m) => h("td", { class: "num" }, format(parseAmount(m, scale), scale, false))),
        h("td", { class: "num" }, format(parseAmount(n.year, scale), scale, false)))))));
  }

  // why explains u's year for every line: from the saved run shown
  // (replayed by the API, which checks its checksum), or else from the
  // preview, by the API's dry run with explain_under (the same
  // explanation the run gives once saved).
  async function why(u: OrgUnit): Promise<void> {
    clear(whyBox);
    const runId = shownRun?.id;
    if (!runId && !lastBody) { whyBox.append(h("p", { class: "muted" }, t("whyPreviewFirst"))); return; }
    const parent = c.units.find((x) => x.id === u.parent_id);
    const under = parent?.code ?? "";
    try {
      const run = runId
        ? await get<AllocationRun>(`/allocations/${runId}?explain_under=${encodeURIComponent(under)}`)
        : (await call<AllocationResponse>("POST", `/versions/${vid}/allocations`, { ...(JSON.parse(lastBody) as AllocationRequest), dry_run: true, explain_under: under })).data.run;
      const mine = (run.explanation ?? []).filter((e) => e.org_unit === u.code);
      whyBox.append(h("div", { class: "card why-card", "data-unit": u.code, "data-source": runId ? "run" : "preview" },
        h("h2", {}, t("whyTitle", { unit: unitName(u) })),
        mine.map((e) => h("div", { class: "why-line", "data-line": e.product_line, "data-quota": e.quota, "data-floor": e.floor, "data-rank": e.rank, "data-of": e.of, "data-rule": e.rule, "data-amount": e.amount },
          h("h3", {}, lineName(linesByCode.get(e.product_line))),
          explainText(e, unitName(u), fmt).map((s) => h("p", {}, s)),
          h("details", {}, h("summary", {}, t("whyMonths")), h("ul", {}, e.months.map((m) => h("li", { "data-period": m.period, "data-amount": m.amount, "data-quota": m.quota, "data-rule": m.rule }, m.period + ": " + fmt(m.amount) + " — " + t("why.quota", { quota: m.quota }) + " " + t("rule." + m.rule))))))),
        runId ? replayLine(run) : h("p", { class: "muted from-preview" }, t("whyFromPreview"))));
    } catch (e) { whyBox.append(h("p", { class: "error" }, problemText(e))); }
  }

  // ---- saving ----
  const asyncBox = h("input", { type: "checkbox", id: "st-async" });
  const saveMsg = h("p", { class: "st-saved", role: "status" });
  const jobBox = h("div", { class: "st-job" });
  const runsBox = h("div", { class: "st-runs" });
  let etag = vres.etag;

  async function save(): Promise<void> {
    const body = lastBody ? JSON.parse(lastBody) as AllocationRequest : request(false);
    body.dry_run = false;
    if (phasingSel.value === "custom") { saveMsg.textContent = t("saveShapeFirst"); return; }
    if (asyncBox.checked || estimate() > ASYNC_CELLS) return runJob(body);
    saveMsg.textContent = t("saving");
    try {
      const res = await call<AllocationResponse>("POST", `/versions/${vid}/allocations`, body, { "Idempotency-Key": idemKey, ...(etag ? { "If-Match": etag } : {}) });
      shownRun = res.data.run;
      saveMsg.textContent = "";
      saveMsg.append(t("savedRun", { id: res.data.run.id, n: res.data.run.cell_count.toLocaleString() }), " ", h("code", { class: "checksum" }, res.data.run.checksum.slice(0, 16) + "…"));
      saveMsg.dataset.run = String(res.data.run.id);
      idemKey = newKey();
      etag = (await call<Version>("GET", `/versions/${vid}`)).etag;
      await showRuns();
    } catch (e) {
      saveMsg.textContent = e instanceof ApiError && e.status === 412 ? t("allocStale") : problemText(e);
    }
  }

  // runJob starts the allocation as an asynchronous job and follows its
  // progress until it ends; the cancel button asks the server to stop it.
  async function runJob(body: AllocationRequest): Promise<void> {
    try {
      const res = await call<AllocationJob>("POST", `/versions/${vid}/allocation-jobs`, body, { "Idempotency-Key": idemKey, ...(etag ? { "If-Match": etag } : {}) });
      await follow(res.data);
    } catch (e) {
      clear(jobBox);
      jobBox.append(h("p", { class: "error", role: "alert" }, problemText(e)));
    }
  }

  // follow shows a job's progress until it ends (or the page is left).
  async function follow(job: AllocationJob): Promise<void> {
    clear(jobBox);
    const bar = h("progress", { id: "st-progress", max: 1, value: 0, "aria-label": t("progress") });
    const label = h("span", { class: "job-label", role: "status" }, t("job.queued"));
    const cancel = h("button", { type: "button", class: "danger", id: "st-cancel" }, t("cancelJob"));
    jobBox.append(h("div", { class: "card job" }, h("strong", {}, t("jobTitle")), bar, label, cancel));
    cancel.addEventListener("click", async () => {
      cancel.setAttribute("disabled", "");
      try { job = (await call<AllocationJob>("POST", `/allocation-jobs/${job.id}/cancel`)).data; } catch (e) { label.textContent = problemText(e); }
    });
    jobBox.dataset.job = String(job.id);
    try {
      for (;;) {
        bar.max = Math.max(1, job.cells_total);
        bar.value = job.cells_done;
        bar.dataset.done = String(job.cells_done);
        bar.dataset.total = String(job.cells_total);
        jobBox.dataset.state = job.state;
        label.textContent = t("job." + job.state) + (job.cells_total ? " · " + t("cellsOf", { done: job.cells_done.toLocaleString(), total: job.cells_total.toLocaleString() }) : "") + (job.error ? " · " + (job.error.detail || job.error.title) : "");
        if (["succeeded", "failed", "cancelled"].includes(job.state)) break;
        await new Promise((r) => setTimeout(r, 250));
        if (!jobBox.isConnected) return; // the page was left
        job = await get<AllocationJob>(`/allocation-jobs/${job.id}`);
      }
      cancel.remove();
      idemKey = newKey();
      etag = (await call<Version>("GET", `/versions/${vid}`)).etag;
      if (job.state === "succeeded" && job.run_id) {
        shownRun = await get<AllocationRun>(`/allocations/${job.run_id}`);
        saveMsg.textContent = t("savedRun", { id: job.run_id, n: shownRun.cell_count.toLocaleString() });
      }
      await showRuns();
    } catch (e) {
      label.textContent = problemText(e);
      cancel.remove();
    }
  }

  async function showRuns(): Promise<void> {
    const runs = await get<AllocationRunPage>(`/versions/${vid}/allocations?limit=20`);
    clear(runsBox);
    runsBox.append(h("h2", {}, t("runs")), runs.items.length === 0 ? h("p", { class: "muted" }, t("noRuns")) :
      h("table", { class: "plain" },
        h("thead", {}, h("tr", {}, [t("run"), t("when"), t("cells"), t("checksum"), ""].map((x) => h("th", { scope: "col" }, x)))),
        h("tbody", {}, runs.items.map((r) => h("tr", { "data-run": r.id },
          h("td", {}, "#" + r.id), h("td", {}, when(r.at)), h("td", { class: "num" }, r.cell_count.toLocaleString()),
          h("td", {}, h("code", {}, r.checksum.slice(0, 16) + "…")),
          h("td", {}, h("button", { type: "button", class: "link", onclick: async () => {
            const full = await get<AllocationRun>(`/allocations/${r.id}`);
            shownRun = full;
            clear(whyBox);
            whyBox.append(h("div", { class: "card" }, h("h2", {}, t("runN", { id: r.id })), replayLine(full),
              h("p", { class: "muted" }, t("whyPick"))));
          } }, t("replay"))))))));
  }

  function replayLine(run: AllocationRun): HTMLElement {
    return h("p", { class: "replay " + (run.replayed ? "ok" : "bad"), "data-replayed": String(!!run.replayed) },
      run.replayed ? "✓ " + t("replayOK", { checksum: run.checksum.slice(0, 16) + "…" }) : "✗ " + t("replayBad"));
  }

  // restore puts a request back into the form: the one a job under way
  // runs, as the API returns it (codes as sent).
  function restore(req: AllocationRequest): void {
    if (round.measures.some((m) => m.code === req.measure)) measureSel.value = req.measure;
    if (unitsByCode.has(req.root)) rootSel.value = req.root;
    locks.clear();
    for (const code of req.locks ?? []) locks.add(code);
    showLocks();
    buildLevels();
    for (const [code, box] of lineBoxes) {
      const target = req.targets.find((x) => x.product_line === code);
      box.check.checked = !!target;
      box.amount.value = target?.amount ?? "";
    }
    (req.levels ?? []).forEach((lv, i) => {
      const l = levels[i];
      if (!l) return;
      l.method.value = lv.method;
      l.buffer.value = lv.buffer ? fractionToPct(lv.buffer) : "";
      if (lv.reference_version_id != null) { l.source.value = "version"; l.refVersion.value = String(lv.reference_version_id); }
      for (const v of [...(lv.weights ?? []), ...(lv.manual ?? [])]) { const inp = l.inputs.get(v.org_unit); if (inp) inp.value = v.value; }
      l.method.dispatchEvent(new Event("change"));
    });
    const ph: AllocationPhasing = req.phasing ?? {};
    phasingSel.value = ph.method === "profile" || ph.method === "reference" ? ph.method : "even";
    if (ph.method === "profile" && ph.profile) profileSel.value = ph.profile;
    if (ph.method === "reference" && ph.reference_version_id != null) phaseVersionSel.value = String(ph.reference_version_id);
    showPhasing();
    changed();
  }

  rootSel.addEventListener("change", () => { locks.clear(); showLocks(); buildLevels(); changed(); });
  measureSel.addEventListener("change", changed);
  const form = h("form", { class: "card st-form", oninput: () => changed(), onchange: () => changed(), onsubmit: (e: Event) => { e.preventDefault(); void save(); } },
    h("div", { class: "row" }, h("label", { for: "st-measure" }, t("measure")), measureSel),
    h("div", { class: "row" }, h("label", { for: "st-root" }, t("root")), rootSel),
    h("h2", {}, t("productLinesAmounts")), linesBox,
    h("h2", {}, t("levels")), levelsBox, levelMsg,
    h("h2", {}, t("phasing")), h("div", { class: "row" }, h("label", { for: "st-phasing" }, t("phasingBy")), phasingSel), phasingExtra,
    h("h2", {}, t("locks")), locksBox,
    h("div", { class: "actions" },
      h("button", { type: "button", onclick: () => void preview() }, t("previewNow")),
      h("button", { type: "submit", class: "primary", id: "st-save" }, t("saveAllocation")),
      h("label", { class: "inline" }, asyncBox, " " + t("runAsJob"))),
    saveMsg);
  buildLevels();
  await showRuns();
  // A job of this version still under way (the page was reloaded, or it
  // was started elsewhere) is followed here too, its request back in the
  // form.
  const jobs = await get<AllocationJobPage>(`/versions/${vid}/allocation-jobs?limit=1`).catch(() => null);
  const live = jobs?.items.find((j) => j.state === "queued" || j.state === "running");
  if (live) {
    if (live.request) restore(live.request);
    setTimeout(() => void follow(live), 0);
  }
  const canWrite = version.status === "working" && c.me.roles.some((r) => ["admin", "strategy_office", "product_manager"].includes(r.role));
  return h("section", { class: "studio" },
    h("h1", {}, t("studio") + ": " + round.name + " · " + t("version", { n: version.number })),
    canWrite ? null : h("p", { class: "error" }, t("studioReadOnly")),
    h("div", { class: "st-cols" }, form, h("div", { class: "st-right" }, jobBox, status, previewBox, monthsBox, whyBox, runsBox)),
    h("p", {}, link(`/rounds/${round.id}`, t("controlRoom"))));
}

// pctToFraction turns a percentage typed by a person ("5", "2.5") into the
// API's fraction ("0.05", "0.025") exactly, by moving the decimal point.
export function pctToFraction(pct: string): string {
  const s = pct.trim().replace(/,/g, "");
  const m = /^(\d*)(?:\.(\d*))?$/.exec(s);
  if (!m) return s; // the API names the field
  const digits = (m[1] || "0") + (m[2] ?? "");
  const places = (m[2] ?? "").length + 2;
  const padded = digits.padStart(places + 1, "0");
  const out = padded.slice(0, padded.length - places) + "." + padded.slice(padded.length - places);
  return out.replace(/^0+(?=\d)/, "").replace(/\.?0+$/, "") || "0";
}

// fractionToPct turns the API's fraction ("0.05", "0.025") back into the
// percentage a person typed ("5", "2.5"), exactly, by moving the decimal
// point: pctToFraction's inverse.
export function fractionToPct(f: string): string {
  const m = /^(\d*)(?:\.(\d*))?$/.exec(f.trim());
  if (!m) return f;
  const frac = (m[2] ?? "").padEnd(2, "0");
  const whole = ((m[1] || "0") + frac.slice(0, 2)).replace(/^0+(?=\d)/, "");
  const rest = frac.slice(2).replace(/0+$/, "");
  return rest ? whole + "." + rest : whole;
}
