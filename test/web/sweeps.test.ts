import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { parseExperiment } from '../../src/experiments/spec.js';
import { ResultsStore } from '../../src/experiments/store.js';
import { runSweep } from '../../src/experiments/sweep.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, needsChromium, tempDir } from '../helpers.js';
import { serve, stop, type Server } from '../server/process.js';

// The web lab's Sweeps page: a results database's experiments, their cells, and the report's own page.

describe('the web lab: Sweeps', () => {
  let server: Server, bare: Server;
  let browser: Browser;
  before(async () => {
    if (needsChromium.skip) return;
    const db = join(tempDir(), 'results.sqlite');
    const store = ResultsStore.open(db);
    await runSweep(parseExperiment(`name: temperatures
models: [{ model: ${JSON.stringify(fixture('gguf', SMALL.gpt2))}, label: gpt2 }]
prompts: [{ label: cat, text: "The cat" }, { label: dog, text: "A dog" }]
presets: { greedy: { temperature: 0 }, t1: { temperature: 1 } }
samples: 4
seed: 3
max_tokens: 8
`), store);
    store.close();
    [server, bare] = await Promise.all([serve('--db', db), serve()]);
    browser = await chromium.launch({ executablePath: CHROMIUM!, args: CHROMIUM_ARGS });
  });
  after(async () => {
    await browser?.close();
    await Promise.all([stop(server), stop(bare)]);
  });

  test('the experiments, every cell\'s metrics, and the report drawn by its own code', needsChromium, async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.goto(`${server.url}/sweeps`);
    await page.locator('table.cells tbody tr').first().waitFor();
    assert.deepEqual(await page.locator('table.experiments tbody td:first-child').allTextContents(), ['temperatures']);
    assert.equal(await page.locator('table.cells tbody tr').count(), 4);
    const frame = page.frameLocator('iframe.report');
    await frame.locator('h1').waitFor();
    const state = await page.frames()[1]!.waitForFunction(() => (window as unknown as { wanderReport?: { drawn: number; failed: number } }).wanderReport);
    const drawn = await state.jsonValue() as { drawn: number; failed: number };
    assert.ok(drawn.drawn > 0 && drawn.failed === 0, JSON.stringify(drawn));
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'sweeps.png'), fullPage: true });
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('without --db: the page says how to give one', needsChromium, async () => {
    const page = await browser.newPage();
    await page.goto(`${bare.url}/sweeps`);
    assert.equal(await page.getByRole('alert').textContent(), 'no results database here: start wander serve with --db FILE');
    await page.close();
  });
});
