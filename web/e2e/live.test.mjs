// The console follows the caller's events without a reload: "my work"
// shows a new task as soon as the round moves on, over the Server-Sent
// Events stream (GET /api/v1/events with the session cookie).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch, person, signIn, api } from "./lib.mjs";

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
