// The engine's worker thread starts here: it runs the TypeScript worker through tsx's loader, as
// bin/wander.mjs does for the CLI (a worker does not inherit the loader registered by its parent).
import { register } from 'tsx/esm/api';

register();
await import('./engine-worker.ts');
