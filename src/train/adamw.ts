import type { Arr } from './layers.js';

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const ADAMW_DEFAULTS: AdamWOptions = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };

/**
 * AdamW (Loshchilov & Hutter): Adam's bias-corrected moments, with weight decay applied to the
 * weights directly rather than through the gradient — and only where `decay` is 1 (matrices), as
 * GPT-2 training does (biases and LayerNorm gains are not decayed).
 */
export class AdamW {
  readonly m: Float32Array;
  readonly v: Float32Array;
  /** Steps taken (the bias correction's t). */
  t = 0;

  constructor(readonly size: number, private readonly decay: Uint8Array, readonly opts: AdamWOptions = ADAMW_DEFAULTS) {
    this.m = new Float32Array(size);
    this.v = new Float32Array(size);
  }

  step(params: Arr, grads: Arr, lr: number): void {
    const { beta1, beta2, eps, weightDecay } = this.opts;
    this.t++;
    const c1 = 1 - beta1 ** this.t, c2 = 1 - beta2 ** this.t;
    const m = this.m, v = this.v, decay = this.decay;
    for (let i = 0; i < this.size; i++) {
      const g = grads[i]!;
      m[i] = beta1 * m[i]! + (1 - beta1) * g;
      v[i] = beta2 * v[i]! + (1 - beta2) * g * g;
      const update = (m[i]! / c1) / (Math.sqrt(v[i]! / c2) + eps);
      params[i] = params[i]! - lr * (update + (decay[i] ? weightDecay * params[i]! : 0));
    }
  }
}

/** Scales the gradients so their global L2 norm is at most maxNorm; returns the norm before clipping. */
export function clipGradNorm(grads: Arr, maxNorm: number): number {
  let ss = 0;
  for (let i = 0; i < grads.length; i++) ss += grads[i]! * grads[i]!;
  const norm = Math.sqrt(ss);
  if (maxNorm > 0 && norm > maxNorm) {
    const s = maxNorm / (norm + 1e-6);
    for (let i = 0; i < grads.length; i++) grads[i] = grads[i]! * s;
  }
  return norm;
}

/** Linear warm-up to `lr`, then a cosine decay to `minLr` at `steps`. */
export function learningRate(step: number, steps: number, lr: number, minLr: number, warmup: number): number {
  if (step < warmup) return (lr * (step + 1)) / warmup;
  if (step >= steps) return minLr;
  const progress = (step - warmup) / Math.max(1, steps - warmup);
  return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * progress));
}
