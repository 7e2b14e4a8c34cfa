// Attainment: the budget of record against actuals, month, quarter or year
// to date or the full year, by unit and by product line, the ranking, and
// three charts drawn from the API's numbers: attainment by unit (bars),
// cumulative actual against target by month (lines), and top-down against
// bottom-up (a waterfall of the diff between the first version and the
// budget of record).
import type { AttainmentReport, AttainmentRow, Ranking, Round, VersionPage, GridRow, ActualRow, Diff } from "./api.gen";
import { ApiError, all, get } from "./api";
import { h } from "./dom";
import { t } from "./i18n";
import { format, parseAmount, toAmount } from "./decimal";
import { Ctx, unitName, lineName, measureName, navigate, link } from "./main";
import { chart } from "./charts";
import { treeOrder } from "./grid";
import { followScreen } from "./live";

const BASES = ["month", "qtd", "ytd", "year"];
const MAX_BARS = 20;

export async function attainmentScreen(c: Ctx, id: number, q: URLSearchParams): Promise<HTMLElement> {
  const [round, versions] = await Promise.all([get<Round>(`/rounds/${id}`), get<VersionPage>(`/rounds/${id}/versions?limit=100`)]);
  const measure = round.measures.find((m) => m.code === q.get("measure")) ?? round.measures[0];
  const scale = measure.scale;
  const basis = BASES.includes(q.get("basis") ?? "") ? q.get("basis")! : "ytd";
  const level = q.get("level") || "branch";
  const period = q.get("period") ?? "";
  const line = q.get("product_line") ?? "";
  const record = round.record_version_id;
  const vparam = record ? "" : round.working_version_id ? `&version=${round.working_version_id}` : "";
  const common = `measure=${measure.code}&basis=${basis}${period ? "&period=" + period : ""}${line ? "&product_line=" + line : ""}${vparam}`;
  const fmt = (s: string) => format(parseAmount(s, scale), scale, false);
  const pct = (s: string | null) => (s === null ? "—" : s + "%");
  const byCode = new Map(c.units.map((u) => [u.code, u]));
  // Live: an actuals import, and the round's changes to what is compared
  // (its phase, versions, approval and targets).
  const live = (el: HTMLElement): HTMLElement => {
    followScreen(el, (e) => e.type === "actuals.imported" || (e.data.round_id === id && !e.type.startsWith("deadline.")), () => attainmentScreen(c, id, q));
    return el;
  };

  let report: AttainmentReport, ranking: Ranking, byLine: AttainmentRow[];
  try {
    [report, ranking] = await Promise.all([
      get<AttainmentReport>(`/rounds/${id}/attainment?${common}&level=${level}&limit=1000`),
      get<Ranking>(`/rounds/${id}/rankings?${common}&level=${level}`)]);
    const top = treeOrder(c.units)[0];
    byLine = (await all<AttainmentRow>(`/rounds/${id}/attainment?${common}&org_unit=${encodeURIComponent(top.code)}`)).filter((r) => r.product_line !== null);
  } catch (e) {
    if (e instanceof ApiError && (e.status === 422 || e.status === 409)) {
      return live(h("section", {}, h("h1", {}, t("attainment") + " · " + round.name), h("p", { class: "muted" }, e.message), link(`/rounds/${id}`, t("controlRoom"))));
    }
    throw e;
  }
  const vid = report.version_id;
  const units = report.items.filter((r) => r.product_line === null);

  const go = (changes: Record<string, string>) => {
    const p = new URLSearchParams(location.search);
    for (const [k, v] of Object.entries(changes)) { if (v) p.set(k, v); else p.delete(k); }
    navigate(`${location.pathname}?${p}`);
  };
  const basisBtns = h("div", { class: "seg", role: "group", "aria-label": t("basis") }, BASES.map((b) =>
    h("button", { type: "button", "aria-pressed": String(b === basis), class: b === basis ? "on" : "", onclick: () => go({ basis: b }) }, t("basis." + b))));
  const selM = h("select", { id: "att-measure", "aria-label": t("measure"), onchange: (e: Event) => go({ measure: (e.target as HTMLSelectElement).value }) },
    round.measures.map((m) => h("option", { value: m.code, selected: m.code === measure.code }, measureName(c.measures.find((x) => x.code === m.code)))));
  const selLv = h("select", { id: "att-level", "aria-label": t("level"), onchange: (e: Event) => go({ level: (e.target as HTMLSelectElement).value }) },
    ["region", "branch", "key_account_team", "channel_team"].map((k) => h("option", { value: k, selected: k === level }, t("kind." + k))));
  const selP = h("select", { id: "att-period", "aria-label": t("asOf"), onchange: (e: Event) => go({ period: (e.target as HTMLSelectElement).value }) },
    round.months.map((m) => h("option", { value: m, selected: m === report.period }, m)));
  const selL = h("select", { id: "att-line", "aria-label": t("productLine"), onchange: (e: Event) => go({ product_line: (e.target as HTMLSelectElement).value }) },
    h("option", { value: "" }, t("allLines")), c.lines.map((l) => h("option", { value: l.code, selected: l.code === line }, lineName(l))));

  const rowsTable = (rows: AttainmentRow[], key: (r: AttainmentRow) => string, cls: string) => h("table", { class: "plain att " + cls },
    h("thead", {}, h("tr", {}, [cls === "by-line" ? t("productLine") : t("unit"), t("target"), t("actual"), t("attainmentPct"), t("gap"), t("runRate"), t("yearTarget")].map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows.map((r) => h("tr", { "data-key": cls === "by-line" ? r.product_line : r.org_unit },
      h("th", { scope: "row" }, key(r)), h("td", { class: "num" }, fmt(r.target)), h("td", { class: "num" }, fmt(r.actual)),
      h("td", { class: "num " + (r.attainment_pct !== null && Number(r.attainment_pct) >= 100 ? "good" : "short"), "data-pct": r.attainment_pct ?? "" }, pct(r.attainment_pct)),
      h("td", { class: "num" }, fmt(r.gap)), h("td", { class: "num" }, fmt(r.run_rate)), h("td", { class: "num" }, fmt(r.year_target))))));

  const uname = (code: string) => unitName(byCode.get(code)) || code;
  // ---- charts ----
  // Bars for the units with a target, best first; of many, the best and
  // the lowest ten, so every label stays readable.
  const ranked = ranking.items.filter((r) => r.attainment_pct !== null);
  const bars = ranked.length > MAX_BARS ? [...ranked.slice(0, MAX_BARS / 2), ...ranked.slice(-MAX_BARS / 2)] : ranked;
  const bar = chart({
    id: "attainment-by-unit", kind: "bar", title: t("chart.byUnit", { level: t("kind." + level), basis: t("basis." + basis) }),
    labels: bars.map((r) => uname(r.org_unit)),
    series: [{ label: t("attainmentPct"), values: bars.map((r) => r.attainment_pct), color: "#0b5cad" }],
    format: (s) => s + "%",
  });
  bar.dataset.units = bars.map((r) => r.org_unit).join(",");
  if (bars.length < ranking.items.length) bar.querySelector("figcaption")!.after(h("p", { class: "muted small" }, t("barsOf", { n: bars.length, of: ranking.items.length })));

  // Cumulative by month for the top unit: its own targets against its
  // actuals (rolled up over its subtree), as the attainment report does.
  const top = treeOrder(c.units)[0];
  const lineQ = line ? "&product_line=" + line : "";
  const [targets, actuals] = await Promise.all([
    all<GridRow>(`/versions/${vid}/targets?org_unit=${encodeURIComponent(top.code)}&measure=${measure.code}&grain=month${lineQ}`),
    all<ActualRow>(`/actuals?org_unit=${encodeURIComponent(top.code)}&measure=${measure.code}&period=${round.months[0]}..${round.months[11]}${lineQ}`)]);
  const tMonth = round.months.map((m) => targets.reduce((s, r) => s + parseAmount(r.periods.find((p) => p.period === m)?.amount ?? "0", scale), 0n));
  const aMonth = round.months.map((m) => actuals.reduce((s, r) => s + parseAmount(r.months.find((p) => p.month === m)?.amount ?? "0", scale), 0n));
  const lastActual = round.months.reduce((last, m, i) => (actuals.some((r) => r.months.some((p) => p.month === m)) ? i : last), -1);
  let ct = 0n, ca = 0n;
  const cumT = tMonth.map((v) => toAmount((ct += v), scale));
  const cumA = aMonth.map((v, i) => (i <= lastActual ? toAmount((ca += v), scale) : null));
  const line2 = chart({
    id: "cumulative", kind: "line", title: t("chart.cumulative", { unit: unitName(top) }), labels: round.months,
    series: [{ label: t("cumTarget"), values: cumT, color: "#8a94a3" }, { label: t("cumActual"), values: cumA, color: "#0b5cad" }], format: fmt,
  });

  // Top-down (the round's first version) against bottom-up (this one): the
  // level's total in the first, each unit's change, the total now.
  let waterfall: HTMLElement = h("p", { class: "muted" }, t("noWaterfall"));
  const first = [...versions.items].sort((a, b) => a.number - b.number)[0];
  if (first && first.id !== vid) {
    const lvUnits = c.units.filter((u) => u.kind === level);
    const lvNum = lvUnits.length ? lvUnits[0].depth - top.depth + 1 : 0;
    const diff = await get<Diff>(`/versions/${vid}/diff?against=${first.id}&measure=${measure.code}${lineQ}&limit=1`);
    const steps = diff.rollups.by_org_unit.filter((r) => r.level === lvNum && parseAmount(r.delta, scale) !== 0n);
    const base = await all<GridRow>(`/versions/${first.id}/targets?org_unit=${encodeURIComponent(top.code)}&subtree=true&measure=${measure.code}&grain=year${lineQ}`);
    const lvCodes = new Set(lvUnits.map((u) => u.code));
    const start = base.filter((r) => lvCodes.has(r.org_unit)).reduce((s, r) => s + parseAmount(r.total ?? "0", scale), 0n);
    const end = steps.reduce((s, r) => s + parseAmount(r.delta, scale), start);
    waterfall = chart({
      id: "waterfall", kind: "waterfall", title: t("chart.waterfall", { a: t("version", { n: first.number }), b: t("version", { n: versions.items.find((v) => v.id === vid)?.number ?? vid }), level: t("kind." + level) }),
      labels: [t("topDown"), ...steps.map((r) => uname(r.key)), t("bottomUp")],
      series: [{ label: t("delta"), values: [toAmount(start, scale), ...steps.map((r) => r.delta), toAmount(end, scale)], color: "#0b5cad" }], format: fmt,
    });
  }

  return live(h("section", { class: "attainment" },
    h("h1", {}, t("attainment") + " · " + round.name),
    h("div", { class: "toolbar" }, basisBtns, selM, selLv, h("label", { for: "att-period" }, t("asOf")), selP, selL),
    h("p", { class: "muted", "data-version": vid }, (report.budget_of_record ? "★ " + t("budgetOfRecord") : t("notRecord")) + " · " +
      t("compared", { tf: report.target_from, tt: report.target_to, af: report.actual_from, at: report.actual_to })),
    h("div", { class: "charts" }, bar, line2, waterfall),
    h("h2", {}, t("byUnit", { level: t("kind." + level) })), rowsTable(units, (r) => uname(r.org_unit), "by-unit"),
    h("h2", {}, t("ranking")),
    h("ol", { class: "ranking" }, ranking.items.map((r) => h("li", { "data-unit": r.org_unit, "data-rank": r.rank }, h("strong", {}, "#" + r.rank + " "), uname(r.org_unit), " · " + pct(r.attainment_pct)))),
    h("h2", {}, t("byLine", { unit: unitName(top) })), rowsTable(byLine, (r) => lineName(c.lines.find((l) => l.code === r.product_line)), "by-line"),
    h("p", {}, link(`/rounds/${id}`, t("controlRoom")))));
}
