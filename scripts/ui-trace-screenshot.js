// A screenshot of one trace in MLflow's UI, with one of its spans selected: the span
// tree (types as icons, token usage) and that span's details. Not part of the tests.
// Needs Debian's chromium and playwright-core, as scripts/ui-screenshots.js.
//
//   cargo run --example tracing_agent        # prints the trace id; writes ./mlflow.db
//   scripts/mlflow-ui.sh mlflow.db PORT
//   node scripts/ui-trace-screenshot.js http://127.0.0.1:PORT TRACE_ID SPAN_ID docs/images/bridge-agent-trace.png
//
// SPAN_ID is the span id (16 hex digits) of the span to select.
const { openUi } = require('./ui-browser');

(async () => {
  const [base, traceId, spanId, out] = process.argv.slice(2);
  const { page, closePopups, close } = await openUi();
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
  await close();
})();
