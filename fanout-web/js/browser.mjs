// Opens fanout-web's dashboard in headless Chromium (Debian's, driven by puppeteer-core), waits
// until its EventSource holds `expected` events, screenshots it, and reports what the page saw.
//
//   node browser.mjs <chromium> <dashboard url> <expected events> <screenshot.png> <patience ms>
//
// Prints one JSON line: the page's record (`window.fanout`: every id received, gap frames,
// connections opened, interruptions), the screenshot's colours as the browser decodes them (a
// blank page has one), the page's errors (must be none) and its text.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import puppeteer from "puppeteer-core";

const [chromium, url, expected, screenshot, patience] = process.argv.slice(2);
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-web-chromium-"));
const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  userDataDir,
  // Without the background-networking flags Chromium keeps trying hosts a closed network
  // refuses; as root it needs --no-sandbox.
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1100, height: 720 });
  const errors = [];
  page.on("pageerror", (err) => errors.push(String(err)));
  await page.goto(url);
  const timeout = Number(patience);
  try {
    await page.waitForFunction((n) => window.fanout.ids.length >= n, { timeout, polling: 50 }, Number(expected));
  } catch (err) {
    // Say what the page had, for the test's failure message.
    const seen = await page.evaluate(() => window.fanout);
    const text = await page.evaluate(() => document.body.innerText);
    console.log(JSON.stringify({ timeout: String(err), seen, errors, text }));
    process.exit(0);
  }
  // The subscriber table drawn from a snapshot taken after the last event.
  const polls = await page.evaluate(() => window.fanout.polls);
  await page.waitForFunction((before) => window.fanout.polls > before, { timeout, polling: 50 }, polls);
  const seen = await page.evaluate(() => window.fanout);
  const png = await page.screenshot({ path: screenshot });
  const colours = await page.evaluate(async (b64) => {
    const img = new Image();
    img.src = "data:image/png;base64," + b64;
    await img.decode();
    const canvas = document.createElement("canvas");
    canvas.width = img.width;
    canvas.height = img.height;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    const distinct = new Set();
    let other = 0;
    for (let i = 0; i < d.length; i += 4) {
      distinct.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      if (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2]) other++;
    }
    return { width: img.width, height: img.height, distinct: distinct.size, notBackground: other / (d.length / 4) };
  }, Buffer.from(png).toString("base64"));
  const text = await page.evaluate(() => document.body.innerText);
  console.log(JSON.stringify({ seen, colours, errors, text }));
} finally {
  await browser.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
