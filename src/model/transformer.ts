import type { Heap } from '../kernels/heap.js';
import { activationFormat, matmulScratchBytes, quantizedBytes, type Kernels } from '../kernels/kernels.js';
import type { MatmulPool } from '../kernels/pool.js';
import { ropeInvFreq, type ModelConfig } from './config.js';
import type { HookFn, Hooks } from './hooks.js';
import { KvCache, type KvType } from './kv-cache.js';
import type { Matrix, Vec, Weights } from './weights.js';
import { byteSize, DType } from '../formats/tensor-types.js';

export interface ForwardOptions {
  /** Hook points to read or replace activations; none registered ⇒ no hook cost at all. */
  hooks?: Hooks;
  /** Return logits for every input position (rows × vocab) instead of only the last one. */
  allLogits?: boolean;
}

/** Rows of one forward call that belong to one sequence, at consecutive positions from cache.length. */
interface Segment {
  cache: KvCache;
  first: number;
  count: number;
}

/** Positions per forward chunk: bounds scratch memory while letting prompt matmuls reuse each weight row. */
export const CHUNK = 64;

/** Bytes of the forward pass's scratch buffers for a model of this shape (what the constructor allocates, to within alignment). */
export function scratchBytes(c: ModelConfig): number {
  const d = c.nEmbd, q = c.nHead * c.headDim, kv = c.nHeadKv * c.headDim, widest = Math.max(d, q, c.nFf);
  const floats = CHUNK * (d + Math.max(d, q) + (c.family === 'gpt2' ? 3 * d : 0) + 2 * q + 2 * kv + d + 2 * c.nFf + 1 + c.vocabSize) + c.ropeDim;
  return floats * 4 + matmulScratchBytes(widest) + activationBytes(widest);
}

/** The quantized-activation buffer: CHUNK rows of the widest input in either format (one at a time). */
const activationBytes = (widest: number) => Math.max(quantizedBytes('q8_0', widest, CHUNK), quantizedBytes('q8_K', widest, CHUNK));

/**
 * The forward pass for every family, one readable function. GPT-2: learned positions, LayerNorm, fused
 * QKV, GELU. Llama: RMSNorm, RoPE, grouped-query attention, SwiGLU, optional biases and QK-norm.
 * Gemma: Llama's layout with embeddings scaled by √d_model, GeGLU, and (Gemma 2/3) norms on the
 * attention's and feed-forward's outputs, sliding-window layers with their own RoPE base, and soft-capped
 * scores and logits. Activations are f32 in the shared heap; the kernels do the arithmetic.
 */
export class Transformer {
  private readonly d: number;
  private readonly qDim: number;
  private readonly kvDim: number;
  // Scratch buffers (heap offsets), sized once for CHUNK positions.
  private readonly x: number;
  private readonly h: number;
  private readonly qkv: number;
  private readonly q: number;
  private readonly k: number;
  private readonly v: number;
  private readonly z: number;
  private readonly proj: number;
  private readonly up: number;
  private readonly gate: number;
  private readonly positions: number;
  private readonly invFreq: number;
  /** Gemma's sliding layers' rotary frequencies (their own base, never scaled); 0 = as invFreq. */
  private readonly invFreqLocal: number;
  private readonly scratch: number;
  /** Activations quantized for the current format (Q8_0 or Q8_K: see linears). */
  private readonly xq: number;
  private readonly logits: number;

  constructor(
    readonly config: ModelConfig,
    readonly weights: Weights,
    private readonly heap: Heap,
    private readonly kernels: Kernels,
    private readonly pool?: MatmulPool,
    /** How every cache this transformer makes stores keys and values. */
    readonly kvType: KvType = 'f32',
  ) {
    const c = config;
    this.d = c.nEmbd;
    this.qDim = c.nHead * c.headDim;
    this.kvDim = c.nHeadKv * c.headDim;
    const f = (n: number, what: string) => heap.alloc(n * 4, what);
    this.x = f(CHUNK * this.d, 'residual');
    this.h = f(CHUNK * Math.max(this.d, this.qDim), 'normed');
    this.qkv = c.family === 'gpt2' ? f(CHUNK * 3 * this.d, 'qkv') : 0;
    this.q = f(CHUNK * this.qDim, 'q');
    this.k = f(CHUNK * this.kvDim, 'k');
    this.v = f(CHUNK * this.kvDim, 'v');
    this.z = f(CHUNK * this.qDim, 'z');
    this.proj = f(CHUNK * this.d, 'projection');
    this.up = f(CHUNK * c.nFf, 'mlp');
    this.gate = f(CHUNK * c.nFf, 'mlp');
    this.positions = f(CHUNK, 'positions');
    this.invFreq = f(Math.max(1, c.ropeDim / 2), 'rope');
    if (c.family !== 'gpt2') heap.f32(this.invFreq, c.ropeDim / 2).set(ropeInvFreq(c));
    this.invFreqLocal = c.gemma?.sliding.some(Boolean) ? f(c.ropeDim / 2, 'rope (sliding layers)') : 0;
    if (this.invFreqLocal) heap.f32(this.invFreqLocal, c.ropeDim / 2).set(ropeInvFreq({ ropeDim: c.ropeDim, ropeBase: c.gemma!.ropeBaseLocal }));
    const widest = Math.max(this.d, this.qDim, c.nFf);
    this.scratch = heap.alloc(matmulScratchBytes(widest), 'matmul scratch');
    this.xq = heap.alloc(activationBytes(widest), 'quantized activations');
    this.logits = f(CHUNK * c.vocabSize, 'logits');
  }

  /** A KV cache for one sequence of up to `capacity` positions (at most the model's context length). */
  newCache(capacity = this.config.contextLength): KvCache {
    return new KvCache(this.heap, this.config, Math.min(capacity, this.config.contextLength), CHUNK, this.kvType);
  }

  /**
   * y = x · mᵀ (+ bias) for several matrices that read the same input x (nt rows). Quantized weights
   * multiply activations quantized the way llama.cpp pairs with their type (activationFormat: Q8_0 for
   * Q8_0, Q4_0, …; Q8_K for the k-quants and IQ4_XS), with integer dot products, as llama.cpp computes them
   * (and several times faster than dequantizing). The matrices run grouped by format, so x is quantized
   * once per format the group needs, into the one buffer xq; each output is the same whatever the order.
   */
  private linears(x: number, nt: number, outputs: [Matrix, Vec, number][]): void {
    for (const format of ['q8_K', 'q8_0', 'f32'] as const) {
      let quantized = false;
      for (const [m, bias, y] of outputs) {
        if (activationFormat(m.type) !== format) continue;
        if (format !== 'f32' && !quantized) {
          if (format === 'q8_0') this.kernels.quantizeRowsQ8_0(x, this.xq, m.cols, nt);
          else this.kernels.quantizeRowsQ8_K(x, this.xq, m.cols, nt);
          quantized = true;
        }
        const q8 = format !== 'f32', input = q8 ? this.xq : x;
        if (this.pool && this.pool.worthIt(m.rows, m.cols, nt)) this.pool.matmul(m, input, y, nt, q8);
        else if (q8) this.kernels.matmulQ8Act(m.type, m.ptr, input, y, m.rows, m.cols, nt, 0, m.rows);
        else this.kernels.matmul(m.type, m.ptr, x, y, m.rows, m.cols, nt, 0, m.rows, this.scratch);
        if (bias) this.kernels.addBias(y, bias, m.rows, nt);
      }
    }
  }

  private linear(m: Matrix, bias: Vec, x: number, y: number, nt: number): void {
    this.linears(x, nt, [[m, bias, y]]);
  }

  private norm(x: number, out: number, w: Vec, b: Vec, nt: number): void {
    const c = this.config;
    if (c.family === 'gpt2') this.kernels.layerNorm(x, out, w, b, this.d, nt, c.normEps);
    else this.kernels.rmsNorm(x, out, w, this.d, nt, c.normEps);
  }

  private embedRow(m: Matrix, row: number, dst: number): void {
    this.kernels.dequantRow(m.type, m.ptr + row * byteSize(m.type, m.cols), dst, m.cols);
  }

  /**
   * Runs `tokens` at positions cache.length… and appends their keys and values to the cache.
   * Returns a copy of the logits: of the last token, or of every token with allLogits.
   */
  forward(tokens: readonly number[], cache: KvCache, opts: ForwardOptions = {}): Float32Array {
    const c = this.config;
    if (tokens.length === 0) throw new Error('forward() needs at least one token');
    if (cache.length + tokens.length > cache.capacity) throw new Error(`KV cache overflow: ${cache.length} + ${tokens.length} > ${cache.capacity}`);
    this.checkTokens(tokens);
    const hooks = opts.hooks && opts.hooks.size > 0 ? opts.hooks : undefined;
    const all = !!opts.allLogits;
    const out = new Float32Array((all ? tokens.length : 1) * c.vocabSize);
    for (let s = 0; s < tokens.length; s += CHUNK) {
      const part = tokens.slice(s, s + CHUNK);
      const last = s + CHUNK >= tokens.length;
      const from = all ? 0 : last ? part.length - 1 : part.length;
      this.rows(part, [{ cache, first: 0, count: part.length }], hooks, from);
      if (from < part.length) out.set(this.heap.f32(this.logits, (part.length - from) * c.vocabSize), (all ? s : 0) * c.vocabSize);
    }
    return out;
  }

  /**
   * Several sequences of several tokens each in one pass: tokens[s] goes at positions caches[s].length…
   * of caches[s]. Rows are packed into chunks of up to CHUNK (a sequence may continue in the next chunk),
   * so short sequences share each weight row's pass — the way to run many variants of one prompt (a
   * patching grid, a head scan: hooks tell the rows apart by ctx.sequences). Returns the logits of each
   * sequence's last token, [S, vocab]. Each sequence's logits are bit-identical to running it alone.
   */
  forwardMany(tokens: readonly (readonly number[])[], caches: readonly KvCache[], opts: ForwardOptions = {}): Float32Array {
    const V = this.config.vocabSize;
    if (tokens.length !== caches.length || tokens.length === 0) throw new Error('forwardMany() needs one token list per cache');
    if (new Set(caches).size !== caches.length) throw new Error('forwardMany() needs a distinct cache per sequence');
    tokens.forEach((t, i) => {
      if (t.length === 0) throw new Error('forwardMany() needs at least one token per sequence');
      if (caches[i]!.length + t.length > caches[i]!.capacity) throw new Error(`KV cache overflow: ${caches[i]!.length} + ${t.length} > ${caches[i]!.capacity}`);
      this.checkTokens(t);
    });
    const hooks = opts.hooks && opts.hooks.size > 0 ? opts.hooks : undefined;
    const out = new Float32Array(tokens.length * V);
    // The chunk being filled: its rows, segments, each segment's sequence, and whether it ends there.
    let rows: number[] = [], segments: Segment[] = [], owners: number[] = [], ends: boolean[] = [];
    const flush = () => {
      if (rows.length === 0) return;
      const logitRows = segments.flatMap((seg, i) => (ends[i] ? [seg.first + seg.count - 1] : []));
      this.rows(rows, segments, hooks, logitRows, owners);
      const logits = this.heap.f32(this.logits, logitRows.length * V);
      // Logit rows come back in segment order, which is sequence order.
      let k = 0;
      segments.forEach((_, i) => { if (ends[i]) out.set(logits.subarray(k * V, ++k * V), owners[i]! * V); });
      rows = []; segments = []; owners = []; ends = [];
    };
    tokens.forEach((t, si) => {
      for (let at = 0; at < t.length;) {
        const take = Math.min(t.length - at, CHUNK - rows.length);
        segments.push({ cache: caches[si]!, first: rows.length, count: take });
        owners.push(si);
        rows.push(...t.slice(at, at + take));
        at += take;
        ends.push(at === t.length);
        if (rows.length === CHUNK) flush();
      }
    });
    flush();
    return out;
  }

  /**
   * One decoding step for several sequences at once: token b goes at the end of caches[b]. The matrix
   * products run over all rows together (each weight row is read once per step, not once per
   * sequence); attention runs per sequence. Returns the logits, one row per sequence. A sequence's
   * logits are bit-identical to running it alone.
   */
  forwardBatch(tokens: readonly number[], caches: readonly KvCache[], opts: ForwardOptions = {}): Float32Array {
    if (tokens.length !== caches.length || tokens.length === 0) throw new Error('forwardBatch() needs one token per cache');
    if (tokens.length > CHUNK) throw new Error(`forwardBatch() takes at most ${CHUNK} sequences`);
    for (const cache of caches) if (cache.length + 1 > cache.capacity) throw new Error(`KV cache overflow: ${cache.length} + 1 > ${cache.capacity}`);
    if (new Set(caches).size !== caches.length) throw new Error('forwardBatch() needs a distinct cache per sequence');
    this.checkTokens(tokens);
    const hooks = opts.hooks && opts.hooks.size > 0 ? opts.hooks : undefined;
    this.rows([...tokens], caches.map((cache, b) => ({ cache, first: b, count: 1 })), hooks, 0);
    return this.heap.f32(this.logits, tokens.length * this.config.vocabSize).slice();
  }

  /**
   * The model's final norm and unembedding on residual-stream rows: [n, d_model] → logits [n, d_vocab].
   * The same kernels and weights as the end of forward(), so the last block's hook_resid_post comes out
   * as the model's own logits (a logit lens reads every block's residual through it). Uses no cache,
   * but the forward pass's scratch: call it between passes, never from inside a hook.
   */
  unembed(resid: Float32Array): Float32Array {
    const d = this.d, V = this.config.vocabSize, n = resid.length / d, W = this.weights;
    if (!Number.isInteger(n) || n === 0) throw new RangeError(`unembed() takes rows of ${d} values, got ${resid.length}`);
    const out = new Float32Array(n * V);
    for (let s = 0; s < n; s += CHUNK) {
      const rows = Math.min(CHUNK, n - s);
      this.heap.f32(this.x, rows * d).set(resid.subarray(s * d, (s + rows) * d));
      this.norm(this.x, this.h, W.outNorm, W.outNormBias, rows);
      this.linear(W.output, 0, this.h, this.logits, rows);
      this.softcapLogits(rows);
      out.set(this.heap.f32(this.logits, rows * V), s * V);
    }
    return out;
  }

  /** Gemma 2's final soft-capping of the first `rows` rows of logits: cap · tanh(logit / cap). */
  private softcapLogits(rows: number): void {
    const cap = this.config.gemma?.finalSoftcap ?? 0;
    if (!cap) return;
    const z = this.heap.f32(this.logits, rows * this.config.vocabSize);
    for (let i = 0; i < z.length; i++) z[i] = cap * Math.tanh(z[i]! / cap);
  }

  private checkTokens(tokens: readonly number[]): void {
    const V = this.config.vocabSize;
    for (const t of tokens) if (!Number.isInteger(t) || t < 0 || t >= V) throw new RangeError(`token id ${t} outside the vocabulary (0..${V - 1})`);
  }

  /**
   * Runs up to CHUNK rows through the model. Rows are grouped in segments, each a run of consecutive
   * positions of one sequence (one segment of many rows for a prompt; one row per sequence for a
   * batch step). `sequenceOf[i]` is segment i's sequence index for hooks (default: i). Leaves the
   * logits of `logitRows` in this.logits, one row each: the rows from that index to the end, or a list
   * of ascending row indices (forwardMany's sequence ends).
   */
  private rows(tokens: number[], segments: Segment[], hooks: Hooks | undefined, logitRows: number | number[], sequenceOf?: number[]): void {
    const c = this.config, K = this.kernels, W = this.weights, d = this.d, hd = c.headDim;
    const nt = tokens.length;
    const positions: number[] = [];
    for (const seg of segments) for (let i = 0; i < seg.count; i++) positions.push(seg.cache.length + i);
    // Which sequence each row is from, for hooks only (none registered ⇒ nothing built).
    const sequences: number[] = [];
    if (hooks) segments.forEach((seg, si) => { for (let i = 0; i < seg.count; i++) sequences.push(sequenceOf?.[si] ?? si); });
    this.heap.i32(this.positions, nt).set(positions);
    const fire = hooks
      ? (name: string, layer: number, ptr: number, shape: number[]) => this.fire(hooks.get(name), name, layer, ptr, shape, positions, sequences)
      : undefined;

    for (let t = 0; t < nt; t++) {
      this.embedRow(W.tokenEmbd, tokens[t]!, this.x + t * d * 4);
      if (W.posEmbd) {
        this.embedRow(W.posEmbd, positions[t]!, this.h);
        K.addInPlace(this.x + t * d * 4, this.h, d);
      }
    }
    if (c.gemma) {
      // Gemma scales its embeddings by √d_model (rounded to f32, as Hugging Face and llama.cpp do).
      const x = this.heap.f32(this.x, nt * d), scale = Math.fround(Math.sqrt(d));
      for (let i = 0; i < x.length; i++) x[i]! *= scale;
    }
    fire?.('hook_embed', -1, this.x, [nt, d]);

    const g = c.gemma;
    for (let l = 0; l < c.nLayer; l++) {
      const L = W.layers[l]!;
      const b = `blocks.${l}.`;
      const sliding = !!g?.sliding[l];
      const window = sliding ? g!.slidingWindow : 0;
      fire?.(b + 'hook_resid_pre', l, this.x, [nt, d]);

      // Attention.
      this.norm(this.x, this.h, L.attnNorm, L.attnNormBias, nt);
      if (L.qkv) {
        this.linear(L.qkv, L.qkvBias, this.h, this.qkv, nt);
        const all3 = this.heap.f32(this.qkv, nt * 3 * d);
        const q = this.heap.f32(this.q, nt * d), k = this.heap.f32(this.k, nt * d), v = this.heap.f32(this.v, nt * d);
        for (let t = 0; t < nt; t++) {
          q.set(all3.subarray(t * 3 * d, t * 3 * d + d), t * d);
          k.set(all3.subarray(t * 3 * d + d, t * 3 * d + 2 * d), t * d);
          v.set(all3.subarray(t * 3 * d + 2 * d, t * 3 * d + 3 * d), t * d);
        }
      } else {
        this.linears(this.h, nt, [[L.q!, L.qBias, this.q], [L.k!, L.kBias, this.k], [L.v!, L.vBias, this.v]]);
        if (L.qNorm) K.rmsNorm(this.q, this.q, L.qNorm, hd, nt * c.nHead, c.normEps);
        if (L.kNorm) K.rmsNorm(this.k, this.k, L.kNorm, hd, nt * c.nHeadKv, c.normEps);
      }
      fire?.(b + 'attn.hook_q', l, this.q, [nt, c.nHead, hd]);
      fire?.(b + 'attn.hook_k', l, this.k, [nt, c.nHeadKv, hd]);
      fire?.(b + 'attn.hook_v', l, this.v, [nt, c.nHeadKv, hd]);
      if (c.family !== 'gpt2') {
        const invFreq = sliding && this.invFreqLocal ? this.invFreqLocal : this.invFreq;
        K.rope(this.q, nt, c.nHead, hd, c.ropeDim, this.positions, invFreq, c.ropeNeox ? 1 : 0);
        K.rope(this.k, nt, c.nHeadKv, hd, c.ropeDim, this.positions, invFreq, c.ropeNeox ? 1 : 0);
        fire?.(b + 'attn.hook_rot_q', l, this.q, [nt, c.nHead, hd]);
        fire?.(b + 'attn.hook_rot_k', l, this.k, [nt, c.nHeadKv, hd]);
      }
      const kvRow = this.kvDim * 4, qRow = this.qDim * 4;
      const mem = new Uint8Array(this.heap.memory.buffer);
      for (let si = 0; si < segments.length; si++) {
        const { cache, first, count } = segments[si]!;
        const pos0 = cache.length, f16 = cache.type === 'f16' ? 1 : 0;
        if (f16) {
          const at = pos0 * this.kvDim * 2;
          K.toF16(this.k + first * kvRow, cache.k[l]! + at, count * this.kvDim);
          K.toF16(this.v + first * kvRow, cache.v[l]! + at, count * this.kvDim);
        } else {
          mem.copyWithin(cache.k[l]! + pos0 * kvRow, this.k + first * kvRow, this.k + (first + count) * kvRow);
          mem.copyWithin(cache.v[l]! + pos0 * kvRow, this.v + first * kvRow, this.v + (first + count) * kvRow);
        }
        K.attnPattern(this.q + first * qRow, cache.k[l]!, cache.pattern, count, c.nHead, c.nHeadKv, hd, pos0, this.kvDim, g?.attnScale ?? 1 / Math.sqrt(hd), window, g?.attnSoftcap ?? 0, f16);
        if (hooks) {
          this.fire(hooks.get(b + 'attn.hook_pattern'), b + 'attn.hook_pattern', l, cache.pattern, [c.nHead, count, pos0 + count],
            positions.slice(first, first + count), sequences.slice(first, first + count), sequences[first]);
        }
        K.attnApply(cache.pattern, cache.v[l]!, this.z + first * qRow, count, c.nHead, c.nHeadKv, hd, pos0, this.kvDim, window, f16);
      }
      fire?.(b + 'attn.hook_z', l, this.z, [nt, c.nHead, hd]);
      this.linear(L.out, L.outBias, this.z, this.proj, nt);
      if (L.attnPostNorm) {
        fire?.(b + 'ln1_post.hook_in', l, this.proj, [nt, d]);
        this.norm(this.proj, this.proj, L.attnPostNorm, 0, nt);
      }
      fire?.(b + 'hook_attn_out', l, this.proj, [nt, d]);
      K.addInPlace(this.x, this.proj, nt * d);
      fire?.(b + 'hook_resid_mid', l, this.x, [nt, d]);

      // MLP.
      this.norm(this.x, this.h, L.ffnNorm, L.ffnNormBias, nt);
      let act: number;
      if (L.gate) {
        this.linears(this.h, nt, [[L.gate, 0, this.gate], [L.up, L.upBias, this.up]]);
        if (g) K.geluMul(this.gate, this.up, nt * c.nFf);
        else K.siluMul(this.gate, this.up, nt * c.nFf);
        act = this.gate;
      } else {
        this.linear(L.up, L.upBias, this.h, this.up, nt);
        K.geluTanh(this.up, nt * c.nFf);
        act = this.up;
      }
      fire?.(b + 'mlp.hook_post', l, act, [nt, c.nFf]);
      this.linear(L.down, L.downBias, act, this.proj, nt);
      if (L.ffnPostNorm) {
        fire?.(b + 'ln2_post.hook_in', l, this.proj, [nt, d]);
        this.norm(this.proj, this.proj, L.ffnPostNorm, 0, nt);
      }
      fire?.(b + 'hook_mlp_out', l, this.proj, [nt, d]);
      K.addInPlace(this.x, this.proj, nt * d);
      fire?.(b + 'hook_resid_post', l, this.x, [nt, d]);
    }
    for (const seg of segments) seg.cache.length += seg.count;

    // Unembedding, only for the rows whose logits are wanted (a list is gathered to the front of the residual).
    const first = typeof logitRows === 'number' ? logitRows : 0;
    const rows = typeof logitRows === 'number' ? nt - logitRows : logitRows.length;
    const lnFinal = hooks?.get('ln_final.hook_normalized');
    if (lnFinal) {
      // A hook on the final norm sees every row, as every other hook does (contrastive search and
      // captures read all positions without paying for their logits); the logit rows are then
      // gathered from what it left, so a replacement reaches the logits.
      this.norm(this.x, this.h, W.outNorm, W.outNormBias, nt);
      this.fire(lnFinal, 'ln_final.hook_normalized', -1, this.h, [nt, d], positions, sequences);
      if (rows <= 0) return;
      const h = this.heap.f32(this.h, nt * d);
      if (typeof logitRows === 'number') h.copyWithin(0, first * d, nt * d);
      else logitRows.forEach((r, i) => h.copyWithin(i * d, r * d, (r + 1) * d));
      const at = typeof logitRows === 'number' ? Array.from({ length: rows }, (_, i) => first + i) : logitRows;
      this.linear(W.output, 0, this.h, this.logits, rows);
      this.softcapLogits(rows);
      this.fire(hooks!.get('hook_logits'), 'hook_logits', -1, this.logits, [rows, c.vocabSize], at.map((r) => positions[r]!), at.map((r) => sequences[r]!));
      return;
    }
    if (rows <= 0) return;
    if (typeof logitRows !== 'number') {
      const x = this.heap.f32(this.x, nt * d);
      logitRows.forEach((r, i) => x.copyWithin(i * d, r * d, (r + 1) * d));
    }
    this.norm(this.x + first * d * 4, this.h, W.outNorm, W.outNormBias, rows);
    if (hooks) {
      const at = typeof logitRows === 'number' ? Array.from({ length: rows }, (_, i) => first + i) : logitRows;
      const pos = at.map((r) => positions[r]!), seqs = at.map((r) => sequences[r]!);
      this.linear(W.output, 0, this.h, this.logits, rows);
      this.softcapLogits(rows);
      this.fire(hooks.get('hook_logits'), 'hook_logits', -1, this.logits, [rows, c.vocabSize], pos, seqs);
    } else {
      this.linear(W.output, 0, this.h, this.logits, rows);
      this.softcapLogits(rows);
    }
  }

  private fire(fn: HookFn | undefined, name: string, layer: number, ptr: number, shape: number[], positions: number[], sequences: number[], sequence?: number): void {
    if (!fn) return;
    const n = shape.reduce((a, b) => a * b, 1);
    const view = this.heap.f32(ptr, n);
    const ctx = sequence === undefined ? { name, layer, shape, positions, sequences } : { name, layer, shape, positions, sequences, sequence };
    const replaced = fn(view, ctx);
    if (replaced) {
      if (replaced.length !== n) throw new RangeError(`hook ${name} returned ${replaced.length} values, expected ${n} (shape [${shape.join(', ')}])`);
      view.set(replaced);
    }
  }
}
