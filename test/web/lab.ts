import { after, before } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DEFAULT_MODEL } from '../../src/resolve/embedded.js';
import { CHROMIUM, CHROMIUM_ARGS, needsChromium, sharedModel } from '../helpers.js';
import { serve, stop, type Server } from '../server/process.js';

// What the web lab's browser tests share: a `wander serve` with the embedded model (and stories260K as
// "stories" when the shared models are there), Chromium, and a page that records what goes wrong.

const STORIES = sharedModel('stories260K.gguf');

/** The models every page is tested on: id, file (undefined when absent). */
export const LAB_MODELS: [string, string | undefined][] = [['ladder:medium', DEFAULT_MODEL], ['stories', STORIES]];

/** A test's `skip`: no browser, or (for stories260K) no shared model — named. */
export function labSkip(path: string | undefined): string | false {
  return needsChromium.skip || (path ? false : 'stories260K.gguf not found in ../shared/models (the shared test models are absent)');
}

/** Starts the server (with `extra` flags) and the browser before the describe block's tests, and stops them after. */
export function useLab(...extra: string[]): { server: Server; browser: Browser } {
  const lab = {} as { server: Server; browser: Browser };
  before(async () => {
    if (needsChromium.skip) return;
    lab.server = await serve('--model', 'ladder:medium', ...(STORIES ? ['--model', `stories=${STORIES}`] : []), ...extra);
    lab.browser = await chromium.launch({ executablePath: CHROMIUM!, args: CHROMIUM_ARGS });
  });
  after(async () => {
    await lab.browser?.close();
    await stop(lab.server);
  });
  return lab;
}

/** A page at `url`, collecting uncaught errors and console errors (a 400 the page shows is expected, not one). */
export async function openPage(browser: Browser, url: string, height = 900): Promise<{ page: Page; problems: () => string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height } });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !m.text().includes('status of 400')) problems.push(`console: ${m.text()}`); });
  await page.goto(url);
  return { page, problems: () => problems };
}
