/**
 * The GPT-2 layers as pairs of functions: a forward pass that keeps what its backward pass needs, and
 * a backward pass that *adds* into the gradients it is given (so a tensor used twice, such as a tied
 * embedding, accumulates both uses). Plain loops over row-major arrays, one layer per function, so each
 * can be checked against finite differences on its own. Arrays are f32 for training and f64 for the
 * gradient checks.
 *
 * Shapes: N = batch × time rows; C channels; weights are [out, in] (the heap's layout).
 */
export type Arr = Float32Array | Float64Array;

/** out[n] = wte[tokens[n]] + wpe[n mod T]. */
export function encoderForward(out: Arr, tokens: ArrayLike<number>, wte: Arr, wpe: Arr, N: number, T: number, C: number): void {
  for (let n = 0; n < N; n++) {
    const o = n * C, e = tokens[n]! * C, p = (n % T) * C;
    for (let i = 0; i < C; i++) out[o + i] = wte[e + i]! + wpe[p + i]!;
  }
}

export function encoderBackward(dwte: Arr, dwpe: Arr, dout: Arr, tokens: ArrayLike<number>, N: number, T: number, C: number): void {
  for (let n = 0; n < N; n++) {
    const o = n * C, e = tokens[n]! * C, p = (n % T) * C;
    for (let i = 0; i < C; i++) { dwte[e + i]! += dout[o + i]!; dwpe[p + i]! += dout[o + i]!; }
  }
}

/** LayerNorm over each row; keeps each row's mean and 1/σ for the backward pass. */
export function layerNormForward(out: Arr, mean: Arr, rstd: Arr, inp: Arr, w: Arr, b: Arr, N: number, C: number, eps: number): void {
  for (let n = 0; n < N; n++) {
    const x = n * C;
    let m = 0;
    for (let i = 0; i < C; i++) m += inp[x + i]!;
    m /= C;
    let v = 0;
    for (let i = 0; i < C; i++) v += (inp[x + i]! - m) ** 2;
    const s = 1 / Math.sqrt(v / C + eps);
    for (let i = 0; i < C; i++) out[x + i] = (inp[x + i]! - m) * s * w[i]! + b[i]!;
    mean[n] = m;
    rstd[n] = s;
  }
}

/**
 * With x̂ = (x − μ)·s and g = dout·w: dx = s·(g − mean(g) − x̂·mean(g·x̂)); dw += dout·x̂; db += dout.
 */
export function layerNormBackward(dinp: Arr, dw: Arr, db: Arr, dout: Arr, inp: Arr, w: Arr, mean: Arr, rstd: Arr, N: number, C: number): void {
  for (let n = 0; n < N; n++) {
    const x = n * C, m = mean[n]!, s = rstd[n]!;
    let gMean = 0, gxMean = 0;
    for (let i = 0; i < C; i++) {
      const xh = (inp[x + i]! - m) * s, g = dout[x + i]! * w[i]!;
      gMean += g;
      gxMean += g * xh;
    }
    gMean /= C;
    gxMean /= C;
    for (let i = 0; i < C; i++) {
      const xh = (inp[x + i]! - m) * s, g = dout[x + i]! * w[i]!;
      db[i]! += dout[x + i]!;
      dw[i]! += dout[x + i]! * xh;
      dinp[x + i]! += s * (g - gMean - xh * gxMean);
    }
  }
}

/** out[n, o] = bias[o] + Σ_i inp[n, i]·w[o, i] (bias may be absent). */
export function matmulForward(out: Arr, inp: Arr, w: Arr, bias: Arr | undefined, N: number, C: number, OC: number): void {
  for (let n = 0; n < N; n++) {
    const x = n * C, y = n * OC;
    for (let o = 0; o < OC; o++) {
      const r = o * C;
      let s = bias ? bias[o]! : 0;
      for (let i = 0; i < C; i++) s += inp[x + i]! * w[r + i]!;
      out[y + o] = s;
    }
  }
}

/** dinp += dout·w; dw += doutᵀ·inp; dbias += Σ_n dout (each skipped when its array is absent). */
export function matmulBackward(dinp: Arr | undefined, dw: Arr | undefined, dbias: Arr | undefined, dout: Arr, inp: Arr, w: Arr, N: number, C: number, OC: number): void {
  for (let n = 0; n < N; n++) {
    const x = n * C, y = n * OC;
    for (let o = 0; o < OC; o++) {
      const d = dout[y + o]!;
      if (d === 0) continue;
      const r = o * C;
      if (dinp) for (let i = 0; i < C; i++) dinp[x + i]! += d * w[r + i]!;
      if (dw) for (let i = 0; i < C; i++) dw[r + i]! += d * inp[x + i]!;
      if (dbias) dbias[o]! += d;
    }
  }
}

/** Copies head h's q, k and v (T × hs each) of sequence b out of the fused rows, contiguous for the inner loops. */
function splitHead(qkv: Arr, b: number, h: number, T: number, C: number, hs: number, q: Float64Array, k: Float64Array, v: Float64Array): void {
  const C3 = 3 * C;
  for (let t = 0; t < T; t++) {
    const r = (b * T + t) * C3 + h * hs, o = t * hs;
    for (let i = 0; i < hs; i++) { q[o + i] = qkv[r + i]!; k[o + i] = qkv[r + C + i]!; v[o + i] = qkv[r + 2 * C + i]!; }
  }
}

/**
 * Causal multi-head attention from a fused [q | k | v] row per position (3C wide) to C outputs.
 * `att` keeps the softmaxed pattern [B, NH, T, T] for the backward pass (and for the attention hooks).
 */
export function attentionForward(out: Arr, att: Arr, qkv: Arr, B: number, T: number, C: number, NH: number): void {
  const hs = C / NH, scale = 1 / Math.sqrt(hs);
  const q = new Float64Array(T * hs), k = new Float64Array(T * hs), v = new Float64Array(T * hs), y = new Float64Array(hs), row = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      splitHead(qkv, b, h, T, C, hs, q, k, v);
      for (let t = 0; t < T; t++) {
        const qo = t * hs, a = ((b * NH + h) * T + t) * T;
        let max = -Infinity;
        for (let u = 0; u <= t; u++) {
          const ko = u * hs;
          let s = 0;
          for (let i = 0; i < hs; i++) s += q[qo + i]! * k[ko + i]!;
          s *= scale;
          row[u] = s;
          if (s > max) max = s;
        }
        let sum = 0;
        for (let u = 0; u <= t; u++) { const e = Math.exp(row[u]! - max); row[u] = e; sum += e; }
        y.fill(0);
        for (let u = 0; u <= t; u++) {
          const p = row[u]! / sum, vo = u * hs;
          att[a + u] = p;
          for (let i = 0; i < hs; i++) y[i]! += p * v[vo + i]!;
        }
        for (let u = t + 1; u < T; u++) att[a + u] = 0;
        const o = (b * T + t) * C + h * hs;
        for (let i = 0; i < hs; i++) out[o + i] = y[i]!;
      }
    }
  }
}

/** Backward through value mixing, the causal softmax (dS = P ⊙ (dP − Σ P·dP)) and the scaled q·k. */
export function attentionBackward(dqkv: Arr, dout: Arr, qkv: Arr, att: Arr, B: number, T: number, C: number, NH: number): void {
  const hs = C / NH, scale = 1 / Math.sqrt(hs), C3 = 3 * C;
  const q = new Float64Array(T * hs), k = new Float64Array(T * hs), v = new Float64Array(T * hs);
  const dq = new Float64Array(T * hs), dk = new Float64Array(T * hs), dv = new Float64Array(T * hs), dy = new Float64Array(hs), dAtt = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      splitHead(qkv, b, h, T, C, hs, q, k, v);
      dq.fill(0); dk.fill(0); dv.fill(0);
      for (let t = 0; t < T; t++) {
        const a = ((b * NH + h) * T + t) * T, o = (b * T + t) * C + h * hs, qo = t * hs;
        for (let i = 0; i < hs; i++) dy[i] = dout[o + i]!;
        // out = Σ_u P[u]·v[u]: dP[u] = dout·v[u], dv[u] += P[u]·dout.
        let dot = 0;
        for (let u = 0; u <= t; u++) {
          const vo = u * hs, p = att[a + u]!;
          let s = 0;
          for (let i = 0; i < hs; i++) { s += dy[i]! * v[vo + i]!; dv[vo + i]! += p * dy[i]!; }
          dAtt[u] = s;
          dot += p * s;
        }
        for (let u = 0; u <= t; u++) {
          const dS = att[a + u]! * (dAtt[u]! - dot) * scale, ko = u * hs;
          if (dS === 0) continue;
          for (let i = 0; i < hs; i++) { dq[qo + i]! += dS * k[ko + i]!; dk[ko + i]! += dS * q[qo + i]!; }
        }
      }
      for (let t = 0; t < T; t++) {
        const r = (b * T + t) * C3 + h * hs, o = t * hs;
        for (let i = 0; i < hs; i++) { dqkv[r + i]! += dq[o + i]!; dqkv[r + C + i]! += dk[o + i]!; dqkv[r + 2 * C + i]! += dv[o + i]!; }
      }
    }
  }
}

const GELU_K = Math.sqrt(2 / Math.PI);

/** GELU, tanh approximation (GPT-2's). */
export function geluForward(out: Arr, inp: Arr, n: number): void {
  for (let i = 0; i < n; i++) {
    const x = inp[i]!;
    out[i] = 0.5 * x * (1 + Math.tanh(GELU_K * (x + 0.044715 * x * x * x)));
  }
}

export function geluBackward(dinp: Arr, inp: Arr, dout: Arr, n: number): void {
  for (let i = 0; i < n; i++) {
    const x = inp[i]!, u = GELU_K * (x + 0.044715 * x * x * x), th = Math.tanh(u);
    const du = GELU_K * (1 + 3 * 0.044715 * x * x);
    dinp[i]! += dout[i]! * (0.5 * (1 + th) + 0.5 * x * (1 - th * th) * du);
  }
}

/** out = a + b. */
export function residualForward(out: Arr, a: Arr, b: Arr, n: number): void {
  for (let i = 0; i < n; i++) out[i] = a[i]! + b[i]!;
}

export function residualBackward(da: Arr, db: Arr, dout: Arr, n: number): void {
  for (let i = 0; i < n; i++) { da[i]! += dout[i]!; db[i]! += dout[i]!; }
}

/**
 * Softmax of each row of logits (V wide) into probs, and the cross-entropy −log p[target] per row.
 * Rows whose target is −1 are not scored (loss 0, no gradient).
 */
export function crossEntropyForward(losses: Arr, probs: Arr, logits: Arr, targets: ArrayLike<number>, N: number, V: number): void {
  for (let n = 0; n < N; n++) {
    const r = n * V;
    let max = -Infinity;
    for (let i = 0; i < V; i++) if (logits[r + i]! > max) max = logits[r + i]!;
    let sum = 0;
    for (let i = 0; i < V; i++) { const e = Math.exp(logits[r + i]! - max); probs[r + i] = e; sum += e; }
    for (let i = 0; i < V; i++) probs[r + i]! /= sum;
    const t = targets[n]!;
    losses[n] = t < 0 ? 0 : -Math.log(probs[r + t]!);
  }
}

/** dlogits += dloss[n]·(p − onehot(target)): the softmax and the log folded together. */
export function crossEntropyBackward(dlogits: Arr, dlosses: Arr, probs: Arr, targets: ArrayLike<number>, N: number, V: number): void {
  for (let n = 0; n < N; n++) {
    const t = targets[n]!;
    if (t < 0) continue;
    const r = n * V, d = dlosses[n]!;
    for (let i = 0; i < V; i++) dlogits[r + i]! += d * (probs[r + i]! - (i === t ? 1 : 0));
  }
}

// ---------------------------------------------------------------- the Llama family's layers

/** RMSNorm over each row of C (weight optional); keeps 1/rms per row. */
export function rmsNormForward(out: Arr, rstd: Arr, inp: Arr, w: Arr | undefined, N: number, C: number, eps: number): void {
  for (let n = 0; n < N; n++) {
    const x = n * C;
    let ss = 0;
    for (let i = 0; i < C; i++) ss += inp[x + i]! * inp[x + i]!;
    const s = 1 / Math.sqrt(ss / C + eps);
    for (let i = 0; i < C; i++) out[x + i] = inp[x + i]! * s * (w ? w[i]! : 1);
    rstd[n] = s;
  }
}

/** With g = dout·w and x̂ = x·s: dx = s·(g − x̂·mean(g·x̂)). */
export function rmsNormBackward(dinp: Arr, dout: Arr, inp: Arr, w: Arr | undefined, rstd: Arr, N: number, C: number): void {
  for (let n = 0; n < N; n++) {
    const x = n * C, s = rstd[n]!;
    let gx = 0;
    for (let i = 0; i < C; i++) gx += dout[x + i]! * (w ? w[i]! : 1) * inp[x + i]! * s;
    gx /= C;
    for (let i = 0; i < C; i++) dinp[x + i]! += s * (dout[x + i]! * (w ? w[i]! : 1) - inp[x + i]! * s * gx);
  }
}

/**
 * Rotary position embedding, in place, on N positions × heads × hd: pairs (2i, 2i+1), or (i, i + d/2)
 * in the NeoX layout, rotated by position·invFreq[i] over the first ropeDim dimensions. Its backward
 * pass is the opposite rotation (`inverse`).
 */
export function rope(x: Arr, N: number, T: number, heads: number, hd: number, ropeDim: number, invFreq: ArrayLike<number>, neox: boolean, inverse = false): void {
  const half = ropeDim / 2;
  for (let n = 0; n < N; n++) {
    const pos = n % T;
    for (let i = 0; i < half; i++) {
      const theta = pos * invFreq[i]!, c = Math.cos(theta), s = inverse ? -Math.sin(theta) : Math.sin(theta);
      for (let h = 0; h < heads; h++) {
        const base = (n * heads + h) * hd, a = base + (neox ? i : 2 * i), b = base + (neox ? i + half : 2 * i + 1);
        const x0 = x[a]!, x1 = x[b]!;
        x[a] = x0 * c - x1 * s;
        x[b] = x0 * s + x1 * c;
      }
    }
  }
}

/** SwiGLU: out = silu(gate)·up. */
export function siluMulForward(out: Arr, gate: Arr, up: Arr, n: number): void {
  for (let i = 0; i < n; i++) out[i] = (gate[i]! / (1 + Math.exp(-gate[i]!))) * up[i]!;
}

export function siluMulBackward(dgate: Arr, dup: Arr, dout: Arr, gate: Arr, up: Arr, n: number): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i]!, sig = 1 / (1 + Math.exp(-g));
    dup[i]! += dout[i]! * g * sig;
    dgate[i]! += dout[i]! * up[i]! * sig * (1 + g * (1 - sig));
  }
}

/**
 * Causal attention with grouped keys and values (NH query heads share NKV key/value heads) on separate
 * q [N, NH·hd], k and v [N, NKV·hd]; out [N, NH·hd]; att [B, NH, T, T].
 */
export function attentionGqaForward(out: Arr, att: Arr, q: Arr, k: Arr, v: Arr, B: number, T: number, NH: number, NKV: number, hd: number): void {
  const scale = 1 / Math.sqrt(hd), group = NH / NKV, QD = NH * hd, KD = NKV * hd;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const kh = Math.floor(h / group);
      for (let t = 0; t < T; t++) {
        const qo = (b * T + t) * QD + h * hd, a = ((b * NH + h) * T + t) * T;
        let max = -Infinity;
        for (let u = 0; u <= t; u++) {
          const ko = (b * T + u) * KD + kh * hd;
          let s = 0;
          for (let i = 0; i < hd; i++) s += q[qo + i]! * k[ko + i]!;
          att[a + u] = s * scale;
          if (att[a + u]! > max) max = att[a + u]!;
        }
        let sum = 0;
        for (let u = 0; u <= t; u++) { att[a + u] = Math.exp(att[a + u]! - max); sum += att[a + u]!; }
        for (let u = 0; u <= t; u++) att[a + u]! /= sum;
        for (let u = t + 1; u < T; u++) att[a + u] = 0;
        for (let i = 0; i < hd; i++) out[qo + i] = 0;
        for (let u = 0; u <= t; u++) {
          const vo = (b * T + u) * KD + kh * hd, p = att[a + u]!;
          for (let i = 0; i < hd; i++) out[qo + i]! += p * v[vo + i]!;
        }
      }
    }
  }
}

export function attentionGqaBackward(dq: Arr, dk: Arr, dv: Arr, dout: Arr, q: Arr, k: Arr, v: Arr, att: Arr, B: number, T: number, NH: number, NKV: number, hd: number): void {
  const scale = 1 / Math.sqrt(hd), group = NH / NKV, QD = NH * hd, KD = NKV * hd;
  const dP = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const kh = Math.floor(h / group);
      for (let t = 0; t < T; t++) {
        const qo = (b * T + t) * QD + h * hd, a = ((b * NH + h) * T + t) * T;
        let dot = 0;
        for (let u = 0; u <= t; u++) {
          const vo = (b * T + u) * KD + kh * hd, p = att[a + u]!;
          let s = 0;
          for (let i = 0; i < hd; i++) { s += dout[qo + i]! * v[vo + i]!; dv[vo + i]! += p * dout[qo + i]!; }
          dP[u] = s;
          dot += p * s;
        }
        for (let u = 0; u <= t; u++) {
          const dS = att[a + u]! * (dP[u]! - dot) * scale, ko = (b * T + u) * KD + kh * hd;
          for (let i = 0; i < hd; i++) { dq[qo + i]! += dS * k[ko + i]!; dk[ko + i]! += dS * q[qo + i]!; }
        }
      }
    }
  }
}

/** Points a forward pass's saved state at new targets (for the next backward pass) and recounts the scored rows. */
export function retarget(acts: { B: number; T: number; targets: ArrayLike<number>; scored: number } | undefined, targets: ArrayLike<number>): void {
  if (!acts) throw new Error('run forward() first');
  if (targets.length !== acts.B * acts.T) throw new Error(`setTargets: expected ${acts.B * acts.T} targets`);
  acts.targets = targets;
  acts.scored = Array.from(targets).filter((t) => t >= 0).length;
}
