// SPDX-License-Identifier: BSD-2-Clause
// The console in a real browser (Debian's chromium, headless, driven by
// playwright-core): run by tests/integration/t_console.sh against an arbord
// whose tree is root/pair (one_for_all: a, b) and root/solo, where a's
// STATUS= text and output are "<script>alert(1)</script>".
//
//   node console.mjs SIGN_IN_URL SCREENSHOT.png [expire]
//
// SIGN_IN_URL is what `arborctl console` printed. The browser signs in
// through it (the token must be gone from the address after the
// redirect), then checks the page; with "expire", arbord's sessions are
// short (ARBOR_CONSOLE_SESSION_TTL_MS) and the page must say so once its
// session is gone. Exits 0 when every check passed; says what failed
// otherwise.
import { chromium } from "playwright-core";

const [signIn, shot, mode] = process.argv.slice(2);
const problems = [];
const fail = (msg) => { throw new Error(msg); };
let page;

// /api/status as the page gets it: with the page's session cookie.
async function statusOf(path) {
  return page.evaluate(async (p) =>
    (await fetch("/api/status?path=" + encodeURIComponent(p))).json(), path);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
try {
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  // A 401 is what the expiry check waits for; chromium logs it as an error.
  page.on("console", (m) => {
    if (m.type() === "error" && !(mode === "expire" && /401/.test(m.text())))
      problems.push("console error: " + m.text());
  });
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  page.on("dialog", (d) => { problems.push("a dialog opened: " + d.message()); d.dismiss(); });

  // Signing in: the token is traded for a cookie and leaves the address.
  await page.goto(signIn, { waitUntil: "load" });
  const href = await page.evaluate(() => location.href);
  if (/token/.test(href)) fail("the token is still in location.href: " + href);
  if (new URL(href).pathname !== "/") fail("the sign-in did not land on /: " + href);
  await page.waitForSelector("#live.on", { timeout: 10000 })
    .catch(() => fail("the page did not go live after signing in"));

  if (mode === "expire") {
    // The session ends (its short lifetime): the stream ends with it, and
    // the page says what to do instead of going stale.
    const t0 = Date.now();
    await page.waitForSelector("#signed-out", { state: "visible", timeout: 20000 })
      .catch(() => fail("no message once the session expired"));
    const text = await page.locator("#signed-out").textContent();
    if (!/Session expired — run arborctl console for a new link/.test(text))
      fail("the message says: " + text);
    if (problems.length) fail(problems.join("; "));
    console.log(`console ok: the expired session said so in ${Date.now() - t0} ms after going live`);
  } else {
    // The tree appears.
    const row = (p) => page.locator(`#tree tbody tr[data-path="${p}"]`);
    await row("root/pair/a").waitFor({ timeout: 10000 });
    await row("root/solo").waitFor({ timeout: 10000 });

    // A worker's STATUS= text shows as text, not as markup.
    await page.waitForFunction(() =>
      [...document.querySelectorAll(".status-text")].some((e) => e.textContent === "<script>alert(1)</script>"),
      null, { timeout: 15000 }).catch(() => fail("the STATUS= text is not shown as text"));
    if ((await page.locator("script").count()) !== 1)
      fail("a script element was injected into the page");

    // SIGKILL shows its restart, exit reason and killer within 2 s, no reload.
    const before = await statusOf("root/solo");
    process.kill(before.pid, "SIGKILL");
    const t0 = Date.now();
    await page.waitForFunction(([r]) => {
      const tr = document.querySelector('#tree tbody tr[data-path="root/solo"]');
      return tr && tr.querySelector(".restarts").textContent === String(r + 1) &&
        /crash SIGKILL/.test(tr.querySelector(".last-exit").textContent) &&
        /node/.test(tr.querySelector(".killer").textContent);
    }, [before.restarts], { timeout: 2000 }).catch(() => fail("a SIGKILL's restart, reason and killer did not show within 2 s"));
    const shownMs = Date.now() - t0;

    // The log pane shows the selected worker's lines, as text.
    await row("root/pair/a").click();
    await page.waitForFunction(() =>
      document.getElementById("logs").textContent.includes("<script>alert(1)</script>"),
      null, { timeout: 5000 }).catch(() => fail("the log pane does not show root/pair/a's line"));
    if ((await page.locator("#logs *").count()) !== 0)
      fail("the log line became markup");

    // A one_for_all cascade shows its links and its time.
    const a = await statusOf("root/pair/a");
    process.kill(a.pid, "SIGKILL");
    await page.waitForSelector("#timeline .cascade-link", { timeout: 5000 })
      .catch(() => fail("the cascade's link is not drawn"));
    await page.waitForFunction(() =>
      /cascade \d+ from root\/pair\/a: 2 of 2 workers back in/.test(document.getElementById("cascades").textContent),
      null, { timeout: 5000 }).catch(() => fail("the cascade's summary is not shown"));
    const links = await page.locator("#timeline .cascade-link").count();

    // Histograms drawn from /metrics.
    await page.waitForFunction(() =>
      [...document.querySelectorAll("#hist-restart .bar")].some((b) => Number(b.getAttribute("height")) > 0),
      null, { timeout: 8000 }).catch(() => fail("the restart-latency histogram shows no restart"));

    await page.waitForTimeout(300);	// the last frame drawn, for the picture
    await page.screenshot({ path: shot, fullPage: true });
    if (problems.length) fail(problems.join("; "));
    console.log(`console ok: SIGKILL shown in ${shownMs} ms, ${links} cascade link(s), screenshot ${shot}`);
  }
} catch (e) {
  console.error("console test: " + e.message + (problems.length ? " (also: " + problems.join("; ") + ")" : ""));
  process.exitCode = 1;
} finally {
  await browser.close();
}
