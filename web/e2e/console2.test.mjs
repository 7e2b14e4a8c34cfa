// Console II in a real browser, against `cascade serve --demo`: the
// allocation studio (two levels, a lock, a buffer and a profile; the
// preview against what the saved run stores, to the cent; "Why this
// number?" against the API's explanation), the round control room's board
// against /counterproposals/overview, a diff drill-down to the changed
// cell, attainment charts against the API's numbers, and a 1M-cell
// allocation job followed and cancelled from the studio. Screenshots in
// English and Chinese go to out/screenshots/ (or CASCADE_SCREENSHOTS).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { BASE, launch, person, signIn, shot, api } from "./lib.mjs";

const report = (what, value) => console.log(`measured: ${what}: ${value}`);

let browser;
let round, v1;
const LINES = ["POS", "ATM"];

// cents turns an amount string into exact minor units.
const cents = (s) => {
  const [i, f = ""] = s.split(".");
  const neg = i.startsWith("-");
  const v = BigInt(i.replace("-", "") + (f + "00").slice(0, 2));
  return neg ? -v : v;
};

before(async () => {
  browser = await launch();
  const due = new Date(Date.now() + 5 * 86400e3 + 3 * 3600e3).toISOString().replace(/\.\d+Z$/, "Z");
  round = await api("strategy", "POST", "/rounds", {
    code: "E2E2-" + (Date.now() % 1e6), name: "Studio plan 2027", fiscal_year: 2027, first_month: 4,
    measures: ["revenue", "units"], calendar: [{ phase: "counterproposals", due }, { phase: "review", due }],
  });
  round = await api("strategy", "POST", `/rounds/${round.id}/transitions`, { to: "open" });
  v1 = round.working_version_id;
  // What the company had before the studio: every line even from the top,
  // so a locked unit keeps an amount of its own.
  await api("pm-industry", "POST", `/versions/${v1}/allocations`, {
    measure: "revenue", root: "CO", targets: LINES.map((l) => ({ product_line: l, amount: "2400000.00" })),
    levels: [{ method: "even" }], phasing: { method: "even" },
  });
});

after(async () => {
  await browser?.close();
});

// fillStudio builds the allocation: East China's POS and ATM, branches by
// typed weights, teams evenly with a 5 % buffer, months by the year-end
// peak profile, and Zhejiang locked by a click on it in the preview.
async function fillStudio(page) {
  await page.selectOption("#st-root", "R-EAST");
  await page.fill("#st-amount-POS", "1234567.89");
  await page.fill("#st-amount-ATM", "765432.11");
  await page.selectOption("#st-method-1", "proportional");
  for (const [u, w] of [["B-SH", "3"], ["B-JS", "2"], ["B-ZJ", "2"], ["B-AH", "1"]]) await page.fill(`.st-level[data-level="1"] input[data-unit="${u}"]`, w);
  await page.fill("#st-buffer-2", "5");
  await page.selectOption("#st-phasing", "profile");
  await page.selectOption("#st-profile", "year-end-peak");
  await page.locator(".st-tree [data-node=B-ZJ]").waitFor();
  await page.click(".st-tree [data-node=B-ZJ]");
  await page.locator(".st-tree tr.locked[data-unit=B-ZJ]").waitFor();
}

// previewed reads the preview: every node's year per line and the totals.
const previewed = (page) => page.evaluate(() => {
  const years = {};
  for (const td of document.querySelectorAll(".st-tree tbody td[data-year]")) years[td.closest("tr").dataset.unit + "|" + td.dataset.line] = td.dataset.year;
  const levels = {};
  for (const td of document.querySelectorAll(".st-tree tfoot td[data-total]")) levels[td.closest("tr").dataset.levelTotal + "|" + td.dataset.line] = td.dataset.total;
  return { years, levels, grand: document.querySelector("[data-grand-total]").dataset.grandTotal, cells: Number(document.querySelector(".st-tree").dataset.cells) };
});

test("studio: two levels, a lock, a buffer and a profile; the preview is what the run stores; why this number", async () => {
  const { context, page } = await person(browser);
  await signIn(page, "pm-industry");
  await page.getByRole("heading", { name: "My work" }).waitFor();
  await page.goto(BASE + `/versions/${v1}/studio`);
  await page.getByRole("heading", { name: /Allocation studio/ }).waitFor();
  const before = await api("strategy", "GET", `/versions/${v1}/targets?org_unit=B-ZJ&measure=revenue&product_line=POS,ATM&grain=year`);
  const t0 = Date.now();
  await fillStudio(page);
  report("studio preview after a change (fill to locked preview)", `${Date.now() - t0} ms`);
  const p = await previewed(page);
  // The lock kept Zhejiang's current amounts; the buffer shows at level 2.
  for (const row of before.items) assert.equal(p.years["B-ZJ|" + row.product_line], row.total, "the locked unit keeps its amount");
  assert.equal(p.levels["1|POS"], "1234567.89");
  await page.locator(".st-months table").waitFor();
  await shot(page, "studio-en");

  // Why this number, before anything is saved: the preview explains itself.
  await page.click(".st-tree [data-why=B-SH]");
  await page.locator('.why-card[data-unit=B-SH][data-source="preview"]').waitFor();
  const whyShown = () => page.$$eval(".why-card .why-line", (els) => els.map((e) => ({ ...e.dataset,
    words: [...e.querySelectorAll(":scope > p")].map((p) => p.textContent), months: [...e.querySelectorAll("li")].map((li) => ({ ...li.dataset })) })));
  const fromPreview = await whyShown();
  assert.equal(fromPreview.length, 2, "one explanation per line");
  for (const x of fromPreview) assert.equal(x.months.length, 12);
  assert.match(await page.locator(".why-card").innerText(), /Shanghai branch got/);
  await page.locator(".why-card .from-preview").waitFor();

  await page.click("#st-save");
  await page.locator(".st-saved[data-run]").waitFor();
  const runId = Number(await page.locator(".st-saved").getAttribute("data-run"));
  // What the run stored, read back through the API: every node's year,
  // every level's total and all of them together, to the cent.
  const stored = await api("strategy", "GET", `/versions/${v1}/targets?org_unit=R-EAST&subtree=true&measure=revenue&product_line=POS,ATM&grain=year&limit=1000`);
  const units = await api("strategy", "GET", "/org-units?code=R-EAST");
  const depth0 = units.items[0].depth;
  const all = await api("strategy", "GET", "/org-units?limit=1000");
  const depthOf = new Map(all.items.map((u) => [u.code, u.depth - depth0]));
  const levels = {};
  let grand = 0n;
  const untouched = [];
  for (const row of stored.items) {
    const k = row.org_unit + "|" + row.product_line;
    if (!(k in p.years)) { untouched.push(k); continue; }
    assert.equal(row.total, p.years[k], `${k}: stored ${row.total}, previewed ${p.years[k]}`);
    const lk = depthOf.get(row.org_unit) + "|" + row.product_line;
    levels[lk] = (levels[lk] ?? 0n) + cents(row.total);
    grand += cents(row.total);
  }
  // Only the locked unit's teams are outside the run, as they were.
  assert.deepEqual(untouched.map((k) => k.split("|")[0]).sort(), ["B-ZJ-CH", "B-ZJ-CH", "B-ZJ-KA", "B-ZJ-KA"]);
  assert.equal(stored.items.length - untouched.length, Object.keys(p.years).length, "every previewed node is stored");
  for (const [k, v] of Object.entries(p.levels)) assert.equal(levels[k], cents(v), `level total ${k}`);
  assert.equal(grand, cents(p.grand), "all cells to the cent");
  const runs = await api("pm-industry", "GET", `/versions/${v1}/allocations`);
  assert.equal(runs.items[0].id, runId, "the run is the version's newest");
  assert.equal(runs.items[0].cell_count, p.cells, "the preview's cell count is the run's");
  await page.locator(`.st-runs tr[data-run="${runId}"]`).waitFor();

  // Why did Shanghai get its amounts? The console says what the API says.
  await page.click(".st-tree [data-why=B-SH]");
  await page.locator('.why-card[data-unit=B-SH][data-source="run"]').waitFor();
  const shown = await page.$$eval(".why-card .why-line", (els) => els.map((e) => ({ ...e.dataset })));
  // The preview's explanation was the saved run's, word for word and month by month.
  assert.deepEqual(await whyShown(), fromPreview, "the preview explained Shanghai as the saved run does");
  const run = await api("pm-industry", "GET", `/allocations/${runId}?explain_under=R-EAST`);
  assert.equal(run.replayed, true);
  const mine = run.explanation.filter((e) => e.org_unit === "B-SH");
  assert.equal(shown.length, mine.length);
  for (const e of mine) {
    const s = shown.find((x) => x.line === e.product_line);
    assert.deepEqual({ quota: s.quota, floor: s.floor, rank: Number(s.rank), of: Number(s.of), rule: s.rule, amount: s.amount },
      { quota: e.quota, floor: e.floor, rank: e.rank, of: e.of, rule: e.rule, amount: e.amount }, "explanation of " + e.product_line);
  }
  const words = await page.locator(".why-card").innerText();
  assert.match(words, /Shanghai branch got/);
  await page.locator(".why-card .replay.ok").waitFor();
  await page.locator(".why-card").scrollIntoViewIfNeeded();
  await shot(page, "studio-why-en");
  assert.deepEqual(page.errors, []);
  await context.close();

  // The same in Chinese: the run replayed from the list, then explained.
  const zh = await person(browser, "zh");
  await signIn(zh.page, "pm-industry");
  await zh.page.getByRole("heading", { name: "我的待办" }).waitFor();
  await zh.page.goto(BASE + `/versions/${v1}/studio`);
  await zh.page.getByRole("heading", { name: /分解工作室/ }).waitFor();
  await fillStudio(zh.page);
  await shot(zh.page, "studio-zh");
  await zh.page.click(`.st-runs tr[data-run="${runId}"] button`);
  await zh.page.locator(".st-why .replay.ok").waitFor();
  await zh.page.click(".st-tree [data-why=B-SH]");
  await zh.page.locator(".why-card[data-unit=B-SH]").waitFor();
  assert.match(await zh.page.locator(".why-card").innerText(), /上海分公司 得到/);
  await zh.page.locator(".why-card").scrollIntoViewIfNeeded();
  await shot(zh.page, "studio-why-zh");
  assert.deepEqual(zh.page.errors, []);
  await zh.context.close();
});

test("studio: weights from last year's actuals and pasted from Excel, and a custom monthly shape", async () => {
  // Last fiscal year's actuals of East China's teams for POS.
  let csv = "org_unit,product_line,measure,month,amount\n";
  ["B-SH-KA", "B-SH-CH", "B-JS-KA", "B-JS-CH", "B-ZJ-KA", "B-AH-CH"].forEach((u, i) => { csv += `${u},POS,revenue,2026-0${4 + (i % 3)},${(i + 1) * 1111}.11\n`; });
  const form = new FormData();
  form.append("file", new Blob([csv], { type: "text/csv" }), "last-year.csv");
  const res = await fetch(BASE + "/api/v1/actuals/imports", { method: "POST", headers: { Authorization: "Bearer cas_demo_strategy" }, body: form });
  assert.equal(res.status, 200, await res.text());
  const { context, page } = await person(browser);
  await signIn(page, "pm-industry");
  await page.waitForURL((u) => !u.pathname.startsWith("/sign-in"));
  await page.goto(BASE + `/versions/${v1}/studio`);
  await page.getByRole("heading", { name: /Allocation studio/ }).waitFor();
  await page.selectOption("#st-root", "R-EAST");
  await page.fill("#st-amount-POS", "1000000.00");
  await page.selectOption("#st-method-1", "proportional");
  await page.getByRole("button", { name: "Last year's actuals" }).click();
  await page.getByText("Weights: the actuals of 2026-04 to 2027-03.").waitFor();
  for (const u of ["B-SH", "B-JS", "B-ZJ", "B-AH"]) {
    const a = await api("strategy", "GET", `/actuals?org_unit=${u}&product_line=POS&measure=revenue&period=2026-04..2027-03`);
    const want = a.items.reduce((s, r) => s + cents(r.total), 0n);
    assert.equal(cents(await page.inputValue(`.st-level[data-level="1"] input[data-unit="${u}"]`)), want, `${u}'s weight is its actuals`);
  }
  // A column pasted from Excel fills the weights downwards.
  await page.locator('.st-level[data-level="1"] input[data-unit="B-SH"]').evaluate((el) => {
    const dt = new DataTransfer();
    dt.setData("text/plain", "5\r\n4\r\n3\r\n2\r\n");
    el.dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true }));
  });
  assert.deepEqual(await page.$$eval('.st-level[data-level="1"] input[data-unit]', (els) => els.map((e) => e.value)), ["5", "4", "3", "2"]);
  await page.locator('.st-tree td[data-year="357142.86"]').waitFor(); // 1,000,000 × 5/14, rounded by the largest remainder
  // A custom monthly shape becomes a seasonality profile and phases the months.
  await page.selectOption("#st-phasing", "custom");
  for (let i = 0; i < 12; i++) await page.fill(`#st-shape-${i}`, String(i + 1));
  await page.getByRole("button", { name: "Save the shape as a profile and use it" }).click();
  await page.getByText(/^Saved as “Shape of/).waitFor();
  assert.equal(await page.inputValue("#st-phasing"), "profile");
  await page.locator('.st-month-table[data-unit="R-EAST"] tbody td', { hasText: /^12,820\.51$/ }).waitFor();
  const months = await page.$$eval('.st-month-table[data-unit="R-EAST"] tbody tr:first-child td', (tds) => tds.map((td) => td.textContent.replace(/,/g, "")));
  assert.equal(months[0], "12820.51"); // 1,000,000 × 1/78
  assert.equal(months[11], "153846.15"); // 1,000,000 × 12/78
  assert.equal(months[12], "1000000.00");
  // Saved as a background job: it runs to the end and records the run.
  await page.check("#st-async");
  await page.click("#st-save");
  await page.locator('.st-job[data-state="succeeded"]').waitFor();
  await page.locator(".st-saved", { hasText: /Saved as run #\d+/ }).waitFor();
  const job = (await api("pm-industry", "GET", `/versions/${v1}/allocation-jobs`)).items[0];
  assert.equal(job.state, "succeeded");
  assert.equal(Number(await page.locator("#st-progress").getAttribute("data-done")), job.cells_total);
  await page.locator(`.st-runs tr[data-run="${job.run_id}"]`).waitFor();
  const stored = await api("strategy", "GET", `/versions/${v1}/targets?org_unit=R-EAST&measure=revenue&product_line=POS&grain=month`);
  assert.equal(stored.items[0].periods[0].amount, "12820.51", "the job wrote what the preview showed");
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("control room: the board is the counterproposal overview; moves say why not", async () => {
  await api("strategy", "POST", `/rounds/${round.id}/transitions`, { to: "counterproposals" });
  const sh = await api("bm-sh", "POST", `/versions/${v1}/counterproposals`, { org_unit: "B-SH", title: "More POS", lines: [{ product_line: "POS", measure: "revenue", period: "year", proposed: "300000.00", reason: "bank project" }] });
  await api("bm-sh", "POST", `/counterproposals/${sh.id}/submit`);
  await api("bm-js", "POST", `/versions/${v1}/counterproposals`, { org_unit: "B-JS", title: "Fewer ATMs", lines: [{ product_line: "ATM", measure: "revenue", period: "year", proposed: "10000.00", reason: "market" }, { product_line: "POS", measure: "revenue", period: "2027-06", proposed: "1000.00", reason: "timing" }] });
  const overview = await api("strategy", "GET", `/versions/${v1}/counterproposals/overview`);
  const want = {};
  for (const it of overview.items) {
    const k = it.org_unit + "|" + it.status;
    want[k] = want[k] ?? { lines: 0, undecided: 0 };
    want[k].lines += it.lines;
    want[k].undecided += it.undecided;
  }
  for (const lang of ["en", "zh"]) {
    const { context, page } = await person(browser, lang);
    await signIn(page, "strategy");
    await page.waitForURL((u) => !u.pathname.startsWith("/sign-in"));
    await page.goto(BASE + `/rounds/${round.id}`);
    await page.locator("table.board").waitFor();
    const board = await page.$$eval("table.board tbody tr", (rows) => rows.map((r) => ({ unit: r.dataset.unit, silent: r.classList.contains("silent"),
      cells: [...r.querySelectorAll("td[data-status]")].map((td) => ({ status: td.dataset.status, lines: Number(td.dataset.lines), undecided: Number(td.dataset.undecided) })) })));
    const got = {};
    for (const r of board) {
      for (const c of r.cells) if (c.lines || c.undecided || want[r.unit + "|" + c.status]) got[r.unit + "|" + c.status] = { lines: c.lines, undecided: c.undecided };
      assert.equal(r.silent, overview.items.some((it) => it.org_unit === r.unit && it.status === "none"), `${r.unit} silent`);
    }
    assert.deepEqual(got, want, "the board is the overview");
    assert.deepEqual(new Set(board.map((r) => r.unit)), new Set(overview.items.map((it) => it.org_unit)));
    assert.ok(board.some((r) => r.silent), "some branch is silent");
    if (lang === "en") {
      // Moves: every move the API lists, the allowed ones enabled, the
      // others disabled with the API's reason, word for word.
      await page.getByRole("button", { name: "Move to: Review" }).waitFor();
      assert.equal(await page.getByRole("button", { name: "Move to: Review" }).isEnabled(), true);
      assert.equal(await page.getByRole("button", { name: "Move to: Approved" }).isDisabled(), true);
      const apiMoves = (await api("strategy", "GET", `/rounds/${round.id}`)).moves;
      const shownMoves = await page.$$eval(".moves li.move", (lis) => lis.map((li) => {
        const b = li.querySelector("button");
        const r = li.querySelector(".reason");
        return { to: b.dataset.to, allowed: !b.disabled, reason: r ? { code: r.dataset.code, message: r.querySelector(".reason-text").textContent } : null };
      }));
      assert.deepEqual(shownMoves, apiMoves.map((m) => ({ to: m.to, allowed: m.allowed, reason: m.reason ?? null })), "the buttons are the API's moves");
      // Approval is the president's; closing is not a move from here.
      assert.equal(shownMoves.find((m) => m.to === "approved").reason.code, "role");
      assert.equal(shownMoves.find((m) => m.to === "closed").reason.code, "phase");
      // Each reason shown is what the POST answers.
      for (const m of shownMoves.filter((x) => !x.allowed)) {
        const res = await fetch(BASE + `/api/v1/rounds/${round.id}/transitions`, { method: "POST", headers: { Authorization: "Bearer cas_demo_strategy", "Content-Type": "application/json" }, body: JSON.stringify({ to: m.to }) });
        assert.equal(res.status, m.reason.code === "role" ? 403 : 409, m.to);
        assert.equal((await res.json()).detail, await page.locator(`#move-reason-${m.to} .reason-text`).innerText(), m.to);
      }
      assert.match(await page.locator(".countdown").first().innerText(), /^in 5 d (2|3) h$/);
      await page.locator(".lineage .vnode").first().waitFor();
      // Consistency at a glance is the API's report: the studio's run gave
      // East China a new total under an unchanged company.
      const cons = await api("strategy", "GET", `/versions/${v1}/consistency`);
      assert.ok(cons.items.some((x) => x.parent === "CO"));
      assert.equal(await page.locator(`.vnode[data-version="${v1}"]`).getAttribute("data-consistent"), String(cons.items.length === 0));
    }
    await shot(page, "control-room-" + lang);
    // A branch manager sees only their unit on the board.
    assert.deepEqual(page.errors, []);
    await context.close();
  }
});

test("diff: a drill-down reaches the changed cell; the export is a workbook", async () => {
  const v2 = await api("strategy", "POST", `/rounds/${round.id}/versions`, { from_version_id: v1, label: "bottom-up" });
  await api("strategy", "PUT", `/versions/${v2.id}/targets`, { cells: [
    { org_unit: "B-SH-KA", product_line: "POS", measure: "revenue", period: "2027-05", amount: "43210.98" },
    { org_unit: "B-GD", product_line: "ATM", measure: "revenue", period: "2027-09", amount: "1.00" },
  ] }, { "If-Match": "*" });
  const d = await api("strategy", "GET", `/versions/${v2.id}/diff?against=${v1}&org_unit=B-SH-KA&measure=revenue`);
  const change = d.changes.find((c) => c.period === "2027-05" && c.product_line === "POS");
  for (const lang of ["en", "zh"]) {
    const { context, page } = await person(browser, lang);
    await signIn(page, "strategy");
    await page.waitForURL((u) => !u.pathname.startsWith("/sign-in"));
    await page.goto(BASE + `/versions/${v2.id}/diff?against=${v1}`);
    await page.locator(".diff-tree").waitFor();
    // The tree holds each unit's own change; the levels are kept apart.
    assert.equal(await page.locator('.diff-tree tr[data-unit="B-SH-KA"] td[data-delta]').getAttribute("data-delta"), change.delta);
    assert.match(await page.locator('.diff-tree tr[data-unit="B-SH-KA"]').getAttribute("class"), /heat-(up|down)-\d/);
    await page.click('.diff-tree [data-drill="B-SH-KA"]');
    const cell = page.locator('.diff-cells tr[data-cell="B-SH-KA|POS|revenue|2027-05"]');
    await cell.waitFor();
    assert.equal(await cell.locator("td[data-delta]").getAttribute("data-delta"), change.delta);
    await shot(page, "diff-" + lang);
    if (lang === "en") {
      const href = await page.getByRole("link", { name: "Export to XLSX" }).getAttribute("href");
      const res = await page.request.get(BASE + href);
      assert.equal(res.status(), 200);
      assert.equal(res.headers()["content-type"], "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
      assert.equal((await res.body()).subarray(0, 2).toString(), "PK");
      // A filter by product line narrows the tree to that line's changes.
      await page.selectOption("#diff-line", "ATM");
      await page.locator('.diff-tree tr[data-unit="B-GD"]').waitFor();
      assert.equal(await page.locator('.diff-tree tr[data-unit="B-SH-KA"]').count(), 0);
      await page.click('.diff-tree [data-drill="B-GD"]');
      await page.locator('.diff-cells tr[data-cell="B-GD|ATM|revenue|2027-09"]').waitFor();
    }
    assert.deepEqual(page.errors, []);
    await context.close();
  }
});

test("attainment: the charts draw the API's numbers, and download as PNG and SVG", async () => {
  // A quarter of actuals at the teams of East China.
  const teams = ["B-SH-KA", "B-SH-CH", "B-JS-KA", "B-JS-CH", "B-ZJ-KA", "B-ZJ-CH", "B-AH-KA", "B-AH-CH"];
  let csv = "org_unit,product_line,measure,month,amount\n";
  teams.forEach((u, i) => ["2027-04", "2027-05", "2027-06"].forEach((m, j) => { csv += `${u},POS,revenue,${m},${10000 + i * 1500 + j * 250}.${10 + i}\n`; }));
  const form = new FormData();
  form.append("file", new Blob([csv], { type: "text/csv" }), "q1.csv");
  form.append("round", round.code);
  const res = await fetch(BASE + "/api/v1/actuals/imports", { method: "POST", headers: { Authorization: "Bearer cas_demo_strategy" }, body: form });
  assert.equal(res.status, 200, await res.text());
  for (const lang of ["en", "zh"]) {
    const { context, page } = await person(browser, lang);
    await signIn(page, "strategy");
    await page.waitForURL((u) => !u.pathname.startsWith("/sign-in"));
    await page.goto(BASE + `/rounds/${round.id}/attainment?basis=ytd&level=branch&period=2027-06`);
    await page.locator("#chart-attainment-by-unit canvas").first().waitFor();
    await page.locator("#chart-cumulative canvas").first().waitFor();
    if (lang === "en") {
      const wv = (await api("strategy", "GET", `/rounds/${round.id}`)).working_version_id;
      const ranking = await api("strategy", "GET", `/rounds/${round.id}/rankings?measure=revenue&level=branch&basis=ytd&period=2027-06&version=${wv}`);
      // One bar per branch with a target, in rank order; of more than 20
      // (with the large organisation an earlier test adds), the 10 best and
      // the 10 lowest.
      let withTarget = ranking.items.filter((r) => r.attainment_pct !== null);
      assert.ok(withTarget.length >= 8, `${withTarget.length} branches with a target`);
      if (withTarget.length > 20) withTarget = [...withTarget.slice(0, 10), ...withTarget.slice(-10)];
      const units = await page.locator("#chart-attainment-by-unit").getAttribute("data-units");
      assert.deepEqual(units.split(","), withTarget.map((r) => r.org_unit), "one bar per ranked branch, in rank order");
      const drawn = await page.$$eval('[data-chart="attainment-by-unit"] tbody td[data-value]', (tds) => tds.map((td) => td.dataset.value));
      assert.deepEqual(drawn, withTarget.map((r) => r.attainment_pct), "the bars are the API's attainment");
      assert.ok(ranking.items.some((r) => r.attainment_pct !== null && r.attainment_pct !== "0.00"));
      // The cumulative actual of the last month with actuals is the sum of the file.
      const cum = await page.$$eval('[data-chart="cumulative"] tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.dataset.value)));
      const total = csv.trim().split("\n").slice(1).reduce((s, l) => s + cents(l.split(",")[4]), 0n);
      assert.equal(cents(cum[2][1]), total, "cumulative actual to June");
      assert.equal(cum[3][1], "", "no actual after June");
      const [png] = await Promise.all([page.waitForEvent("download"), page.locator("#chart-attainment-by-unit").getByRole("button", { name: "PNG" }).click()]);
      assert.match(png.suggestedFilename(), /\.png$/);
      const [svg] = await Promise.all([page.waitForEvent("download"), page.locator("#chart-cumulative").getByRole("button", { name: "SVG" }).click()]);
      assert.match(svg.suggestedFilename(), /\.svg$/);
      const chunks = [];
      for await (const ch of await svg.createReadStream()) chunks.push(ch);
      assert.match(Buffer.concat(chunks).toString(), /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"[\s\S]*<polyline/);
      await page.locator("#chart-waterfall canvas").first().waitFor();
    }
    await shot(page, "attainment-" + lang);
    assert.deepEqual(page.errors, []);
    await context.close();
  }
});

// pool runs fn over items, n at a time.
async function pool(items, n, fn) {
  let i = 0;
  await Promise.all(Array.from({ length: n }, async () => { while (i < items.length) { const x = items[i++]; await fn(x); } }));
}

test("a 1M-cell allocation from the studio runs as a job with real progress, and a cancel leaves the version untouched", async () => {
  // 52 product lines × (a region, 40 branches, 1,600 teams) × 12 months = 1,023,984 cells.
  const t0 = Date.now();
  const tokens = ["admin", "strategy"];
  const lines = Array.from({ length: 40 }, (_, i) => "JOB" + String(i + 1).padStart(2, "0"));
  await pool(lines, 4, async (code) => api(tokens[code.charCodeAt(4) % 2], "POST", "/product-lines", { code, group: "industry", name: "Job line " + code }));
  const co = (await api("admin", "GET", "/org-units?code=CO")).items[0];
  const region = await api("admin", "POST", "/org-units", { code: "R-JOB", kind: "region", name: "Job region", parent_id: co.id });
  const branches = [];
  await pool(Array.from({ length: 40 }, (_, i) => i), 4, async (i) => {
    branches.push(await api(tokens[i % 2], "POST", "/org-units", { code: `B-JOB${String(i).padStart(2, "0")}`, kind: "branch", name: `Job branch ${i}`, parent_id: region.id }));
  });
  const teams = branches.flatMap((b) => Array.from({ length: 40 }, (_, j) => ({ code: `${b.code}-T${String(j).padStart(2, "0")}`, kind: j % 2 ? "channel_team" : "key_account_team", name: `Team ${j}`, parent_id: b.id })));
  let k = 0;
  await pool(teams, 8, async (team) => api(tokens[k++ % 2], "POST", "/org-units", team));
  report("set-up of 1,641 org units and 40 product lines through the API", `${((Date.now() - t0) / 1000).toFixed(1)} s`);

  let big = await api("strategy", "POST", "/rounds", { code: "E2E-BIG-" + (Date.now() % 1e6), name: "Job plan 2027", fiscal_year: 2027, first_month: 1, measures: ["revenue"] });
  big = await api("strategy", "POST", `/rounds/${big.id}/transitions`, { to: "open" });
  const vid = big.working_version_id;
  const before = await api("strategy", "GET", `/versions/${vid}`);
  const consBefore = await api("strategy", "GET", `/versions/${vid}/consistency`);

  const { context, page } = await person(browser);
  await signIn(page, "strategy");
  await page.waitForURL((u) => !u.pathname.startsWith("/sign-in"));
  await page.goto(BASE + `/versions/${vid}/studio`);
  await page.getByRole("heading", { name: /Allocation studio/ }).waitFor();
  await page.selectOption("#st-root", "R-JOB");
  for (const input of await page.locator(".st-line input.amount").all()) await input.fill("1000000.00");
  await page.getByText(/A large allocation \(1,023,984 cells\)/).waitFor();
  const t1 = Date.now();
  await page.click("#st-save");
  // Follow the progress bar: cells done only grows.
  const seen = [];
  for (;;) {
    const s = await page.evaluate(() => { const b = document.querySelector("#st-progress"); const j = document.querySelector(".st-job"); return b ? { done: Number(b.dataset.done ?? 0), total: Number(b.dataset.total ?? 0), state: j.dataset.state } : null; });
    if (s) seen.push(s);
    if (s && s.done > 0 && seen.filter((x) => x.done > 0).length >= 3) break;
    if (s && ["succeeded", "failed", "cancelled"].includes(s.state)) break;
    assert.ok(Date.now() - t1 < 300_000, "the job made progress within 5 minutes");
    await page.waitForTimeout(100);
  }
  const last = seen[seen.length - 1];
  assert.equal(last.state, "running", `the job is running when cancelled (${JSON.stringify(last)})`);
  assert.equal(last.total, 1023984, "cells_total is the whole allocation");
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i].done >= seen[i - 1].done, `progress went back: ${JSON.stringify(seen)}`);
  await page.locator(".st-job").scrollIntoViewIfNeeded();
  await shot(page, "studio-job-en");
  // A reload (in Chinese) finds the job under way and follows it again.
  const jobId = await page.locator(".st-job").getAttribute("data-job");
  await page.evaluate(() => localStorage.setItem("cascade.lang", "zh"));
  await page.reload();
  await page.locator(`.st-job[data-job="${jobId}"][data-state="running"] #st-progress`).waitFor();
  // The form is the job's request again, as the API returns it.
  const running = await api("strategy", "GET", `/allocation-jobs/${jobId}`);
  assert.equal(running.request.root, "R-JOB");
  assert.equal(await page.inputValue("#st-root"), running.request.root);
  assert.equal(await page.inputValue("#st-measure"), running.request.measure);
  assert.equal(running.request.targets.length, await page.locator(".st-line input.amount").count(), "every line was in the job");
  for (const tg of running.request.targets) {
    assert.equal(await page.inputValue(`#st-amount-${tg.product_line}`), tg.amount);
    assert.equal(await page.isChecked(`#st-line-${tg.product_line}`), true);
  }
  for (const [i, lv] of (running.request.levels ?? []).entries()) assert.equal(await page.inputValue(`#st-method-${i + 1}`), lv.method);
  const again = Number(await page.locator("#st-progress").getAttribute("data-done"));
  assert.ok(again >= last.done, `after the reload ${again} of ${last.total}, before ${last.done}`);
  seen.push({ ...last, done: again });
  await page.locator(".st-job").scrollIntoViewIfNeeded();
  report("job progress seen before cancel", seen.filter((x) => x.done > 0).map((x) => x.done).join(" → ") + ` of ${last.total}`);
  await shot(page, "studio-job-zh");
  await page.click("#st-cancel");
  await page.locator('.st-job[data-state="cancelled"]').waitFor({ timeout: 120_000 });
  report("studio job: save to cancelled", `${((Date.now() - t1) / 1000).toFixed(1)} s`);
  await page.locator(".st-job").scrollIntoViewIfNeeded();
  await shot(page, "studio-job-cancelled-zh");
  // Nothing of it stayed: the same cells and the same consistency report.
  const after = await api("strategy", "GET", `/versions/${vid}`);
  assert.equal(after.cell_count, before.cell_count);
  assert.deepEqual(await api("strategy", "GET", `/versions/${vid}/consistency`), consBefore);
  assert.equal((await api("strategy", "GET", `/versions/${vid}/allocations`)).items.length, 0, "no run was recorded");
  const jobs = await api("strategy", "GET", `/versions/${vid}/allocation-jobs`);
  assert.equal(jobs.items[0].state, "cancelled");
  assert.deepEqual(page.errors, []);
  await context.close();
});
