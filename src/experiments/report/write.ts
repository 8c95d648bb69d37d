import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../errors.js';
import type { ExperimentReport } from './collect.js';
import { htmlReport } from './html.js';
import { csvReport, markdownReport } from './tables.js';

/** Writes NAME.html, NAME.md and NAME.csv for each experiment into `dir`; returns the paths written. */
export function writeReports(reports: ExperimentReport[], dir: string): string[] {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new UserError(`--out ${dir}: cannot create the folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'out');
  }
  const written: string[] = [];
  for (const r of reports) {
    for (const [ext, text] of [['html', htmlReport(r)], ['md', markdownReport(r)], ['csv', csvReport(r)]] as const) {
      const path = join(dir, `${r.name}.${ext}`);
      // Written beside and renamed, so a reader never sees half a file.
      try {
        writeFileSync(`${path}.tmp`, text);
        renameSync(`${path}.tmp`, path);
      } catch (e) {
        throw new UserError(`--out ${dir}: cannot write ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'out');
      }
      written.push(path);
    }
  }
  return written;
}
