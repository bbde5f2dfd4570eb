// What the UI screenshot scripts share: a headless Debian chromium with a fresh profile
// (through playwright-core), and closing the popups MLflow's UI opens on a fresh profile.
const { chromium } = require('playwright-core');
const fs = require('fs');
const os = require('os');
const path = require('path');

// Opens a browser; returns { page, closePopups, close }.
async function openUi() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mlflow-ui-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1800, height: 1000 },
  });
  const page = browser.pages()[0] || (await browser.newPage());
  // A fresh profile opens the assistant panel and a popover over the page.
  const closePopups = async () => {
    for (const sel of ['text=Got it', '[data-component-id="mlflow.assistant.chat_panel.close"]']) {
      const el = page.locator(sel).first();
      if ((await el.count()) && (await el.isVisible().catch(() => false))) {
        await el.click().catch(() => {});
        await page.waitForTimeout(500);
      }
    }
  };
  const close = async () => {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return { page, closePopups, close };
}

module.exports = { openUi };
