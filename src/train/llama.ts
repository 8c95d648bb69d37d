import { UserError } from '../errors.js';
import { dequantize } from '../formats/quant/index.js';
import { byteSize } from '../formats/tensor-types.js';
import { ropeInvFreq, type ModelConfig } from '../model/config.js';
import type { Model } from '../model/load.js';
import type { Matrix } from '../model/weights.js';
import {
  attentionGqaBackward, attentionGqaForward, crossEntropyBackward, crossEntropyForward,
  retarget, rmsNormBackward, rmsNormForward, rope, siluMulBackward, siluMulForward, type Arr,
} from './layers.js';
import { linearBackward, linearForward } from './simd.js';

interface LayerW {
  attnNorm: Arr; q: Arr; k: Arr; v: Arr; qBias?: Arr; kBias?: Arr; vBias?: Arr; qNorm?: Arr; kNorm?: Arr;
  out: Arr; outBias?: Arr; ffnNorm: Arr; gate: Arr; up: Arr; down: Arr;
}

interface LayerActs {
  x: Arr; h: Arr; hRstd: Arr; qRaw: Arr; kRaw: Arr; qRstd?: Arr; kRstd?: Arr; q: Arr; k: Arr; v: Arr; att: Arr; z: Arr;
  x2: Arr; h2: Arr; h2Rstd: Arr; gate: Arr; up: Arr; act: Arr;
}

/**
 * A Llama-family model (RMSNorm, RoPE, SwiGLU, grouped-query attention, optional QKV biases and
 * QK-norm) made differentiable with respect to its input embeddings — what gradient attribution needs.
 * The weights come from a loaded model (dequantized); the forward pass mirrors the engine's.
 */
export class LlamaGraph {
  private readonly c: ModelConfig;
  private readonly embd: Arr;
  private readonly layers: LayerW[];
  private readonly outNorm: Arr;
  private readonly output: Arr;
  private readonly invFreq: Float32Array;
  private acts?: { B: number; T: number; targets: ArrayLike<number>; layers: LayerActs[]; xf: Arr; hf: Arr; hfRstd: Arr; logits: Arr; probs: Arr; scored: number };
  /** After backward(): d loss / d input embedding at each position, [B·T, C]. */
  dEncoded?: Arr;

  constructor(model: Model, private readonly precision: 'f32' | 'f64' = 'f32') {
    const c = (this.c = model.config);
    if (c.family !== 'llama') throw new UserError(`${model.path}: not a Llama-family model`, 'model');
    const w = model.transformer.weights, heap = model.heap;
    const mat = (m: Matrix | undefined): Arr => {
      if (!m) throw new Error('a matrix is missing from the loaded weights');
      const n = m.rows * m.cols;
      return this.arr(dequantize(m.type, heap.u8(m.ptr, byteSize(m.type, n)), n));
    };
    const vec = (ptr: number, n: number): Arr | undefined => (ptr ? this.arr(heap.f32(ptr, n)) : undefined);
    const qDim = c.nHead * c.headDim, kvDim = c.nHeadKv * c.headDim;
    this.embd = mat(w.tokenEmbd);
    this.layers = w.layers.map((L) => ({
      attnNorm: vec(L.attnNorm, c.nEmbd)!, q: mat(L.q), k: mat(L.k), v: mat(L.v),
      qBias: vec(L.qBias, qDim), kBias: vec(L.kBias, kvDim), vBias: vec(L.vBias, kvDim),
      qNorm: vec(L.qNorm, c.headDim), kNorm: vec(L.kNorm, c.headDim),
      out: mat(L.out), outBias: vec(L.outBias, c.nEmbd), ffnNorm: vec(L.ffnNorm, c.nEmbd)!, gate: mat(L.gate), up: mat(L.up), down: mat(L.down),
    }));
    this.outNorm = vec(w.outNorm, c.nEmbd)!;
    this.output = w.tied ? this.embd : mat(w.output);
    this.invFreq = ropeInvFreq(c);
  }

  private arr(src: ArrayLike<number> | number): Arr {
    if (typeof src === 'number') return this.precision === 'f64' ? new Float64Array(src) : new Float32Array(src);
    return this.precision === 'f64' ? Float64Array.from(src) : Float32Array.from(src);
  }

  /** The token's input embedding (what input × gradient multiplies). */
  embedding(id: number): Arr {
    const C = this.c.nEmbd;
    return this.embd.subarray(id * C, (id + 1) * C);
  }

  get logits(): Arr {
    if (!this.acts) throw new Error('run forward() first');
    return this.acts.logits;
  }

  /** Runs B sequences of T tokens; returns the mean cross-entropy over positions whose target is not −1. */
  forward(tokens: ArrayLike<number>, targets: ArrayLike<number>, B: number, T: number): number {
    const c = this.c, C = c.nEmbd, N = B * T, hd = c.headDim, QD = c.nHead * hd, KD = c.nHeadKv * hd, V = c.vocabSize, F = c.nFf;
    let x = this.arr(N * C);
    for (let n = 0; n < N; n++) x.set(this.embedding(tokens[n]!), n * C);
    const layers: LayerActs[] = [];
    for (const L of this.layers) {
      const a: LayerActs = {
        x, h: this.arr(N * C), hRstd: this.arr(N), qRaw: this.arr(N * QD), kRaw: this.arr(N * KD), q: this.arr(N * QD), k: this.arr(N * KD),
        v: this.arr(N * KD), att: this.arr(B * c.nHead * T * T), z: this.arr(N * QD), x2: this.arr(N * C), h2: this.arr(N * C), h2Rstd: this.arr(N),
        gate: this.arr(N * F), up: this.arr(N * F), act: this.arr(N * F),
      };
      rmsNormForward(a.h, a.hRstd, x, L.attnNorm, N, C, c.normEps);
      linearForward(a.qRaw, a.h, L.q, L.qBias, N, C, QD);
      linearForward(a.kRaw, a.h, L.k, L.kBias, N, C, KD);
      linearForward(a.v, a.h, L.v, L.vBias, N, C, KD);
      if (L.qNorm) { a.qRstd = this.arr(N * c.nHead); rmsNormForward(a.q, a.qRstd, a.qRaw, L.qNorm, N * c.nHead, hd, c.normEps); } else a.q.set(a.qRaw);
      if (L.kNorm) { a.kRstd = this.arr(N * c.nHeadKv); rmsNormForward(a.k, a.kRstd, a.kRaw, L.kNorm, N * c.nHeadKv, hd, c.normEps); } else a.k.set(a.kRaw);
      rope(a.q, N, T, c.nHead, hd, c.ropeDim, this.invFreq, c.ropeNeox);
      rope(a.k, N, T, c.nHeadKv, hd, c.ropeDim, this.invFreq, c.ropeNeox);
      attentionGqaForward(a.z, a.att, a.q, a.k, a.v, B, T, c.nHead, c.nHeadKv, hd);
      linearForward(a.x2, a.z, L.out, L.outBias, N, QD, C);
      for (let i = 0; i < N * C; i++) a.x2[i]! += x[i]!;
      rmsNormForward(a.h2, a.h2Rstd, a.x2, L.ffnNorm, N, C, c.normEps);
      linearForward(a.gate, a.h2, L.gate, undefined, N, C, F);
      linearForward(a.up, a.h2, L.up, undefined, N, C, F);
      siluMulForward(a.act, a.gate, a.up, N * F);
      const next = this.arr(N * C);
      linearForward(next, a.act, L.down, undefined, N, F, C);
      for (let i = 0; i < N * C; i++) next[i]! += a.x2[i]!;
      layers.push(a);
      x = next;
    }
    const hf = this.arr(N * C), hfRstd = this.arr(N), logits = this.arr(N * V), probs = this.arr(N * V), losses = this.arr(N);
    rmsNormForward(hf, hfRstd, x, this.outNorm, N, C, c.normEps);
    linearForward(logits, hf, this.output, undefined, N, C, V);
    crossEntropyForward(losses, probs, logits, targets, N, V);
    let scored = 0, total = 0;
    for (let n = 0; n < N; n++) if (targets[n]! >= 0) { scored++; total += losses[n]!; }
    this.acts = { B, T, targets, layers, xf: x, hf, hfRstd, logits, probs, scored };
    return scored ? total / scored : 0;
  }

  /** Scores other positions (or other tokens) in the next backward(), reusing the last forward pass. */
  setTargets(targets: ArrayLike<number>): void {
    retarget(this.acts, targets);
  }

  /** Sets dEncoded: the gradient of the mean loss with respect to each input embedding (no weight gradients here). */
  backward(): void {
    const a = this.acts;
    if (!a) throw new Error('run forward() first');
    const c = this.c, C = c.nEmbd, N = a.B * a.T, hd = c.headDim, QD = c.nHead * hd, KD = c.nHeadKv * hd, V = c.vocabSize, F = c.nFf;
    const dlosses = this.arr(N);
    for (let n = 0; n < N; n++) if (a.targets[n]! >= 0) dlosses[n] = 1 / a.scored;
    const dlogits = this.arr(N * V);
    crossEntropyBackward(dlogits, dlosses, a.probs, a.targets, N, V);
    const dhf = this.arr(N * C);
    linearBackward(dhf, undefined, undefined, dlogits, a.hf, this.output, N, C, V);
    let dx = this.arr(N * C);
    rmsNormBackward(dx, dhf, a.xf, this.outNorm, a.hfRstd, N, C);
    for (let l = this.layers.length - 1; l >= 0; l--) {
      const L = this.layers[l]!, A = a.layers[l]!;
      // x_next = x2 + down(silu(gate)·up)
      const dx2 = this.arr(dx), dact = this.arr(N * F), dgate = this.arr(N * F), dup = this.arr(N * F), dh2 = this.arr(N * C);
      linearBackward(dact, undefined, undefined, dx, A.act, L.down, N, F, C);
      siluMulBackward(dgate, dup, dact, A.gate, A.up, N * F);
      linearBackward(dh2, undefined, undefined, dgate, A.h2, L.gate, N, C, F);
      linearBackward(dh2, undefined, undefined, dup, A.h2, L.up, N, C, F);
      rmsNormBackward(dx2, dh2, A.x2, L.ffnNorm, A.h2Rstd, N, C);
      // x2 = x + out(attention(rope(q), rope(k), v))
      const dxIn = this.arr(dx2), dz = this.arr(N * QD), dq = this.arr(N * QD), dk = this.arr(N * KD), dv = this.arr(N * KD);
      linearBackward(dz, undefined, undefined, dx2, A.z, L.out, N, QD, C);
      attentionGqaBackward(dq, dk, dv, dz, A.q, A.k, A.v, A.att, a.B, a.T, c.nHead, c.nHeadKv, hd);
      rope(dq, N, a.T, c.nHead, hd, c.ropeDim, this.invFreq, c.ropeNeox, true);
      rope(dk, N, a.T, c.nHeadKv, hd, c.ropeDim, this.invFreq, c.ropeNeox, true);
      let dqRaw = dq, dkRaw = dk;
      if (L.qNorm) { dqRaw = this.arr(N * QD); rmsNormBackward(dqRaw, dq, A.qRaw, L.qNorm, A.qRstd!, N * c.nHead, hd); }
      if (L.kNorm) { dkRaw = this.arr(N * KD); rmsNormBackward(dkRaw, dk, A.kRaw, L.kNorm, A.kRstd!, N * c.nHeadKv, hd); }
      const dh = this.arr(N * C);
      linearBackward(dh, undefined, undefined, dqRaw, A.h, L.q, N, C, QD);
      linearBackward(dh, undefined, undefined, dkRaw, A.h, L.k, N, C, KD);
      linearBackward(dh, undefined, undefined, dv, A.h, L.v, N, C, KD);
      rmsNormBackward(dxIn, dh, A.x, L.attnNorm, A.hRstd, N, C);
      dx = dxIn;
    }
    this.dEncoded = dx;
  }
}
