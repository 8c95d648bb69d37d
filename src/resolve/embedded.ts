import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.js';

/**
 * The models that ship inside Wander: the ladder, three GPT-2-family models trained by `wander train`
 * on the King James Bible with the same data and schedule, differing only in size (models/ladder/).
 */
export interface EmbeddedModel {
  /** The short --model name, e.g. ladder:small. */
  name: string;
  path: string;
  about: string;
}

const LADDER = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models', 'ladder');
const rung = (size: string, about: string): EmbeddedModel =>
  ({ name: `ladder:${size}`, path: join(LADDER, size, `wander-ladder-${size}.gguf`), about });

export const EMBEDDED_MODELS: readonly EmbeddedModel[] = [
  rung('small', 'GPT-2 family, 2 layers × 64, 0.24M parameters, King James Bible'),
  rung('medium', 'GPT-2 family, 4 layers × 128, 1.07M parameters, King James Bible (the default model)'),
  rung('large', 'GPT-2 family, 4 layers × 192, 2.2M parameters, King James Bible'),
];

/** The model every command uses when none is named: the ladder's middle rung. */
export const DEFAULT_MODEL = EMBEDDED_MODELS[1]!.path;

/** The file behind an embedded model's name (`ladder:small`); a clear error listing the names otherwise. */
export function embeddedModel(name: string): string {
  const found = EMBEDDED_MODELS.find((m) => m.name === name);
  if (!found) throw new UserError(`--model ${name}: no such embedded model; the embedded models are ${EMBEDDED_MODELS.map((m) => m.name).join(', ')} (wander models lists every model Wander can see)`, 'model');
  return found.path;
}
