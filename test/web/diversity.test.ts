import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cellMetrics } from '../../src/experiments/metrics/index.js';
import { generate } from '../../src/generate/generate.js';
import { loadModel } from '../../src/model/load.js';
import { ARTIFACTS } from '../helpers.js';
import { LAB_MODELS, labSkip, openPage, useLab } from './lab.js';

// The web lab's Diversity page in a real browser: n samples, measured by the metric code `wander report` uses.


describe('the web lab: Diversity', () => {
  const lab = useLab();

  for (const [[id, path], prompt] of LAB_MODELS.map((m, i) => [m, ['And the LORD said', 'Once upon a time'][i]!] as const)) {
    test(`${id}: the metrics are wander report's for the same samples`, { skip: labSkip(path) }, async () => {
      const model = loadModel(path!);
      const { page, problems } = await openPage(lab.browser, `${lab.server.url}/diversity?model=${encodeURIComponent(id)}&prompt=${encodeURIComponent(prompt)}&n=12&max_tokens=16&seed=5&count=the|,`);
      await page.locator('table.metrics').waitFor();
      const run = generate(model, prompt, { n: 12, max_tokens: 16, seed: 5 }, { tokenStats: true });
      const m = cellMetrics(run.samples.map((s) => ({
        text: s.text, token_ids: s.token_ids, logprobs: s.token_logprobs!, entropies: s.token_entropy_bits!, sampled_entropies: s.token_sampled_entropy_bits!, finish_reason: s.finish_reason,
      })), ['the', ',']);
      const cell = (k: string) => page.locator(`tr[data-metric=${JSON.stringify(k)}] td.num`).textContent();
      assert.equal(await cell('distinct outputs'), `${m.distinct} of 12`);
      assert.equal(await cell('self-BLEU-4'), m.self_bleu4 === null ? '—' : m.self_bleu4.toFixed(3));
      assert.equal(await cell('distinct-1 / 2 / 3'), [m.distinct_1, m.distinct_2, m.distinct_3].map((x) => (x === null ? '—' : x.toFixed(3))).join(' / '));
      assert.equal(await cell('entropy'), `${m.mean_entropy_bits!.toFixed(2)} bits`);
      assert.equal(await cell('count ","'), `${m.counts![',']!.mean!.toFixed(2)} per sample`);
      // Every sample is in the outputs (grouped, counted) and in the branching view.
      const counts = await page.locator('.outputs .count').allTextContents();
      assert.equal(counts.reduce((n, c) => n + Number(c.slice(1)), 0), 12);
      assert.equal(await page.locator('.branches li').count(), 12);
      assert.equal(await page.locator('figure.chart svg').count() >= 2, true);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, `diversity-${id.replace(/\W/g, '-')}.png`), fullPage: true });
      // A bad setting: the server's message.
      await page.getByLabel('Top-p').fill('0');
      await page.getByLabel('Top-p').press('Enter');
      assert.equal(await page.getByRole('alert').textContent(), 'top_p must be in (0, 1] (1 = off), got 0');
      assert.deepEqual(problems(), []);
      await page.close();
      model.close();
    });
  }
});
