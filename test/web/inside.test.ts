import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { nextTokenDistribution } from '../../src/generate/next.js';
import { scoreTokens } from '../../src/interp/score.js';
import { loadModel } from '../../src/model/load.js';
import { DEFAULT_MODEL } from '../../src/resolve/embedded.js';
import { ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, needsChromium, sharedModel } from '../helpers.js';
import { serve, stop, type Server } from '../server/process.js';

// The web lab's Inside page in a real browser: ablating a head from the page gives the KL `wander next --ablate` gives.

const STORIES = sharedModel('stories260K.gguf');

describe('the web lab: Inside', () => {
  let server: Server;
  let browser: Browser;
  before(async () => {
    if (needsChromium.skip) return;
    server = await serve('--model', 'ladder:medium', ...(STORIES ? ['--model', `stories=${STORIES}`] : []));
    browser = await chromium.launch({ executablePath: CHROMIUM!, args: CHROMIUM_ARGS });
  });
  after(async () => {
    await browser?.close();
    await stop(server);
  });

  for (const [id, path, prompt, clean, corrupted] of [
    ['ladder:medium', DEFAULT_MODEL, 'And the LORD spake unto Moses, saying', 'And the king said unto', 'And the king went unto'],
    ['stories', STORIES, 'Once upon a time, there was a little girl', 'Once upon a time, there was a big', 'Once upon a time, there was a little'],
  ] as const) {
    const skip = needsChromium.skip || (path ? false : 'stories260K.gguf not found in ../shared/models (the shared test models are absent)');
    test(`${id}: lens, heads, ablation with the CLI's KL, noise, patching, per-token loss`, { skip }, async () => {
      const model = loadModel(path!);
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
      const q = new URLSearchParams({ model: id, prompt, clean, corrupted, layer: '1' });
      await page.goto(`${server.url}/inside?${q}`);
      await page.locator('.head').first().waitFor();
      await page.locator('[aria-label="logit lens: each layer\'s top token at each position"] svg').last().waitFor();
      await page.locator('[aria-label="patching grid"] svg').last().waitFor();
      // Per-token loss: every token of the prompt, coloured.
      assert.equal(await page.locator('.loss .tok').count(), scoreTokens(model, prompt).tokens.length);

      // Ablating head 1.0 changes the distribution by exactly the KL `wander next --ablate 1.0` reports.
      await page.locator('[data-head="1.0"]').getByRole('button', { name: 'ablate (zero)' }).click();
      await page.getByTestId('kl').waitFor();
      const want = nextTokenDistribution(model, prompt, { seed: 1, ablate: ['1.0'] }, { top: 8 });
      assert.equal(await page.getByTestId('kl').textContent(), want.intervention!.kl_nats.toFixed(4));
      assert.deepEqual(await page.locator('.next-top li').evaluateAll((lis) => lis.map((li) => Number(li.getAttribute('data-token-id')))), want.candidates.map((c) => c.token_id));
      assert.match(new URL(page.url()).search, /ablate=1\.0/);

      // Restoring it brings the clean distribution back (no KL shown).
      await page.locator('[data-head="1.0"]').getByRole('button', { name: 'restore' }).click();
      await page.getByTestId('kl').waitFor({ state: 'detached' });

      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, `inside-${id.replace(/\W/g, '-')}.png`), fullPage: true });

      // A layer the model lacks: the command's message, in the page.
      await page.getByLabel('Layer', { exact: true }).fill('9');
      await page.getByLabel('Layer', { exact: true }).press('Enter');
      await page.getByRole('alert').waitFor();
      assert.match(await page.getByRole('alert').textContent() ?? '', /layer/);
      assert.deepEqual(problems.filter((p) => !p.includes('status of 400')), []);
      await page.close();
      model.close();
    });
  }
});
