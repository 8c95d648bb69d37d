/** Model sizes for `wander train --size`: one family (GPT-2), growing in width and depth. */
export interface SizePreset {
  embd: number;
  layers: number;
  heads: number;
  ff: number;
  context: number;
  /** Defaults for a run of this size. */
  steps: number;
  batch: number;
  lr: number;
}

export const SIZES: Record<string, SizePreset> = {
  /** For tests: trains in seconds. */
  tiny: { embd: 32, layers: 1, heads: 2, ff: 128, context: 32, steps: 60, batch: 4, lr: 3e-3 },
  small: { embd: 64, layers: 2, heads: 4, ff: 256, context: 128, steps: 750, batch: 16, lr: 3e-3 },
  medium: { embd: 128, layers: 4, heads: 4, ff: 512, context: 128, steps: 750, batch: 16, lr: 2e-3 },
  large: { embd: 192, layers: 4, heads: 6, ff: 768, context: 128, steps: 750, batch: 16, lr: 1.5e-3 },
};
