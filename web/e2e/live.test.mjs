// The console follows the caller's events without a reload: "my work"
// shows a new task as soon as the round moves on, over the Server-Sent
// Events stream (GET /api/v1/events with the session cookie).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { BASE, launch, person, signIn, api, shot } from "./lib.mjs";

let browser;

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
});

test("my work updates live when a round moves on", async () => {
  const name = "Live plan " + (Date.now() % 1e6);
  let round = await api("strategy", "POST", "/rounds", {
    code: "LIVE-" + (Date.now() % 1e6), name, fiscal_year: 2027, first_month: 4, measures: ["revenue"],
  });
  round = await api("strategy", "POST", `/rounds/${round.id}/transitions`, { to: "open" });
  const { context, page } = await person(browser);
  await signIn(page, "bm-sh");
  await page.getByRole("heading", { name: "My work" }).waitFor();
  const task = page.locator(".tasks li", { hasText: name });
  assert.equal(await task.count(), 0);
  let navigations = 0;
  page.on("framenavigated", () => navigations++);
  await api("strategy", "POST", `/rounds/${round.id}/transitions`, { to: "counterproposals" });
  await task.first().waitFor({ timeout: 10000 });
  assert.equal(navigations, 0, "the page was not reloaded");
  assert.deepEqual(page.errors, []);
  await context.close();
});

// ---- every screen follows the stream ----

let round, vid;
const amount = (text) => text.trim().replace(/,/g, "");

// plan makes a round in its counterproposal phase with revenue allocated
// to the industry product lines.
async function plan() {
  if (round) return;
  round = await api("strategy", "POST", "/rounds", {
    code: "LIVE2-" + (Date.now() % 1e6), name: "Live plan II", fiscal_year: 2027, first_month: 4, measures: ["revenue"],
  });
  round = await api("strategy", "POST", `/rounds/${round.id}/transitions`, { to: "open" });
  vid = round.working_version_id;
  await api("pm-industry", "POST", `/versions/${vid}/allocations`, {
    measure: "revenue", root: "CO",
    targets: ["TERM", "POS", "DMP"].map((l, i) => ({ product_line: l, amount: `${(i + 1) * 1200000}.00` })),
    levels: [{ method: "even" }, { method: "even" }, { method: "even" }],
    phasing: { method: "even" },
  });
}

// updatedNote waits for the header's "updated" note.
async function updatedNote(page) {
  await page.locator("#live-note.fresh").waitFor({ timeout: 10000 });
}

test("the control room follows another's moves and counterproposals", async () => {
  await plan();
  const { context, page } = await person(browser);
  await signIn(page, "admin");
  await page.getByRole("heading", { name: "My work" }).waitFor();
  await page.goto(BASE + `/rounds/${round.id}`);
  await page.locator(".phase-step.current", { hasText: "Top-down allocation" }).waitFor();
  let navigations = 0;
  page.on("framenavigated", () => navigations++);
  // The strategy office moves the round on, through the API.
  const moved = await api("strategy", "POST", `/rounds/${round.id}/transitions`, { to: "counterproposals" });
  await page.locator(".phase-step.current", { hasText: "Counterproposals" }).waitFor({ timeout: 10000 });
  // The stepper stands where the API says the round is.
  const phases = ["draft", "open", "counterproposals", "review", "approved", "closed"];
  assert.equal(await page.locator(".phase-step.past").count(), phases.indexOf(moved.status));
  assert.equal(await page.locator(".phase-step").nth(phases.indexOf(moved.status)).getAttribute("aria-current"), "step");
  // A branch submits a counterproposal: the board shows it as the API does.
  const cp = await api("bm-sh", "POST", `/versions/${vid}/counterproposals`, {
    org_unit: "B-SH", title: "Shanghai live", lines: [{ product_line: "POS", measure: "revenue", period: "year", proposed: "1000.00", reason: "live" }],
  });
  await api("bm-sh", "POST", `/counterproposals/${cp.id}/submit`);
  const cell = page.locator('.board tr[data-unit="B-SH"] td[data-status="submitted"]');
  await page.waitForFunction(() => document.querySelector('.board tr[data-unit="B-SH"] td[data-status="submitted"]')?.dataset.lines !== "0", null, { timeout: 10000 });
  const overview = await api("strategy", "GET", `/versions/${vid}/counterproposals/overview`);
  const lines = overview.items.filter((it) => it.org_unit === "B-SH" && it.status === "submitted").reduce((s, it) => s + it.lines, 0);
  assert.equal(Number(await cell.getAttribute("data-lines")), lines);
  await updatedNote(page);
  await shot(page, "live-control-room-en");
  assert.equal(navigations, 0, "the page was not reloaded");
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("a counterproposal follows another's decision and comment", async () => {
  await plan();
  const cps = await api("bm-sh", "GET", `/versions/${vid}/counterproposals?limit=100`);
  const cp = cps.items.find((x) => x.title === "Shanghai live");
  assert.ok(cp, "the control room test's counterproposal");
  const { context, page } = await person(browser);
  await signIn(page, "bm-sh");
  await page.getByRole("heading", { name: "My work" }).waitFor();
  await page.goto(BASE + `/counterproposals/${cp.id}`);
  await page.locator(".status", { hasText: "Submitted" }).waitFor();
  let navigations = 0;
  page.on("framenavigated", () => navigations++);
  const full = await api("pm-industry", "GET", `/counterproposals/${cp.id}`);
  await api("pm-industry", "POST", `/counterproposals/${cp.id}/decision`, {
    decisions: [{ line_id: full.lines[0].id, decision: "modify", amount: "1100.00", apply: "rebalance", comment: "halfway" }],
  });
  await api("pm-industry", "POST", `/counterproposals/${cp.id}/comments`, { body: "Decided live." });
  await page.locator(".comments li", { hasText: "Decided live." }).waitFor({ timeout: 10000 });
  const after = await api("bm-sh", "GET", `/counterproposals/${cp.id}`);
  assert.equal(after.status, "closed");
  await page.locator(".status", { hasText: "Closed" }).waitFor();
  await page.locator("td", { hasText: "halfway" }).waitFor();
  const comments = await api("bm-sh", "GET", `/counterproposals/${cp.id}/comments`);
  assert.deepEqual(await page.locator(".comments .comment").allTextContents(), comments.items.map((c) => c.body));
  assert.equal(navigations, 0, "the page was not reloaded");
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("the grid follows another's edit in place and keeps an unsaved edit", async () => {
  await plan();
  const units = (await api("admin", "GET", "/org-units?limit=1000")).items;
  const plines = (await api("admin", "GET", "/product-lines?limit=1000")).items;
  const { context, page } = await person(browser);
  await signIn(page, "pm-commercial");
  await page.getByRole("heading", { name: "My work" }).waitFor();
  await page.goto(BASE + `/versions/${vid}/grid?unit=CO`);
  await page.locator(".grid-body .grid-row").first().waitFor();
  let navigations = 0;
  page.on("framenavigated", () => navigations++);
  // Scroll down, and take a row in view.
  await page.locator(".grid-viewport").evaluate((v) => { v.scrollTop = 240; });
  await page.waitForTimeout(200);
  const top = await page.locator(".grid-viewport").evaluate((v) => v.scrollTop);
  assert.ok(top > 0, "the grid scrolls");
  const r = Math.ceil(top / 30) + 2;
  const [uname, lname] = await page.locator(`.grid-row[aria-rowindex="${r + 2}"] [role=rowheader]`).allTextContents();
  const unit = units.find((u) => u.name === uname).code;
  const line = plines.find((l) => l.name === lname).code;
  const april = page.locator(`[data-r="${r}"][data-c="0"]`);
  // Another user edits that row's April through the API.
  await api("strategy", "PUT", `/versions/${vid}/targets`, { cells: [{ org_unit: unit, product_line: line, measure: "revenue", period: "2027-04", amount: "4321.09" }] }, { "If-Match": "*" });
  await page.waitForFunction((r) => document.querySelector(`[data-r="${r}"][data-c="0"]`)?.textContent === "4,321.09", r, { timeout: 10000 });
  const grid = await api("pm-commercial", "GET", `/versions/${vid}/targets?org_unit=${unit}&product_line=${line}&measure=revenue&period=2027-04`);
  assert.equal(amount(await april.textContent()), grid.items[0].periods[0].amount);
  assert.equal(await page.locator(".grid-viewport").evaluate((v) => v.scrollTop), top, "the scroll position stays");
  await updatedNote(page);
  await shot(page, "live-grid-en");
  // Now an edit is open in May: another change does not overwrite it.
  await page.locator(`[data-r="${r}"][data-c="1"]`).click();
  await page.keyboard.type("777");
  await api("strategy", "PUT", `/versions/${vid}/targets`, { cells: [{ org_unit: unit, product_line: line, measure: "revenue", period: "2027-04", amount: "5000.00" }] }, { "If-Match": "*" });
  await page.locator(".grid-status.stale").waitFor({ timeout: 10000 });
  assert.equal(await page.locator("input.cell-edit").inputValue(), "777");
  assert.equal(amount(await april.textContent()), "4321.09", "the grid waits while an edit is open");
  // Taking the change shows the API's value.
  await page.getByRole("button", { name: "Show the change" }).click();
  await page.waitForFunction((r) => document.querySelector(`[data-r="${r}"][data-c="0"]`)?.textContent === "5,000.00", r, { timeout: 10000 });
  assert.equal(navigations, 0, "the page was not reloaded");
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("attainment follows an actuals import", async () => {
  await plan();
  const { context, page } = await person(browser);
  await signIn(page, "admin");
  await page.getByRole("heading", { name: "My work" }).waitFor();
  const path = `/rounds/${round.id}/attainment?basis=ytd&level=branch&period=2027-06`;
  await page.goto(BASE + path);
  await page.getByRole("heading", { name: /Attainment/ }).waitFor();
  let navigations = 0;
  page.on("framenavigated", () => navigations++);
  const actualOnScreen = () => page.locator('.by-unit tr[data-key="B-SH"] td').nth(1).textContent({ timeout: 10000 });
  const before = await page.locator('.by-unit tr[data-key="B-SH"]').count() ? await actualOnScreen() : null;
  const cents = 100000 + (Date.now() % 100000);
  const form = new FormData();
  form.append("file", new Blob([`org_unit,product_line,measure,month,amount\nB-SH-KA,DMP,revenue,2027-05,${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}\n`], { type: "text/csv" }), "may.csv");
  form.append("round", round.code);
  const res = await fetch(BASE + "/api/v1/actuals/imports", { method: "POST", headers: { Authorization: "Bearer cas_demo_strategy" }, body: form });
  assert.equal(res.status, 200, await res.text());
  await page.waitForFunction((b) => {
    const td = document.querySelectorAll('.by-unit tr[data-key="B-SH"] td')[1];
    return td && td.textContent !== b;
  }, before, { timeout: 10000 });
  const report = await api("admin", "GET", `/rounds/${round.id}/attainment?measure=revenue&basis=ytd&level=branch&period=2027-06&version=${vid}&limit=1000`);
  const sh = report.items.find((r) => r.org_unit === "B-SH" && r.product_line === null);
  assert.equal(amount(await actualOnScreen()), sh.actual);
  assert.equal(navigations, 0, "the page was not reloaded");
  assert.deepEqual(page.errors, []);
  await context.close();
});
