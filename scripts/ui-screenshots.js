// The README's screenshots of MLflow's UI showing this SDK's GenAI spans and costs.
// Not part of the tests. Needs Debian's chromium (`apt-get install chromium`) and
// playwright-core (`npm install playwright-core` next to this script or in NODE_PATH).
//
//   cargo run --example genai_spans            # prints the trace id; writes ./mlflow.db
//   cargo run --bin mlflow-trace -- demo
//   mlflow server --backend-store-uri sqlite:///$PWD/mlflow.db --port PORT   (MLflow 3.17.2)
//   node scripts/ui-screenshots.js http://127.0.0.1:PORT TRACE_ID CHAT_SPAN_ID docs/images
//
// CHAT_SPAN_ID is the span id (16 hex digits) of "chat gpt-4o-mini" in that trace.
const path = require('path');
const { openUi } = require('./ui-browser');

(async () => {
  const [base, traceId, chatSpan, out] = process.argv.slice(2);
  const { page, closePopups, close } = await openUi();

  // The traces list with the Cost column.
  await page.goto(`${base}/#/experiments/0/traces`, { waitUntil: 'load' });
  await page.getByText('Tokens', { exact: true }).first().waitFor({ timeout: 30000 });
  await page.waitForTimeout(2000);
  await closePopups();
  await page.getByRole('button', { name: 'Display' }).click();
  await page.waitForTimeout(500);
  await page.getByText('Columns', { exact: true }).first().hover();
  await page.waitForTimeout(800);
  await page.locator('[role="menu"]').nth(1).getByText('Cost', { exact: true }).click();
  await page.keyboard.press('Escape');
  await page.keyboard.press('Escape');
  await page.waitForTimeout(1500);
  await closePopups();
  await page.screenshot({
    path: path.join(out, 'traces-list-cost.png'),
    clip: { x: 0, y: 0, width: 1800, height: 360 },
  });

  // A span recorded with GenAI attributes only, as the trace drawer shows it.
  const row = page.locator(`[data-testid="span-title-row-${chatSpan}"]`).first();
  await page.goto(`${base}/#/experiments/0/traces?selectedEvaluationId=${traceId}`, { waitUntil: 'load' });
  await row.waitFor({ timeout: 30000 });
  await closePopups();
  await row.click();
  await page.waitForTimeout(2500);
  await page.screenshot({ path: path.join(out, 'trace-genai-chat.png') });

  // The Overview's cost charts.
  await page.goto(`${base}/#/experiments/0/overview/usage`, { waitUntil: 'load' });
  await page.getByText('Cost Breakdown').first().waitFor({ timeout: 30000 });
  await page.waitForTimeout(3000);
  await closePopups();
  await page.getByText('Cost Breakdown').first().evaluate((e) => e.scrollIntoView({ block: 'center' }));
  await page.waitForTimeout(1500);
  await page.screenshot({ path: path.join(out, 'overview-cost.png') });

  await close();
})();
