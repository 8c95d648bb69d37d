import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { UserError } from '../errors.js';

/** Reads a JSON file, or undefined when it does not exist; a malformed one is a one-line error. */
export function readJsonFile<T = Record<string, unknown>>(path: string, required = false): T | undefined {
  if (!existsSync(path)) {
    if (required) throw new UserError(`${path}: file not found`, 'model');
    return undefined;
  }
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (e) {
    throw new UserError(`${basename(path)}: not valid JSON (${(e as Error).message})`, 'model');
  }
}
