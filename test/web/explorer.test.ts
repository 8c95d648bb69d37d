import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { generate } from '../../src/generate/generate.js';
import { nextTokenDistribution } from '../../src/generate/next.js';
import type { SettingsInput } from '../../src/generate/settings.js';
import { loadModel, type Model } from '../../src/model/load.js';
import { ARTIFACTS, needsChromium } from '../helpers.js';
import { LAB_MODELS, labSkip, openPage, useLab } from './lab.js';

// The web lab's Explorer in a real browser against a real `wander serve`: the page runs Wander's
// sampling chain itself on the logits the server sends, and must show exactly what `wander next` does
// (nextTokenDistribution is what `wander next --json` prints).

const PROMPT = { 'ladder:medium': 'And the LORD spake unto Moses', stories: 'Once upon a time' } as Record<string, string>;

interface Row { id: number; prob: number; final: number; removedBy: string }

/** The candidates table as the page shows it (its data attributes carry the exact numbers). */
const rows = (page: Page): Promise<Row[]> => page.locator('table.candidates tbody tr').evaluateAll((trs) => trs.map((tr) => ({
  id: Number(tr.getAttribute('data-token-id')),
  prob: Number(tr.querySelector('[data-prob]')!.getAttribute('data-prob')),
  final: Number(tr.querySelector('[data-final-prob]')!.getAttribute('data-final-prob')),
  removedBy: tr.getAttribute('data-removed-by')!,
})));

/** What `wander next --json` says for the same prompt, settings and seed, in the table's shape. */
function cli(model: Model, prompt: string, settings: SettingsInput): Row[] {
  return nextTokenDistribution(model, prompt, { seed: 1, ...settings }, { top: 20 }).candidates.map((c) => ({ id: c.token_id, prob: c.prob, final: c.final_prob, removedBy: c.removed_by ?? '' }));
}

/** Sets a control through its number box, as a person would type it. */
async function setControl(page: Page, label: string, value: string): Promise<void> {
  const box = page.getByLabel(`${label} value`, { exact: true });
  await box.fill(value);
  await box.press('Enter');
}

describe('the web lab: Explorer', () => {
  const lab = useLab();

  for (const [id, path] of LAB_MODELS) {
    test(`${id}: the page's numbers are wander next's, control by control`, { skip: labSkip(path) }, async () => {
      const model = loadModel(path!);
      const prompt = PROMPT[id]!;
      const { page, problems } = await openPage(lab.browser, `${lab.server.url}/explorer?model=${encodeURIComponent(id)}&prompt=${encodeURIComponent(prompt)}`, 1000);
      await page.locator('table.candidates tbody tr').first().waitFor();
      assert.match(await page.locator('footer').textContent() ?? '', /WebAssembly SIMD kernels/, 'the page is cross-origin isolated and runs the kernels');

      // Bit-identical to the CLI: every probability, raw and after the chain.
      assert.deepEqual(await rows(page), cli(model, prompt, {}));
      const entropy = await page.getByTestId('final-entropy').textContent();

      // Temperature, moved with its slider: the bars and the entropy readout change, to what the CLI says.
      await page.getByRole('slider', { name: 'Temperature' }).fill('0.5');
      await page.waitForFunction((e) => document.querySelector('[data-testid="final-entropy"]')?.textContent !== e, entropy);
      assert.deepEqual(await rows(page), cli(model, prompt, { temperature: 0.5 }));
      assert.equal(await page.getByTestId('final-entropy').textContent(), nextTokenDistribution(model, prompt, { seed: 1, temperature: 0.5 }).final_entropy_bits.toFixed(3));

      // Top-p greys out exactly the tokens `wander next --top-p` removes.
      await setControl(page, 'Temperature', '1');
      await setControl(page, 'Top-p', '0.5');
      await page.locator('tr[data-removed-by="top_p"]').first().waitFor();
      const want = cli(model, prompt, { top_p: 0.5 });
      assert.deepEqual(await rows(page), want);
      assert.deepEqual(await page.locator('tr.removed').evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute('data-token-id')))), want.filter((r) => r.removedBy).map((r) => r.id));
      assert.ok(want.some((r) => r.removedBy === 'top_p'));

      // Sampling appends the token the seed draws — the first token `wander generate` draws — and undo + again reproduces it.
      const first = generate(model, prompt, { seed: 1, top_p: 0.5, max_tokens: 1 }).samples[0]!.token_ids[0]!;
      await page.getByRole('button', { name: 'Sample the next token' }).click();
      await page.waitForURL(/added=/);
      assert.equal(new URL(page.url()).searchParams.get('added'), String(first));
      await page.getByRole('button', { name: 'Undo' }).click();
      await page.waitForURL((u) => !u.searchParams.has('added'));
      await page.getByRole('button', { name: 'Sample the next token' }).click();
      await page.waitForURL(/added=/);
      assert.equal(new URL(page.url()).searchParams.get('added'), String(first));
      // The next distribution is the one after prompt + that token.
      await page.waitForFunction(() => !document.querySelector('[role="status"]'));
      const ids = [...model.tokenizer.encode(prompt), first];
      assert.deepEqual(await rows(page), nextTokenDistribution(model, ids, { seed: 1, top_p: 0.5 }, { top: 20 }).candidates.map((c) => ({ id: c.token_id, prob: c.prob, final: c.final_prob, removedBy: c.removed_by ?? '' })));

      // Draw 100: the counts sum to 100 and are what `wander next --draw 100` counts.
      await page.getByRole('button', { name: 'Draw 100' }).click();
      await page.locator('td[data-count]').first().waitFor();
      const counts = await page.locator('td[data-count]').allTextContents();
      assert.equal(counts.reduce((n, c) => n + Number(c), 0), 100);

      // A setting out of range: the schema's message in the page, not a blank screen.
      await setControl(page, 'Top-p', '1.5');
      assert.equal(await page.getByRole('alert').textContent(), 'top_p must be in (0, 1] (1 = off), got 1.5');
      await setControl(page, 'Top-p', '0.5');
      await page.locator('table.candidates').waitFor();

      // The URL holds the state: reloading shows the same view.
      const before = await rows(page);
      await page.reload();
      await page.locator('table.candidates tbody tr').first().waitFor();
      await page.waitForFunction(() => !document.querySelector('[role="status"]'));
      assert.deepEqual(await rows(page), before);

      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, `explorer-${id.replace(/\W/g, '-')}.png`), fullPage: true });
      // On a phone's width the page reflows: nothing sticks out sideways.
      await page.setViewportSize({ width: 390, height: 844 });
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 391), 'no horizontal scrolling at 390 px');
      // Nothing beyond loopback: every request the page made went to the server.
      const elsewhere = (await page.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name))).filter((u) => !u.startsWith(lab.server.url));
      assert.deepEqual([...problems(), ...elsewhere], []);
      await page.close();
      model.close();
    });
  }

  test('a prompt longer than the context: the server\'s message in the page', needsChromium, async () => {
    const { page } = await openPage(lab.browser, `${lab.server.url}/explorer?prompt=${encodeURIComponent('abc '.repeat(200))}`);
    assert.equal(await page.getByRole('alert').textContent(), "prompt is 401 tokens, longer than the model's context of 128 tokens");
    await page.close();
  });
});
