import type { FastifyInstance } from 'fastify';
import { collectReports } from '../experiments/report/collect.js';
import { htmlReport } from '../experiments/report/html.js';
import { jsonReport } from '../experiments/report/tables.js';
import { ResultsStore } from '../experiments/store.js';
import { HttpError } from './errors.js';

/**
 * The results database given with `wander serve --db FILE` (and only that one: a request names an
 * experiment, never a file): GET /api/sweeps lists its experiments, GET /api/sweeps/:name/report returns
 * what `wander report FILE --experiment NAME --json` prints, and …/report.html the page it writes. The database is opened read-only per
 * request, so a sweep still writing to it shows its progress.
 */
export function sweepRoutes(app: FastifyInstance, db: string | undefined): void {
  const open = <T>(f: (store: ResultsStore) => T): T => {
    if (db === undefined) throw new HttpError(404, 'no results database here: start wander serve with --db FILE', null, 'no_database');
    const store = ResultsStore.open(db, { readonly: true });
    try {
      return f(store);
    } finally {
      store.close();
    }
  };

  app.get('/api/sweeps', async () => open((store) => ({
    experiments: store.experiments().map((e) => ({
      name: e.name, file: e.file, created_at: e.created_at, updated_at: e.updated_at, finished_at: e.finished_at,
      cells: store.cells(e.name).length,
    })),
  })));

  /** The experiment a request names, checked against the database. */
  const named = (store: ResultsStore, name: string) => {
    const names = store.experiments().map((e) => e.name);
    if (!names.includes(name)) throw new HttpError(404, `no experiment ${JSON.stringify(name)} in the results database (it has: ${names.join(', ') || 'none'})`, 'name', 'experiment_not_found');
    return collectReports(store, name);
  };

  app.get<{ Params: { name: string } }>('/api/sweeps/:name/report', async (req) => open((store) => jsonReport(named(store, req.params.name))));

  // The report page `wander report` writes (its plots, tables and samples), for the web lab to show.
  app.get<{ Params: { name: string } }>('/api/sweeps/:name/report.html', async (req, reply) => {
    const html = open((store) => htmlReport(named(store, req.params.name)[0]!));
    return reply.type('text/html; charset=utf-8').send(html);
  });
}
