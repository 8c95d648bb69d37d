import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The embedded default model: the middle model of the ladder trained by `wander train` on the King
 * James Bible (models/ladder/, committed with its card), used wherever no model is named.
 */
export const DEFAULT_MODEL = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models', 'ladder', 'medium', 'wander-ladder-medium.gguf');
