// A screenshot of one trace in MLflow's UI, with one of its spans selected: the span
// tree (types as icons, token usage) and that span's details. Not part of the tests.
// Needs Debian's chromium and playwright-core, as scripts/ui-screenshots.js.
//
//   cargo run --example tracing_agent        # prints the trace id; writes ./mlflow.db
//   scripts/mlflow-ui.sh mlflow.db PORT
//   node scripts/ui-trace-screenshot.js http://127.0.0.1:PORT TRACE_ID SPAN_ID docs/images/bridge-agent-trace.png
//
// SPAN_ID is the span id (16 hex digits) of the span to select.
const { chromium } = require('playwright-core');
const fs = require('fs');
const os = require('os');
const path = require('path');

(async () => {
  const [base, traceId, spanId, out] = process.argv.slice(2);
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
  // The traces list first: the drawer opens over it.
  await page.goto(`${base}/#/experiments/0/traces`, { waitUntil: 'load' });
  await page.getByText('Tokens', { exact: true }).first().waitFor({ timeout: 30000 });
  await page.waitForTimeout(2000);
  await closePopups();
  const row = page.locator(`[data-testid="span-title-row-${spanId}"]`).first();
  await page.goto(`${base}/#/experiments/0/traces?selectedEvaluationId=${traceId}`, { waitUntil: 'load' });
  await row.waitFor({ timeout: 30000 });
  await page.waitForTimeout(1500);
  await closePopups();
  await row.click();
  await page.waitForTimeout(2500);
  await closePopups();
  await page.screenshot({ path: out });
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
})();
