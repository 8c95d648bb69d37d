import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import { DType } from '../../src/formats/tensor-types.js';
import { collectReports } from '../../src/experiments/report/collect.js';
import { htmlReport } from '../../src/experiments/report/html.js';
import { parseExperiment } from '../../src/experiments/spec.js';
import { ResultsStore } from '../../src/experiments/store.js';
import { runSweep } from '../../src/experiments/sweep.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, needsChromium, tempDir } from '../helpers.js';


describe('the HTML report in a real browser', () => {
  it('opens offline, draws every plot without an error, and shows the sample tables', needsChromium, async () => {
    assert.ok(CHROMIUM, 'Chromium is required in CI: .ci/run installs it with apt-get install chromium');
    const llama = fixture('gguf', SMALL.llama, DType.F32), gpt2 = fixture('gguf', SMALL.gpt2, DType.F32);
    const spec = parseExperiment(`name: browser
description: two fixture models, a temperature ladder
models: [{ model: ${JSON.stringify(gpt2)}, label: gpt2-fixture }, { model: ${JSON.stringify(llama)}, label: llama-fixture }]
prompts: [{ label: cat, text: "The cat" }, { label: dog, text: "A dog <b>barks</b>" }]
presets:
  greedy: { temperature: 0 }
  t0.7: { temperature: 0.7 }
  t1.5: { temperature: 1.5, top_p: 0.9 }
samples: 6
seed: 3
max_tokens: 10
stop: ["zz"]
count: ["a", "<b>"]
`);
    const store = ResultsStore.open(join(tempDir(), 'r.sqlite'));
    await runSweep(spec, store);
    const [report] = collectReports(store, 'browser');
    store.close();
    const html = htmlReport(report!);
    mkdirSync(ARTIFACTS, { recursive: true });
    const file = join(ARTIFACTS, 'report.html');
    writeFileSync(file, html);

    const browser = await chromium.launch({
      executablePath: CHROMIUM!,
      args: CHROMIUM_ARGS,
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
      page.on('request', (r) => { if (!r.url().startsWith('file:')) problems.push(`network request: ${r.url()}`); });
      await page.goto(`file://${file}`);
      await page.waitForFunction(() => (window as unknown as { wanderReport?: unknown }).wanderReport !== undefined, null, { timeout: 20_000 });
      const state = await page.evaluate(() => (window as unknown as { wanderReport: { drawn: number; failed: number } }).wanderReport);
      // 5 metrics by preset, 5 vs temperature (at top_p 1: two temperatures), none vs top_p (one value at
      // the common temperature), 2 counted strings × (mean, share) by preset, termination, 2 models ×
      // 2 prompts by position, 4 by model size.
      assert.deepEqual(state, { drawn: 5 + 5 + 2 * 2 + 1 + 4 + 4, failed: 0 });
      assert.equal(await page.locator('#plots svg, #finish svg, #positions svg, #model-size svg').count() > 0, true);
      assert.equal(await page.locator('.plot-error').count(), 0);
      assert.equal(await page.locator('h1').textContent(), 'browser');
      // The counted strings: a table row per cell, and their four plots, each drawn (markup in a string is text).
      assert.equal(await page.locator('#counts table.counts tbody tr').count(), 2 * 2 * 3);
      assert.deepEqual(await page.locator('#counts table.counts thead code').allTextContents(), ['"a"', '"<b>"']);
      assert.deepEqual(await page.locator('#plot-counts > figure > h4').allTextContents(), [
        '"a" per sample by preset', 'share of samples with "a" by preset', '"<b>" per sample by preset', 'share of samples with "<b>" by preset',
      ]);
      assert.equal(await page.locator('#plot-counts > figure').filter({ has: page.locator('svg') }).count(), 4);
      // One sample table per model × prompt, a column per preset; markup in prompts is shown as text.
      assert.equal(await page.locator('table.samples').count(), 4);
      assert.deepEqual(await page.locator('table.samples').first().locator('thead th').evaluateAll((ths) => ths.map((th) => th.firstChild?.textContent)), ['greedy', 't0.7', 't1.5']);
      assert.equal(await page.locator('p.prompt', { hasText: 'A dog <b>barks</b>' }).count(), 2);
      // Greedy is deterministic: one sample per prompt (not six identical ones), shown as one entry ×1.
      assert.equal(await page.locator('table.samples').first().locator('tbody tr').first().locator('td').first().locator('.count').textContent(), '×1');
      assert.equal(await page.locator('header p.meta', { hasText: 'greedy is deterministic' }).textContent(), 'greedy is deterministic (greedy, beam or contrastive search): run once per prompt, first seed only — 1 sample per cell, where the other presets have 6.');
      assert.equal(await page.locator('#model-size table.models tbody tr').count(), 2 * 3);
      await page.screenshot({ path: join(ARTIFACTS, 'report.png'), fullPage: true });
      assert.deepEqual(problems, []);
    } finally {
      await browser.close();
    }
  });
});
