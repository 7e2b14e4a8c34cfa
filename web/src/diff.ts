// The diff of any two versions of a round: the org tree with each unit's
// own change (every level holds its own cells, so levels are never summed
// together), a total per level, a heat colour by delta, a drill-down to
// the changed cells of a unit, filters by measure, product line, unit and
// period, and the export of the same diff to XLSX.
import type { Diff, Version, Round, VersionPage, CellChange, DiffRollup } from "./api.gen";
import { get } from "./api";
import { h, clear } from "./dom";
import { t } from "./i18n";
import { format, parseAmount } from "./decimal";
import { Ctx, unitName, lineName, measureName, navigate } from "./main";
import { treeOrder } from "./grid";

// heat grades a delta against the largest one shown: up-1…5 or down-1…5.
export function heat(delta: bigint, max: bigint): string {
  if (delta === 0n || max === 0n) return "heat-0";
  const abs = delta < 0n ? -delta : delta;
  const g = Number((abs * 5n + max - 1n) / max);
  return (delta > 0n ? "heat-up-" : "heat-down-") + Math.min(5, Math.max(1, g));
}

export async function diffScreen(c: Ctx, vid: number, q: URLSearchParams): Promise<HTMLElement> {
  const version = await get<Version>(`/versions/${vid}`);
  const [round, versions] = await Promise.all([get<Round>(`/rounds/${version.round_id}`), get<VersionPage>(`/rounds/${version.round_id}/versions?limit=100`)]);
  const against = Number(q.get("against") || version.parent_id || 0);
  const measure = round.measures.find((m) => m.code === q.get("measure")) ?? round.measures[0];
  const scale = measure.scale;
  const line = q.get("product_line") ?? "";
  const unit = q.get("org_unit") ?? "";
  const period = q.get("period") ?? "";
  const filters = new URLSearchParams({ against: String(against), measure: measure.code });
  if (line) filters.set("product_line", line);
  if (unit) { filters.set("org_unit", unit); filters.set("subtree", "true"); }
  if (period) filters.set("period", period);
  const d = await get<Diff>(`/versions/${vid}/diff?${filters}&limit=1`);
  const fmt = (s: string) => format(parseAmount(s, scale), scale, false);
  const byCode = new Map(c.units.map((u) => [u.code, u]));

  const go = (changes: Record<string, string>) => {
    const p = new URLSearchParams(location.search);
    p.set("against", String(against));
    for (const [k, v] of Object.entries(changes)) { if (k === "version") continue; if (v) p.set(k, v); else p.delete(k); }
    navigate(`/versions/${changes.version ?? vid}/diff?${p}`);
  };
  const vOpt = (sel: number) => versions.items.map((v) => h("option", { value: v.id, selected: v.id === sel }, t("version", { n: v.number }) + (v.label ? " · " + v.label : "") + (v.id === round.record_version_id ? " ★" : "")));
  const selA = h("select", { id: "diff-version", "aria-label": t("diffThis"), onchange: (e: Event) => go({ version: (e.target as HTMLSelectElement).value }) }, vOpt(vid));
  const selB = h("select", { id: "diff-against", "aria-label": t("diffAgainst"), onchange: (e: Event) => go({ against: (e.target as HTMLSelectElement).value }) }, vOpt(against));
  const selM = h("select", { id: "diff-measure", "aria-label": t("measure"), onchange: (e: Event) => go({ measure: (e.target as HTMLSelectElement).value }) },
    round.measures.map((m) => h("option", { value: m.code, selected: m.code === measure.code }, measureName(c.measures.find((x) => x.code === m.code)))));
  const selL = h("select", { id: "diff-line", "aria-label": t("productLine"), onchange: (e: Event) => go({ product_line: (e.target as HTMLSelectElement).value }) },
    h("option", { value: "" }, t("allLines")), c.lines.map((l) => h("option", { value: l.code, selected: l.code === line }, lineName(l))));
  const tree = treeOrder(c.units);
  const selU = h("select", { id: "diff-unit", "aria-label": t("unit"), onchange: (e: Event) => go({ org_unit: (e.target as HTMLSelectElement).value }) },
    h("option", { value: "" }, t("allUnits")), tree.map((u) => h("option", { value: u.code, selected: u.code === unit }, "\u00a0\u00a0".repeat(Math.max(0, u.depth - tree[0].depth)) + unitName(u))));
  const selP = h("select", { id: "diff-period", "aria-label": t("period"), onchange: (e: Event) => go({ period: (e.target as HTMLSelectElement).value }) },
    h("option", { value: "" }, t("wholeYear")), ["Q1", "Q2", "Q3", "Q4", ...round.months].map((p) => h("option", { value: p, selected: p === period }, p)));
  const xlsx = h("a", { class: "button", href: `/api/v1/versions/${vid}/diff?${filters}&format=xlsx`, download: "" }, t("exportXLSX"));

  // ---- per level and the tree ----
  const own = new Map<string, DiffRollup>(d.rollups.by_org_unit.map((r) => [r.key, r]));
  const levels = new Map<number, { before: bigint; after: bigint; delta: bigint }>();
  let max = 0n;
  for (const r of d.rollups.by_org_unit) {
    const x = levels.get(r.level) ?? { before: 0n, after: 0n, delta: 0n };
    x.before += parseAmount(r.before, scale); x.after += parseAmount(r.after, scale); x.delta += parseAmount(r.delta, scale);
    levels.set(r.level, x);
    const a = parseAmount(r.delta, scale);
    if ((a < 0n ? -a : a) > max) max = a < 0n ? -a : a;
  }
  const levelTable = h("table", { class: "plain diff-levels" },
    h("caption", {}, t("diffLevelsCaption")),
    h("thead", {}, h("tr", {}, [t("level"), t("before"), t("after"), t("delta")].map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, [...levels.entries()].sort((a, b) => a[0] - b[0]).map(([lv, x]) => h("tr", { "data-level": lv },
      h("th", { scope: "row" }, t("levelName", { n: lv }), h("div", { class: "muted small" }, kindsAt(lv))),
      h("td", { class: "num" }, format(x.before, scale, false)), h("td", { class: "num" }, format(x.after, scale, false)),
      h("td", { class: "num", "data-delta": x.delta.toString() }, format(x.delta, scale, false))))));

  // Units with a change, and their ancestors to hold the tree together.
  function kindsAt(lv: number): string {
    const top = Math.min(...c.units.map((u) => u.depth));
    return [...new Set(c.units.filter((u) => u.depth - top + 1 === lv).map((u) => t("kind." + u.kind)))].join(", ");
  }
  const keep = new Set<number>();
  for (const code of own.keys()) {
    let u = byCode.get(code);
    while (u && !keep.has(u.id)) { keep.add(u.id); u = c.units.find((x) => x.id === u!.parent_id); }
  }
  const shown = tree.filter((u) => keep.has(u.id));
  const d0 = Math.min(...shown.map((u) => u.depth), 0);
  const drill = h("div", { class: "drill", "aria-live": "polite" }, h("p", { class: "muted card" }, t("drillHint")));
  const treeTable = h("table", { class: "plain diff-tree" },
    h("thead", {}, h("tr", {}, [t("unit"), t("before"), t("after"), t("delta")].map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, shown.map((u) => {
      const r = own.get(u.code);
      const delta = r ? parseAmount(r.delta, scale) : 0n;
      const btn = h("button", { type: "button", class: "link", "data-drill": u.code, disabled: !r, onclick: () => void drillInto(u.code) }, unitName(u));
      btn.style.paddingLeft = 4 + 16 * (u.depth - d0) + "px";
      return h("tr", { "data-unit": u.code, class: r ? heat(delta, max) : "muted" },
        h("th", { scope: "row" }, btn),
        h("td", { class: "num" }, r ? fmt(r.before) : ""), h("td", { class: "num" }, r ? fmt(r.after) : ""),
        h("td", { class: "num", "data-delta": r ? r.delta : "" }, r ? fmt(r.delta) : ""));
    })));

  async function drillInto(code: string, cursor = "", into: HTMLElement | null = null): Promise<void> {
    const f = new URLSearchParams(filters);
    f.set("org_unit", code);
    f.delete("subtree");
    const page = await get<Diff>(`/versions/${vid}/diff?${f}&limit=200${cursor ? "&cursor=" + encodeURIComponent(cursor) : ""}`);
    const rows = page.changes.map((ch: CellChange) => h("tr", { "data-cell": `${ch.org_unit}|${ch.product_line}|${ch.measure}|${ch.period}`, class: heat(parseAmount(ch.delta, scale), max) },
      h("td", {}, lineName(c.lines.find((l) => l.code === ch.product_line))), h("td", {}, ch.period),
      h("td", { class: "num" }, fmt(ch.before)), h("td", { class: "num" }, fmt(ch.after)), h("td", { class: "num", "data-delta": ch.delta }, fmt(ch.delta))));
    if (into) { into.append(...rows); } else {
      clear(drill);
      const body = h("tbody", {}, rows);
      drill.append(h("h2", {}, t("changedCellsOf", { unit: unitName(byCode.get(code)), n: page.changed_cells })),
        h("table", { class: "plain diff-cells", "data-unit": code },
          h("thead", {}, h("tr", {}, [t("productLine"), t("period"), t("before"), t("after"), t("delta")].map((x) => h("th", { scope: "col" }, x)))), body));
      into = body;
    }
    if (page.next_cursor) {
      const more = h("button", { type: "button", onclick: () => { more.remove(); void drillInto(code, page.next_cursor!, into); } }, t("more"));
      drill.append(more);
    }
    drill.scrollIntoView({ block: "nearest" });
  }

  const vLabel = (id: number) => { const v = versions.items.find((x) => x.id === id); return v ? t("version", { n: v.number }) : String(id); };
  return h("section", { class: "diff" },
    h("h1", {}, t("diffTitle", { a: vLabel(vid), b: vLabel(against) }) + " · " + round.name),
    h("div", { class: "toolbar" }, selA, h("span", {}, t("against")), selB, selM, selL, selU, selP, xlsx),
    h("p", { class: "muted", "data-changed": d.changed_cells }, t("changedCellsN", { n: d.changed_cells.toLocaleString() })),
    h("div", { class: "diff-cols" }, h("div", {}, levelTable, (d.rollups.not_summed ?? []).map((x) => h("p", { class: "muted not-summed" }, t("diffNotSummed", { measure: x.measure, aggregation: x.aggregation, n: x.changed_cells }))), h("p", { class: "muted legend" }, h("span", { class: "heat-up-4 swatch" }, t("heatMore")), " ", h("span", { class: "heat-down-4 swatch" }, t("heatLess"))), treeTable), drill));
}
