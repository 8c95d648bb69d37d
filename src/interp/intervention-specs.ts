/**
 * Interventions: changes to what flows through the forward pass, given as short strings wherever
 * settings are given (CLI flags, experiment presets, the library), and turned into hooks on the one
 * forward pass. They compose: several of each may be given, and they apply in the order ablation,
 * noise, patching when they share a hook point.
 *
 *   ablate      "L.H", "L.H:zero", "L.H:mean", "L.*"     a head's output (attn.hook_z[:, H, :], before the
 *               output projection) replaced at every position by 0, or by its mean over the prompt's
 *               positions in a clean pass. With grouped-query attention H is the query head.
 *   noise       "hook=NAME,sigma=S[,positions=A-B]"      N(0, S²) added to every value of the hook point(s)
 *               NAME (a glob) at positions A…B (default all); drawn from a stream keyed by (seed, sample,
 *               hook, position), never the sampling stream.
 *   patch_from  "FILE.safetensors[:HOOK[,A-B]]"           the hook's values at positions A…B set from a saved
 *               activation cache (wander cache --save): every hook in the file, or HOOK alone.
 */
export interface InterventionSettings {
  ablate: readonly string[];
  noise: readonly string[];
  patch_from: readonly string[];
}

export interface AblationSpec { layer: number; head: number | '*'; mode: 'zero' | 'mean' }
export interface NoiseSpec { hook: string; sigma: number; positions?: [number, number] }
export interface PatchSpec { file: string; hook?: string; positions?: [number, number] }

const POSITIONS = /^(\d+)(?:-(\d+))?$/;

function positionRange(text: string, what: string): [number, number] {
  const m = POSITIONS.exec(text);
  if (!m) throw new Error(`${what} must be a position A or a range A-B, got ${JSON.stringify(text)}`);
  const a = Number(m[1]), b = m[2] === undefined ? a : Number(m[2]);
  if (b < a) throw new Error(`${what} ${text} ends before it starts`);
  return [a, b];
}

/** "L.H[:zero|:mean]" or "L.*[:mode]". Throws an Error with the reason (the schema turns it into a message). */
export function parseAblation(spec: string): AblationSpec {
  const m = /^(\d+)\.(\d+|\*)(?::(zero|mean))?$/.exec(spec);
  if (!m) throw new Error('must be L.H, L.H:zero, L.H:mean or L.* (layer and head numbers from 0)');
  return { layer: Number(m[1]), head: m[2] === '*' ? '*' : Number(m[2]), mode: (m[3] ?? 'zero') as 'zero' | 'mean' };
}

/** "hook=NAME,sigma=S[,positions=A-B]". */
export function parseNoise(spec: string): NoiseSpec {
  const fields = new Map<string, string>();
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim(), value = part.slice(eq + 1).trim();
    if (eq < 0 || !['hook', 'sigma', 'positions'].includes(key) || fields.has(key)) throw new Error('must be hook=NAME,sigma=S[,positions=A-B]');
    fields.set(key, value);
  }
  const hook = fields.get('hook'), sigmaText = fields.get('sigma'), sigma = Number(sigmaText);
  if (!hook || sigmaText === undefined) throw new Error('must be hook=NAME,sigma=S[,positions=A-B]');
  if (!/^(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(sigmaText) || sigma > 1e6) throw new Error(`sigma must be a number from 0 to 1e6, got ${JSON.stringify(fields.get('sigma'))}`);
  const positions = fields.get('positions');
  return positions === undefined ? { hook, sigma } : { hook, sigma, positions: positionRange(positions, 'positions') };
}

/** "FILE.safetensors[:HOOK[,A-B]]". */
export function parsePatchFrom(spec: string): PatchSpec {
  const m = /^(.+?\.safetensors)(?::([^,]+)(?:,(.+))?)?$/.exec(spec);
  if (!m) throw new Error('must be FILE.safetensors[:HOOK[,A-B]]');
  const out: PatchSpec = { file: m[1]! };
  if (m[2] !== undefined) out.hook = m[2];
  if (m[3] !== undefined) out.positions = positionRange(m[3], 'the positions');
  return out;
}

export function hasInterventions(s: Partial<InterventionSettings>): boolean {
  return !!(s.ablate?.length || s.noise?.length || s.patch_from?.length);
}
