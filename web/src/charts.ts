// Charts drawn in the browser from API data with uPlot (MIT): bars, lines
// and a waterfall. Every chart carries the exact numbers it draws in a
// table below it (the API's decimal strings, never rounded for the eye),
// and downloads as PNG (uPlot's canvas, on white, with the title and
// legend) or as SVG (drawn from the same numbers and the same scale).
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { h } from "./dom";
import { t } from "./i18n";

export interface ChartSeries {
  label: string;
  // exact decimal strings, one per label; null where there is no value.
  values: (string | null)[];
  color: string;
}

export interface ChartSpec {
  id: string;
  title: string;
  kind: "bar" | "line" | "waterfall";
  labels: string[];
  series: ChartSeries[];
  // display formatter for the data table and tooltips.
  format: (s: string) => string;
}

const num = (s: string | null): number | null => (s === null || s === "" ? null : Number(s));

// niceRange pads [lo, hi] to round steps.
function niceRange(lo: number, hi: number, zero: boolean): [number, number] {
  if (zero) { lo = Math.min(lo, 0); hi = Math.max(hi, 0); }
  if (lo === hi) { hi = lo + 1; }
  const span = hi - lo;
  const step = Math.pow(10, Math.floor(Math.log10(span))) / 2;
  return [Math.floor(lo / step) * step, Math.ceil(hi / step) * step];
}

// waterfallBars turns a start, deltas and an end into floating bars.
function waterfallBars(vals: (number | null)[]): { y0: number; y1: number; total: boolean }[] {
  const out: { y0: number; y1: number; total: boolean }[] = [];
  let run = 0;
  vals.forEach((v, i) => {
    const x = v ?? 0;
    if (i === 0 || i === vals.length - 1) {
      out.push({ y0: 0, y1: x, total: true });
      run = x;
    } else {
      out.push({ y0: run, y1: run + x, total: false });
      run += x;
    }
  });
  return out;
}

function yRange(spec: ChartSpec): [number, number] {
  if (spec.kind === "waterfall") {
    const bars = waterfallBars(spec.series[0].values.map(num));
    const ends = bars.flatMap((b) => (b.total ? [b.y1] : [b.y0, b.y1]));
    const lo = Math.min(...ends), hi = Math.max(...ends);
    // The totals dwarf the steps between them: the axis starts near the
    // smallest running total, so the steps stay visible.
    const pad = (hi - lo) * 0.15 || Math.abs(hi) * 0.05 || 1;
    return niceRange(lo - pad, hi + pad, false);
  }
  const all = spec.series.flatMap((s) => s.values.map(num)).filter((v): v is number => v !== null);
  return niceRange(all.length ? Math.min(...all) : 0, all.length ? Math.max(...all) : 1, true);
}

// compact labels an axis tick in k, M or B, with as many places as the
// step between ticks needs to tell them apart.
const compact = (v: number, step = 0): string => {
  if (v === 0) return "0";
  const a = Math.max(Math.abs(v), Math.abs(step));
  const [div, suffix] = a >= 1e9 ? [1e9, "B"] : a >= 1e6 ? [1e6, "M"] : a >= 1e3 ? [1e3, "k"] : [1, ""];
  const places = step > 0 ? Math.min(6, Math.max(0, Math.ceil(-Math.log10(step / div) - 1e-9))) : 1;
  return (v / div).toFixed(places) + suffix;
};

// chart renders spec: the plot, its download buttons and its data table.
export function chart(spec: ChartSpec, width = 640, height = 300): HTMLElement {
  const plot = h("div", { class: "chart-plot", role: "img", "aria-label": spec.title });
  const n = spec.labels.length;
  const xs = spec.labels.map((_, i) => i);
  const [ylo, yhi] = yRange(spec);
  let u: uPlot | null = null;
  const wf = spec.kind === "waterfall" ? waterfallBars(spec.series[0].values.map(num)) : [];
  const opts: uPlot.Options = {
    width, height, padding: [12, 48, 0, 0],
    legend: { show: spec.kind !== "waterfall", live: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: false, range: () => [-0.5, n - 0.5] }, y: { range: () => [ylo, yhi] } },
    axes: [
      { splits: () => xs, values: (_u, splits) => splits.map((i) => spec.labels[i] ?? ""), grid: { show: false }, rotate: n > 4 ? -30 : 0, size: n > 4 ? 80 : 40 },
      { values: (_u, splits) => splits.map((v) => compact(v, splits.length > 1 ? Math.abs(splits[1] - splits[0]) : 0)), size: 70 },
    ],
    series: [{ label: "" }, ...spec.series.map((s) => ({
      label: s.label,
      stroke: s.color,
      fill: spec.kind === "bar" ? s.color : undefined,
      width: spec.kind === "line" ? 2 : 1,
      show: spec.kind !== "waterfall",
      paths: spec.kind === "bar" ? uPlot.paths.bars!({ size: [0.6 / spec.series.length, 60], align: 0 }) : undefined,
      points: { show: spec.kind === "line" },
      value: (_u: uPlot, v: number | null, _s: number, i: number | null) => (i === null || v === null ? "" : spec.format(s.values[i] ?? "")),
    }))],
    hooks: spec.kind === "waterfall" ? {
      draw: [(self: uPlot) => {
        const ctx = self.ctx;
        const bw = (self.bbox.width / n) * 0.6;
        wf.forEach((b, i) => {
          const x = self.valToPos(i, "x", true) - bw / 2;
          const bottom = b.total ? self.bbox.top + self.bbox.height : self.valToPos(b.y0, "y", true);
          const top = self.valToPos(b.y1, "y", true);
          ctx.fillStyle = b.total ? "#0b5cad" : b.y1 >= b.y0 ? "#137333" : "#b42318";
          ctx.fillRect(x, Math.min(top, bottom), bw, Math.max(1, Math.abs(bottom - top)));
        });
      }],
    } : {},
  };
  const data: uPlot.AlignedData = [xs, ...spec.series.map((s) => s.values.map(num))];
  // uPlot measures its container: draw once the element is in the page.
  requestAnimationFrame(() => { u = new uPlot(opts, data, plot); });

  const png = h("button", { type: "button", onclick: () => { if (u) void downloadPNG(spec, u); } }, t("downloadPNG"));
  const svg = h("button", { type: "button", onclick: () => download(new Blob([toSVG(spec, [ylo, yhi], wf)], { type: "image/svg+xml" }), spec.id + ".svg") }, t("downloadSVG"));
  const table = h("table", { class: "plain chart-data", "data-chart": spec.id },
    h("caption", {}, t("chartData")),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, ""), spec.series.map((s) => h("th", { scope: "col" }, s.label)))),
    h("tbody", {}, spec.labels.map((l, i) => h("tr", { "data-label": l },
      h("th", { scope: "row" }, l),
      spec.series.map((s) => h("td", { class: "num", "data-value": s.values[i] ?? "" }, s.values[i] === null ? "—" : spec.format(s.values[i]!)))))));
  return h("figure", { class: "chart card", id: "chart-" + spec.id, "data-kind": spec.kind },
    h("figcaption", {}, h("strong", {}, spec.title), h("span", { class: "chart-tools" }, png, svg)),
    plot,
    h("details", {}, h("summary", {}, t("showData")), table));
}

function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: name });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

async function downloadPNG(spec: ChartSpec, u: uPlot): Promise<void> {
  const src = u.ctx.canvas;
  const head = 56;
  const c = document.createElement("canvas");
  c.width = src.width;
  c.height = src.height + head;
  const ctx = c.getContext("2d")!;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, c.width, c.height);
  ctx.fillStyle = "#1c2430";
  ctx.font = "bold 16px sans-serif";
  ctx.fillText(spec.title, 12, 22);
  ctx.font = "13px sans-serif";
  let x = 12;
  if (spec.kind !== "waterfall") for (const s of spec.series) {
    ctx.fillStyle = s.color;
    ctx.fillRect(x, 34, 12, 12);
    ctx.fillStyle = "#1c2430";
    ctx.fillText(s.label, x + 18, 45);
    x += 30 + ctx.measureText(s.label).width;
  }
  ctx.drawImage(src, 0, head);
  const blob = await new Promise<Blob | null>((r) => c.toBlob(r, "image/png"));
  if (blob) download(blob, spec.id + ".png");
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]!));

// toSVG draws spec as a standalone SVG on the same y scale as the screen.
export function toSVG(spec: ChartSpec, [lo, hi]: [number, number], wf: { y0: number; y1: number; total: boolean }[]): string {
  const W = 800, H = 420, L = 80, R = 20, T = 50, B = 80;
  const pw = W - L - R, ph = H - T - B, n = spec.labels.length;
  const X = (i: number) => L + ((i + 0.5) / n) * pw;
  const Y = (v: number) => T + ph - ((v - lo) / (hi - lo)) * ph;
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`, `<text x="${L}" y="20" font-size="16" font-weight="bold">${esc(spec.title)}</text>`];
  for (let k = 0; k <= 5; k++) {
    const v = lo + ((hi - lo) * k) / 5;
    out.push(`<line x1="${L}" x2="${W - R}" y1="${Y(v)}" y2="${Y(v)}" stroke="#e3e7ec"/>`, `<text x="${L - 6}" y="${Y(v) + 4}" text-anchor="end">${compact(v, (hi - lo) / 5)}</text>`);
  }
  spec.labels.forEach((l, i) => out.push(`<text x="${X(i)}" y="${H - B + 14}" text-anchor="end" transform="rotate(-30 ${X(i)} ${H - B + 14})">${esc(l)}</text>`));
  const bw = (pw / n) * 0.6;
  if (spec.kind === "waterfall") {
    wf.forEach((b, i) => {
      const y0 = b.total ? T + ph : Y(b.y0), y1 = Y(b.y1);
      out.push(`<rect x="${X(i) - bw / 2}" y="${Math.min(y0, y1)}" width="${bw}" height="${Math.max(1, Math.abs(y0 - y1))}" fill="${b.total ? "#0b5cad" : b.y1 >= b.y0 ? "#137333" : "#b42318"}"><title>${esc(spec.labels[i])}: ${esc(spec.format(spec.series[0].values[i] ?? ""))}</title></rect>`);
    });
  } else {
    spec.series.forEach((s, si) => {
      if (spec.kind === "bar") {
        const w = bw / spec.series.length;
        s.values.forEach((v, i) => {
          if (v === null) return;
          const y = Y(Number(v)), z = Y(Math.max(lo, 0));
          out.push(`<rect x="${X(i) - bw / 2 + si * w}" y="${Math.min(y, z)}" width="${w}" height="${Math.abs(z - y)}" fill="${s.color}"><title>${esc(spec.labels[i])}: ${esc(spec.format(v))}</title></rect>`);
        });
      } else {
        const pts = s.values.map((v, i) => (v === null ? null : `${X(i)},${Y(Number(v))}`)).filter((p) => p !== null);
        out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.join(" ")}"/>`);
      }
      out.push(`<rect x="${L + si * 200}" y="30" width="12" height="12" fill="${s.color}"/><text x="${L + si * 200 + 18}" y="41">${esc(s.label)}</text>`);
    });
  }
  out.push("</svg>");
  return out.join("\n");
}
