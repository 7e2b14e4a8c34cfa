// Exact decimal arithmetic on the API's amount strings: amounts become
// integers of minor units (BigInt) at the measure's scale, so subtotals are
// exact to the last unit, as the server's are. Never floats.

export function parseAmount(s: string, scale: number): bigint {
  const t = s.trim().replace(/[,\s]/g, "");
  const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(t);
  if (!m || (m[2] === "" && (m[3] ?? "") === "")) throw new Error("not a number: " + s);
  const frac = (m[3] ?? "").padEnd(scale, "0");
  if (frac.length > scale && /[1-9]/.test(frac.slice(scale))) throw new Error("too many decimal places: " + s);
  const v = BigInt((m[2] || "0") + frac.slice(0, scale));
  return m[1] === "-" ? -v : v;
}

export function toAmount(v: bigint, scale: number): string {
  const neg = v < 0n;
  let s = (neg ? -v : v).toString().padStart(scale + 1, "0");
  if (scale > 0) s = s.slice(0, -scale) + "." + s.slice(-scale);
  return (neg ? "-" : "") + s;
}

// format shows an amount with thousands separators, in units or in 万
// (ten-thousands, shown with two places).
export function format(v: bigint, scale: number, wan: boolean): string {
  let shown = scale;
  if (wan) {
    // v / 10^(scale+4), rounded half away from zero to two places.
    const div = 10n ** BigInt(scale + 2);
    const abs = v < 0n ? -v : v;
    let q = abs / div;
    if ((abs % div) * 2n >= div) q += 1n;
    v = v < 0n ? -q : q;
    shown = 2;
  }
  const s = toAmount(v, shown);
  const [int, frac] = s.split(".");
  const neg = int.startsWith("-");
  const digits = neg ? int.slice(1) : int;
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return (neg ? "-" : "") + grouped + (frac !== undefined ? "." + frac : "");
}
