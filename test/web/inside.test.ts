import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { nextTokenDistribution } from '../../src/generate/next.js';
import { scoreTokens } from '../../src/interp/score.js';
import { loadModel } from '../../src/model/load.js';
import { ARTIFACTS } from '../helpers.js';
import { LAB_MODELS, labSkip, openPage, useLab } from './lab.js';

// The web lab's Inside page in a real browser: ablating a head from the page gives the KL `wander next --ablate` gives.


describe('the web lab: Inside', () => {
  const lab = useLab();
  const PROMPTS = [
    ['And the LORD spake unto Moses, saying', 'And the king said unto', 'And the king went unto'],
    ['Once upon a time, there was a little girl', 'Once upon a time, there was a big', 'Once upon a time, there was a little'],
  ] as const;

  for (const [[id, path], [prompt, clean, corrupted]] of LAB_MODELS.map((m, i) => [m, PROMPTS[i]!] as const)) {
    test(`${id}: lens, heads, ablation with the CLI's KL, noise, patching, per-token loss`, { skip: labSkip(path) }, async () => {
      const model = loadModel(path!);
      const q = new URLSearchParams({ model: id, prompt, clean, corrupted, layer: '1' });
      const { page, problems } = await openPage(lab.browser, `${lab.server.url}/inside?${q}`);
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
      assert.deepEqual(problems(), []);
      await page.close();
      model.close();
    });
  }
});
