import type { Command } from 'commander';

interface ReportFlags { experiment?: string; out?: string; json?: boolean }

export function reportCommand(program: Command): void {
  program.command('report')
    .description('diversity metrics per cell from a results database: HTML (plots, sample tables), Markdown and CSV, or JSON')
    .argument('<db>', 'results database written by wander sweep')
    .option('--experiment <name>', 'only this experiment (default: every experiment in the database)')
    .option('--out <dir>', 'folder for NAME.html, NAME.md and NAME.csv (default: report; with --json, files only when given)')
    .option('--json', 'print the per-cell metrics as JSON')
    .option('--verbose', 'show stack traces for errors')
    .action(async (db: string, flags: ReportFlags) => {
      const [{ collectReports }, { jsonReport, markdownReport }, { writeReports }, { ResultsStore }] = await Promise.all([
        import('../experiments/report/collect.js'), import('../experiments/report/tables.js'), import('../experiments/report/write.js'), import('../experiments/store.js'),
      ]);
      const store = ResultsStore.open(db, { readonly: true });
      try {
        const reports = collectReports(store, flags.experiment);
        const out = flags.out ?? (flags.json ? undefined : 'report');
        const written = out ? writeReports(reports, out) : [];
        if (flags.json) {
          process.stdout.write(JSON.stringify(jsonReport(reports), null, 2) + '\n');
        } else {
          process.stdout.write(reports.map(markdownReport).join('\n'));
          process.stderr.write(`wrote ${written.join(', ')}\n`);
        }
      } finally {
        store.close();
      }
    });
}
