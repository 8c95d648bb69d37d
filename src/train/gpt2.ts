import {
  crossEntropyBackward, crossEntropyForward, encoderBackward, encoderForward, geluBackward, geluForward,
  layerNormBackward, layerNormForward, residualBackward, residualForward, retarget, type Arr,
} from './layers.js';
import { attentionBackward, attentionForward, linearBackward, linearForward } from './simd.js';

/** The shape of a GPT-2-family model, as training and gradients see it. */
export interface Gpt2Shape {
  vocab: number;
  context: number;
  embd: number;
  layers: number;
  heads: number;
  ff: number;
  eps: number;
  /** The unembedding is the token embedding (no separate output.weight). */
  tied: boolean;
}

/** Every parameter tensor, under its GGUF name, in the order the flat parameter array holds them. */
export function parameterLayout(s: Gpt2Shape): { name: string; shape: number[] }[] {
  const C = s.embd;
  const out = [
    { name: 'token_embd.weight', shape: [s.vocab, C] },
    { name: 'position_embd.weight', shape: [s.context, C] },
  ];
  for (let l = 0; l < s.layers; l++) {
    const p = `blk.${l}.`;
    out.push(
      { name: p + 'attn_norm.weight', shape: [C] }, { name: p + 'attn_norm.bias', shape: [C] },
      { name: p + 'attn_qkv.weight', shape: [3 * C, C] }, { name: p + 'attn_qkv.bias', shape: [3 * C] },
      { name: p + 'attn_output.weight', shape: [C, C] }, { name: p + 'attn_output.bias', shape: [C] },
      { name: p + 'ffn_norm.weight', shape: [C] }, { name: p + 'ffn_norm.bias', shape: [C] },
      { name: p + 'ffn_up.weight', shape: [s.ff, C] }, { name: p + 'ffn_up.bias', shape: [s.ff] },
      { name: p + 'ffn_down.weight', shape: [C, s.ff] }, { name: p + 'ffn_down.bias', shape: [C] },
    );
  }
  out.push({ name: 'output_norm.weight', shape: [C] }, { name: 'output_norm.bias', shape: [C] });
  if (!s.tied) out.push({ name: 'output.weight', shape: [s.vocab, C] });
  return out;
}

/** A flat array of all parameters (or of their gradients) with a named view of each tensor. */
export class ParameterSet {
  readonly data: Arr;
  readonly tensors = new Map<string, Arr>();

  constructor(readonly shape: Gpt2Shape, data?: Arr, precision: 'f32' | 'f64' = 'f32') {
    const layout = parameterLayout(shape);
    const total = layout.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
    if (data && data.length !== total) throw new Error(`parameter array has ${data.length} values, the shape needs ${total}`);
    this.data = data ?? (precision === 'f64' ? new Float64Array(total) : new Float32Array(total));
    let offset = 0;
    for (const t of layout) {
      const n = t.shape.reduce((a, b) => a * b, 1);
      this.tensors.set(t.name, this.data.subarray(offset, offset + n));
      offset += n;
    }
  }

  get(name: string): Arr {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`no parameter ${name}`);
    return t;
  }

  get count(): number {
    return this.data.length;
  }
}

interface LayerActs {
  resIn: Arr; ln1: Arr; ln1Mean: Arr; ln1Rstd: Arr; qkv: Arr; att: Arr; atty: Arr; attProj: Arr; res2: Arr;
  ln2: Arr; ln2Mean: Arr; ln2Rstd: Arr; fch: Arr; fchGelu: Arr; fcProj: Arr; res3: Arr;
}

/**
 * A GPT-2 that can be differentiated: the forward pass of the inference engine, written over dense
 * arrays for a whole batch at once and keeping every activation, and the backward pass through it.
 * Used for training and for gradient attribution.
 */
export class Gpt2Graph {
  private gradSet?: ParameterSet;
  /** After backward(): the gradient of the loss with respect to each position's input embedding (wte + wpe), [B·T, C]. */
  dEncoded?: Arr;
  private acts?: {
    B: number; T: number; tokens: ArrayLike<number>; targets: ArrayLike<number>; encoded: Arr; layers: LayerActs[];
    lnf: Arr; lnfMean: Arr; lnfRstd: Arr; logits: Arr; probs: Arr; losses: Arr; scored: number;
  };

  constructor(readonly params: ParameterSet) {}

  /** Gradients of every parameter (allocated on first use: attribution never needs them). */
  get grads(): ParameterSet {
    return this.gradSet ??= new ParameterSet(this.params.shape, undefined, this.params.data instanceof Float64Array ? 'f64' : 'f32');
  }

  private alloc(n: number): Arr {
    return this.params.data instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
  }

  /**
   * Runs B sequences of T tokens; with targets (−1 = not scored), returns the mean cross-entropy over
   * the scored positions. Logits and probabilities of every position stay available.
   */
  forward(tokens: ArrayLike<number>, targets: ArrayLike<number>, B: number, T: number): number {
    const s = this.params.shape, p = this.params, C = s.embd, N = B * T, V = s.vocab;
    if (tokens.length !== N || targets.length !== N) throw new Error(`forward: expected ${N} tokens and targets`);
    if (T > s.context) throw new Error(`forward: ${T} positions exceed the context of ${s.context}`);
    for (let n = 0; n < N; n++) if (!(tokens[n]! >= 0 && tokens[n]! < V)) throw new Error(`forward: token ${tokens[n]} out of the vocabulary`);
    const encoded = this.alloc(N * C);
    encoderForward(encoded, tokens, p.get('token_embd.weight'), p.get('position_embd.weight'), N, T, C);
    const layers: LayerActs[] = [];
    let res = encoded;
    for (let l = 0; l < s.layers; l++) {
      const w = (n: string) => p.get(`blk.${l}.${n}`);
      const a: LayerActs = {
        resIn: res, ln1: this.alloc(N * C), ln1Mean: this.alloc(N), ln1Rstd: this.alloc(N), qkv: this.alloc(N * 3 * C),
        att: this.alloc(B * s.heads * T * T), atty: this.alloc(N * C), attProj: this.alloc(N * C), res2: this.alloc(N * C),
        ln2: this.alloc(N * C), ln2Mean: this.alloc(N), ln2Rstd: this.alloc(N), fch: this.alloc(N * s.ff), fchGelu: this.alloc(N * s.ff),
        fcProj: this.alloc(N * C), res3: this.alloc(N * C),
      };
      layerNormForward(a.ln1, a.ln1Mean, a.ln1Rstd, res, w('attn_norm.weight'), w('attn_norm.bias'), N, C, s.eps);
      linearForward(a.qkv, a.ln1, w('attn_qkv.weight'), w('attn_qkv.bias'), N, C, 3 * C);
      attentionForward(a.atty, a.att, a.qkv, B, T, C, s.heads);
      linearForward(a.attProj, a.atty, w('attn_output.weight'), w('attn_output.bias'), N, C, C);
      residualForward(a.res2, res, a.attProj, N * C);
      layerNormForward(a.ln2, a.ln2Mean, a.ln2Rstd, a.res2, w('ffn_norm.weight'), w('ffn_norm.bias'), N, C, s.eps);
      linearForward(a.fch, a.ln2, w('ffn_up.weight'), w('ffn_up.bias'), N, C, s.ff);
      geluForward(a.fchGelu, a.fch, N * s.ff);
      linearForward(a.fcProj, a.fchGelu, w('ffn_down.weight'), w('ffn_down.bias'), N, s.ff, C);
      residualForward(a.res3, a.res2, a.fcProj, N * C);
      layers.push(a);
      res = a.res3;
    }
    const lnf = this.alloc(N * C), lnfMean = this.alloc(N), lnfRstd = this.alloc(N);
    layerNormForward(lnf, lnfMean, lnfRstd, res, p.get('output_norm.weight'), p.get('output_norm.bias'), N, C, s.eps);
    const logits = this.alloc(N * V), probs = this.alloc(N * V), losses = this.alloc(N);
    linearForward(logits, lnf, this.unembedding(p), undefined, N, C, V);
    crossEntropyForward(losses, probs, logits, targets, N, V);
    let scored = 0, total = 0;
    for (let n = 0; n < N; n++) if (targets[n]! >= 0) { scored++; total += losses[n]!; }
    this.acts = { B, T, tokens, targets, encoded, layers, lnf, lnfMean, lnfRstd, logits, probs, losses, scored };
    return scored ? total / scored : 0;
  }

  /** The token's embedding row (what input × gradient multiplies). */
  embedding(id: number): Arr {
    const C = this.params.shape.embd;
    return this.params.get('token_embd.weight').subarray(id * C, (id + 1) * C);
  }

  /** Logits of the last forward pass, [B·T, vocab]. */
  get logits(): Arr {
    if (!this.acts) throw new Error('run forward() first');
    return this.acts.logits;
  }

  private unembedding(p: ParameterSet): Arr {
    return p.shape.tied ? p.get('token_embd.weight') : p.get('output.weight');
  }

  /** Scores other positions (or other tokens) in the next backward(), reusing the last forward pass. */
  setTargets(targets: ArrayLike<number>): void {
    retarget(this.acts, targets);
  }

  zeroGrad(): void {
    this.grads.data.fill(0);
  }

  /**
   * Adds d(mean loss)/d(parameter) into grads (call zeroGrad() between steps), and sets dEncoded.
   * With `parameters: false` only dEncoded is computed (no weight gradients: attribution).
   */
  backward(opts: { parameters?: boolean } = {}): void {
    const a = this.acts;
    if (!a) throw new Error('run forward() first');
    const s = this.params.shape, p = this.params, C = s.embd, N = a.B * a.T, V = s.vocab;
    const withParams = opts.parameters ?? true;
    // Without parameter gradients, weight and bias gradients are skipped; LayerNorm's go to scratch.
    const scratch = new Map<string, Arr>();
    const mg = (name: string): Arr | undefined => (withParams ? this.grads.get(name) : undefined);
    const vg = (name: string): Arr => {
      if (withParams) return this.grads.get(name);
      let v = scratch.get(name);
      if (!v) scratch.set(name, (v = this.alloc(p.get(name).length)));
      return v;
    };
    const dlosses = this.alloc(N);
    for (let n = 0; n < N; n++) if (a.targets[n]! >= 0) dlosses[n] = 1 / a.scored;
    const dlogits = this.alloc(N * V);
    crossEntropyBackward(dlogits, dlosses, a.probs, a.targets, N, V);
    const dlnf = this.alloc(N * C);
    linearBackward(dlnf, mg(s.tied ? 'token_embd.weight' : 'output.weight'), undefined, dlogits, a.lnf, this.unembedding(p), N, C, V);
    let dres = this.alloc(N * C);
    const last = s.layers > 0 ? a.layers[s.layers - 1]!.res3 : a.encoded;
    layerNormBackward(dres, vg('output_norm.weight'), vg('output_norm.bias'), dlnf, last, p.get('output_norm.weight'), a.lnfMean, a.lnfRstd, N, C);
    for (let l = s.layers - 1; l >= 0; l--) {
      const L = a.layers[l]!;
      const w = (n: string) => p.get(`blk.${l}.${n}`);
      const dm = (n: string) => mg(`blk.${l}.${n}`), dv = (n: string) => vg(`blk.${l}.${n}`);
      // res3 = res2 + fcProj
      const dres2 = this.alloc(N * C), dfcProj = this.alloc(N * C);
      residualBackward(dres2, dfcProj, dres, N * C);
      const dfchGelu = this.alloc(N * s.ff), dfch = this.alloc(N * s.ff), dln2 = this.alloc(N * C);
      linearBackward(dfchGelu, dm('ffn_down.weight'), dm('ffn_down.bias'), dfcProj, L.fchGelu, w('ffn_down.weight'), N, s.ff, C);
      geluBackward(dfch, L.fch, dfchGelu, N * s.ff);
      linearBackward(dln2, dm('ffn_up.weight'), dm('ffn_up.bias'), dfch, L.ln2, w('ffn_up.weight'), N, C, s.ff);
      layerNormBackward(dres2, dv('ffn_norm.weight'), dv('ffn_norm.bias'), dln2, L.res2, w('ffn_norm.weight'), L.ln2Mean, L.ln2Rstd, N, C);
      // res2 = resIn + attProj
      const dresIn = this.alloc(N * C), dattProj = this.alloc(N * C);
      residualBackward(dresIn, dattProj, dres2, N * C);
      const datty = this.alloc(N * C), dqkv = this.alloc(N * 3 * C), dln1 = this.alloc(N * C);
      linearBackward(datty, dm('attn_output.weight'), dm('attn_output.bias'), dattProj, L.atty, w('attn_output.weight'), N, C, C);
      attentionBackward(dqkv, datty, L.qkv, L.att, a.B, a.T, C, s.heads);
      linearBackward(dln1, dm('attn_qkv.weight'), dm('attn_qkv.bias'), dqkv, L.ln1, w('attn_qkv.weight'), N, C, 3 * C);
      layerNormBackward(dresIn, dv('attn_norm.weight'), dv('attn_norm.bias'), dln1, L.resIn, w('attn_norm.weight'), L.ln1Mean, L.ln1Rstd, N, C);
      dres = dresIn;
    }
    this.dEncoded = dres;
    if (withParams) encoderBackward(this.grads.get('token_embd.weight'), this.grads.get('position_embd.weight'), dres, a.tokens, N, a.T, C);
  }
}
