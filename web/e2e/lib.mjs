// Helpers of the console's end-to-end tests: the browser, API set-up with
// the demo tokens, sign-in and screenshots.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

export const BASE = process.env.CASCADE_URL || "http://127.0.0.1:18090";
export const SHOTS = process.env.CASCADE_SCREENSHOTS || new URL("./out/screenshots/", import.meta.url).pathname;
mkdirSync(SHOTS, { recursive: true });

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"],
  });
}

// person opens a fresh browser context (its own cookies) at 1440×900 and
// fails the test on any console error, such as a CSP violation.
export async function person(browser, lang = "en") {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: lang === "zh" ? "zh-CN" : "en-GB", timezoneId: "Asia/Shanghai" });
  await context.addInitScript((l) => { if (!localStorage.getItem("cascade.lang")) localStorage.setItem("cascade.lang", l); }, lang);
  const page = await context.newPage();
  page.errors = [];
  page.on("console", (m) => { if (m.type() === "error" && !/status of (401|403|404|409|412|422|429)/.test(m.text())) page.errors.push(m.text()); });
  page.on("pageerror", (e) => page.errors.push(String(e)));
  return { context, page };
}

export async function signIn(page, username, password = "demo-" + username) {
  await page.goto(BASE + "/sign-in");
  await page.fill("#username", username);
  await page.fill("#password", password);
  await page.click("button[type=submit]");
}

// shot screenshots the page and checks it for the accessibility basics
// (every control has a name, one h1, a page language, unique ids, no
// dangling references), failing the test on a problem.
export async function shot(page, name) {
  await page.waitForTimeout(150);
  await page.screenshot({ path: SHOTS + name + ".png" });
  const problems = await a11y(page);
  if (problems.length) throw new Error(`${name}: accessibility problems:\n  ${problems.join("\n  ")}`);
}

// a11y lists the page's basic accessibility problems. (axe-core, the usual
// engine, is MPL-licensed, which this project does not take in.)
export async function a11y(page) {
  return page.evaluate(() => {
    const problems = [];
    const labelOf = (el) => (el.getAttribute("aria-label") || (el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`)?.textContent) ||
      el.closest("label")?.textContent || el.getAttribute("title") || "").trim();
    for (const el of document.querySelectorAll("input, select, textarea")) {
      if (el.type !== "hidden" && !labelOf(el)) problems.push("a control without a label: " + el.outerHTML.slice(0, 100));
    }
    for (const el of document.querySelectorAll("button, a[href], [role=columnheader], [role=rowheader]")) {
      if (!(el.textContent.trim() || el.getAttribute("aria-label"))) problems.push("an element without a name: " + el.outerHTML.slice(0, 100));
    }
    const ids = [...document.querySelectorAll("[id]")].map((e) => e.id);
    const dup = ids.filter((x, i) => ids.indexOf(x) !== i);
    if (dup.length) problems.push("duplicate ids: " + dup.join(", "));
    if (!document.documentElement.lang) problems.push("no page language");
    const h1 = document.querySelectorAll("h1").length;
    if (h1 !== 1) problems.push(`${h1} h1 headings`);
    for (const el of document.querySelectorAll("[aria-activedescendant], label[for]")) {
      const id = el.getAttribute("aria-activedescendant") || el.getAttribute("for");
      if (!document.getElementById(id)) problems.push("a reference to a missing id: " + id);
    }
    for (const el of document.querySelectorAll("[role=grid]")) {
      if (!el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby")) problems.push("a grid without a name");
    }
    return problems;
  });
}

// api calls the API as a demo user with their well-known bearer token.
// It waits and retries when the token's rate limit answers 429.
export async function api(user, method, path, body, headers = {}) {
  let res;
  for (;;) {
    res = await fetch(BASE + "/api/v1" + path, {
      method,
      headers: { Authorization: "Bearer cas_demo_" + user, "Content-Type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status !== 429) break;
    await new Promise((r) => setTimeout(r, 1000 * Number(res.headers.get("Retry-After") || 1)));
  }
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} as ${user}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}
