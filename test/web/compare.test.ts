import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { generate } from '../../src/generate/generate.js';
import { loadModel } from '../../src/model/load.js';
import { ARTIFACTS } from '../helpers.js';
import { LAB_MODELS, labSkip, openPage, useLab } from './lab.js';

// The web lab's Compare page in a real browser: three settings side by side, each column what
// `wander generate` gives for the same settings and seed.

/** The notes' test 1: greedy; top-p 0.9, top-k 50, T 0.2; top-p 0.95, top-k 100, T 0.9. */
const TRIO = [{ temperature: 0, top_k: 1, top_p: 1 }, { temperature: 0.2, top_k: 50, top_p: 0.9 }, { temperature: 0.9, top_k: 100, top_p: 0.95 }];

describe('the web lab: Compare', () => {
  const lab = useLab();

  for (const [[id, path], prompt] of LAB_MODELS.map((m, i) => [m, ['And the LORD said', 'Once upon a time'][i]!] as const)) {
    test(`${id}: three columns equal wander generate; the same seed gives the same text again`, { skip: labSkip(path) }, async () => {
      const model = loadModel(path!);
      const { page, problems } = await openPage(lab.browser, `${lab.server.url}/compare?model=${encodeURIComponent(id)}&prompt=${encodeURIComponent(prompt)}&seed=3&max_tokens=24`);
      await page.locator('.column .sample').nth(2).waitFor();
      const texts = await page.locator('.column .output').evaluateAll((ps) => ps.map((p) => p.getAttribute('data-text')));
      assert.deepEqual(texts, TRIO.map((s) => generate(model, prompt, { ...s, seed: 3, max_tokens: 24 }).samples[0]!.text));

      // Every token is coloured and focusable; focusing one shows the step: its rank and the alternatives.
      const first = page.locator('.column').nth(2).locator('.tok').first();
      const rank = await first.getAttribute('data-rank');
      await first.focus();
      await page.getByRole('tooltip').waitFor();
      assert.match(await page.getByRole('tooltip').textContent() ?? '', new RegExp(`rank ${rank}, p `));
      assert.equal(await page.getByRole('tooltip').locator('tbody tr').count(), 5);

      // GLTR-style rank colours: a greedy column is all top-10 green.
      await page.getByLabel('Colour tokens by').selectOption('rank');
      const greedy = await page.locator('.column').first().locator('.tok').evaluateAll((ts) => [...new Set(ts.map((t) => getComputedStyle(t).backgroundColor))]);
      assert.deepEqual(greedy, ['rgb(143, 209, 158)']);

      await page.getByRole('button', { name: 'Same seed again' }).click();
      await page.locator('.again.same').nth(2).waitFor();
      assert.equal(await page.locator('.again.different').count(), 0);

      // n samples per column: sample i of each is generate's sample i.
      await page.getByLabel('Samples per column').fill('3');
      await page.getByLabel('Samples per column').press('Enter');
      await page.locator('.column').nth(2).locator('.sample').nth(2).waitFor();
      const third = await page.locator('.column').nth(2).locator('.output').evaluateAll((ps) => ps.map((p) => p.getAttribute('data-text')));
      assert.deepEqual(third, generate(model, prompt, { ...TRIO[2], seed: 3, max_tokens: 24, n: 3 }).samples.map((s) => s.text));

      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, `compare-${id.replace(/\W/g, '-')}.png`), fullPage: true });

      // A setting out of range: that column says what is wrong.
      await page.getByLabel('Top-p 2').fill('1.5');
      await page.getByLabel('Top-p 2').press('Enter');
      await page.locator('.column').nth(1).getByRole('alert').waitFor();
      assert.equal(await page.locator('.column').nth(1).getByRole('alert').textContent(), 'top_p must be in (0, 1] (1 = off), got 1.5');
      assert.deepEqual(problems(), []);
      await page.close();
      model.close();
    });
  }
});
