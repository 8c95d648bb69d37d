import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULTS } from '../../src/generate/settings.js';
import { drawFrom, PRESETS, SamplingChain, stageOrder, STAGES, type ChainSettings } from '../../src/sampling/chain.js';
import { describeDistribution } from '../../src/sampling/describe.js';
import { MIROSTAT_MU } from '../../src/sampling/mirostat.js';
import { Rng } from '../../src/sampling/rng.js';
import type { SamplingContext } from '../../src/sampling/sampler.js';

// p = 1/16, 1/4, 1/2, 1/16, 1/8 for ids 0..4.
const P = [0.0625, 0.25, 0.5, 0.0625, 0.125];
const LOGITS = Float32Array.from(P, Math.log);
const EMPTY: SamplingContext = { tokens: [], promptLength: 0, text: '' };
const settings = (s: Partial<ChainSettings>): ChainSettings => ({ ...DEFAULTS, ...s });
const names = (s: Partial<ChainSettings>) => new SamplingChain(settings(s)).samplers.map((x) => x.name);
const close = (a: number, b: number, tol = 1e-6) => assert.ok(Math.abs(a - b) < tol, `${a} ≠ ${b}`);

describe('the new stages in the chain', () => {
  test('both presets, in full', () => {
    const processors = ['logit_bias', 'repetition_penalty', 'frequency_presence_penalty', 'no_repeat_ngram', 'banned_strings', 'min_new_tokens', 'dry'];
    assert.deepEqual(PRESETS['hf'], [...processors, 'temperature', 'dynatemp', 'smoothing', 'top_h', 'top_n_sigma', 'top_k', 'top_p', 'min_p', 'typical_p', 'epsilon', 'eta', 'xtc', 'mirostat']);
    assert.deepEqual(PRESETS['llama.cpp'], [...processors, 'top_n_sigma', 'top_k', 'typical_p', 'top_p', 'min_p', 'xtc', 'epsilon', 'eta', 'top_h', 'temperature', 'dynatemp', 'smoothing', 'mirostat']);
    // Every stage is in both presets, once.
    for (const p of Object.values(PRESETS)) assert.deepEqual([...p].sort(), [...STAGES].sort());
  });

  test('active stages run in each preset\'s order; dynatemp takes temperature\'s place', () => {
    const s = { dry_multiplier: 0.8, temperature: 0.7, dynatemp_range: 0.2, smoothing_factor: 0.3, top_h: 0.9, top_k: 40, xtc_probability: 0.5 };
    assert.deepEqual(names(s), ['dry', 'dynatemp', 'smoothing', 'top_h', 'top_k', 'xtc']);
    assert.deepEqual(names({ ...s, chain: 'llama.cpp' }), ['dry', 'top_k', 'xtc', 'top_h', 'dynatemp', 'smoothing']);
    assert.deepEqual(names({ temperature: 0.7 }), ['temperature']);
    assert.deepEqual(names({ temperature: 0.7, dynatemp_range: 0.2 }), ['dynatemp']);
    assert.deepEqual(names({ dynatemp_range: 0.2 }), ['dynatemp']); // T = 1 still has a range to span
  });

  test('mirostat comes after temperature in both presets (llama.cpp: temp, then mirostat)', () => {
    const s = { mirostat: 2, temperature: 0.8, repetition_penalty: 1.1 };
    assert.deepEqual(names(s), ['repetition_penalty', 'temperature', 'mirostat']);
    assert.deepEqual(names({ ...s, chain: 'llama.cpp' }), ['repetition_penalty', 'temperature', 'mirostat']);
  });

  test('greedy keeps DRY (a processor) and skips the warpers; XTC above 0.5 is off', () => {
    assert.deepEqual(names({ temperature: 0, dry_multiplier: 0.8, top_h: 0.5, xtc_probability: 1, smoothing_factor: 1 }), ['dry']);
    assert.deepEqual(names({ xtc_probability: 1, xtc_threshold: 0.6 }), []);
    assert.deepEqual(names({ dry_multiplier: 0.8, dry_penalty_last_n: 0 }), []);
  });

  test('--chain lists take the new stage names', () => {
    assert.deepEqual(stageOrder(['dry', 'top_h', 'temperature', 'xtc', 'mirostat']), ['dry', 'top_h', 'temperature', 'xtc', 'mirostat']);
    assert.deepEqual(names({ top_h: 0.5, xtc_probability: 1, chain: ['xtc', 'top_h'] }), ['xtc', 'top_h']);
    assert.throws(() => stageOrder(['top_h', 'tfs']), {
      message: '--chain: unknown stage "tfs" (stages: logit_bias, repetition_penalty, frequency_presence_penalty, no_repeat_ngram, banned_strings, min_new_tokens, dry, temperature, dynatemp, smoothing, top_h, top_n_sigma, top_k, top_p, min_p, typical_p, epsilon, eta, xtc, mirostat)',
    });
    assert.throws(() => names({ temperature: 0.7, dynatemp_range: 0.2, chain: ['temperature', 'top_k'] }), { message: 'dynatemp is set but the chain (temperature, top_k) does not include it' });
    assert.throws(() => names({ smoothing_factor: 1, chain: ['top_k'] }), { message: 'smoothing is set but the chain (top_k) does not include it' });
  });
});

describe('the trace shows what each new stage did', () => {
  test('top_h and xtc: which removed what, and the probabilities after each', () => {
    // top_h 0.8 keeps 1/2, 1/4, 1/8 (4/7, 2/7, 1/7); XTC at 0.2 then removes 4/7 and keeps 2/7, the
    // least likely above it: 2/3 and 1/3 are left.
    const { trace } = new SamplingChain(settings({ top_h: 0.8, xtc_probability: 1, xtc_threshold: 0.2 })).sampleWithTrace(LOGITS, new Rng(1), EMPTY, 5, String);
    assert.deepEqual(trace.stages, ['top_h', 'xtc']);
    assert.deepEqual(trace.candidates.map((c) => c.token_id), [2, 1, 4, 0, 3]);
    assert.deepEqual(trace.candidates.map((c) => c.removed_by), ['xtc', null, null, 'top_h', 'top_h']);
    close(trace.candidates[0]!.stage_probs[0]!, 4 / 7);
    assert.equal(trace.candidates[0]!.stage_probs[1], 0);
    close(trace.candidates[1]!.final_prob, 2 / 3);
    close(trace.candidates[2]!.final_prob, 1 / 3);
    assert.equal(trace.kept_count, 2);
    close(trace.kept_mass, 0.375);
  });

  test('dynatemp and smoothing reshape without removing', () => {
    const t = 0.5 + (1.875 * Math.LN2) / Math.log(5); // dynatemp's temperature here (T 1 ∓ 0.5)
    const { trace } = new SamplingChain(settings({ dynatemp_range: 0.5, smoothing_factor: 0.5 })).sampleWithTrace(LOGITS, new Rng(1), EMPTY, 5, String);
    assert.deepEqual(trace.stages, ['dynatemp', 'smoothing']);
    assert.ok(trace.candidates.every((c) => c.removed_by === null));
    const softmax = (xs: number[]) => { const z = xs.reduce((s, x) => s + Math.exp(x), 0); return xs.map((x) => Math.exp(x) / z); };
    const afterT = P.map((p) => Math.log(p) / t);
    const max = Math.max(...afterT);
    const afterS = afterT.map((l) => max - 0.5 * (l - max) ** 2);
    const [pt, ps] = [softmax(afterT), softmax(afterS)];
    for (const c of trace.candidates) {
      close(c.stage_probs[0]!, pt[c.token_id]!);
      close(c.stage_probs[1]!, ps[c.token_id]!);
      close(c.final_prob, ps[c.token_id]!);
    }
  });

  test('dry lowers the token that would extend a repeat, with the vocabulary texts from the inputs', () => {
    // 2 1 2 1 2: the suffix "2 1 2" was followed by 1, so 1 loses 0.8·1.75 = 1.4.
    const ctx = { tokens: [2, 1, 2, 1, 2], promptLength: 0, text: '' };
    const chain = new SamplingChain(settings({ dry_multiplier: 0.8 }), { vocabTexts: () => ['a', 'b', 'c', 'd', 'e'] });
    const { trace } = chain.sampleWithTrace(LOGITS, new Rng(1), ctx, 5, String);
    assert.deepEqual(trace.stages, ['dry']);
    const q = 0.25 * Math.exp(-1.4);
    close(trace.candidates.find((c) => c.token_id === 1)!.stage_probs[0]!, q / (0.75 + q));
    close(trace.candidates.find((c) => c.token_id === 2)!.final_prob, 0.5 / (0.75 + q));
    // With "b" (token 1) a breaker it is exempt, and the repeat cannot reach back across it anyway.
    const broken = new SamplingChain(settings({ dry_multiplier: 0.8, dry_sequence_breakers: ['b'] }), { vocabTexts: () => ['a', 'b', 'c', 'd', 'e'] });
    close(broken.sampleWithTrace(LOGITS, new Rng(1), ctx, 5, String).trace.candidates.find((c) => c.token_id === 1)!.final_prob, 0.25);
  });
});

describe('mirostat through the chain', () => {
  const s = settings({ mirostat: 2, mirostat_tau: 1.6, mirostat_eta: 0.1 });

  test('μ before and after each step is in the trace, carried by the sample\'s state', () => {
    const chain = new SamplingChain(s), rng = new Rng(4), state: Record<string, number> = {};
    let before = 3.2; // 2τ
    for (let step = 0; step < 6; step++) {
      const { token, trace } = chain.sampleWithTrace(LOGITS, rng, { ...EMPTY, state }, 5, String);
      assert.deepEqual(trace.stages, ['mirostat']);
      const mu = trace.mirostat_mu!;
      close(mu.before, before);
      // The surprise of the chosen token in the truncated, renormalized distribution it was drawn from.
      close(mu.after, before - 0.1 * (-Math.log2(trace.chosen.final_prob) - 1.6));
      assert.equal(state[MIROSTAT_MU], mu.after);
      assert.equal(trace.chosen.token_id, token);
      before = mu.after;
    }
  });

  test('a one-off step (no state) starts from 2τ every time and keeps nothing', () => {
    const chain = new SamplingChain(s);
    const ctx = { ...EMPTY };
    for (let seed = 0; seed < 4; seed++) {
      const { trace } = chain.sampleWithTrace(LOGITS, new Rng(seed), ctx, 5, String);
      assert.equal(trace.mirostat_mu!.before, 3.2);
      assert.equal(ctx.state, undefined);
    }
    assert.equal(new SamplingChain(settings({ top_k: 2 })).sampleWithTrace(LOGITS, new Rng(1), EMPTY, 5, String).trace.mirostat_mu, undefined);
  });

  test('sample(), sampleWithEntropy() and sampleWithTrace() draw the same tokens and move μ the same way', () => {
    const chain = new SamplingChain(settings({ mirostat: 1, mirostat_tau: 1, mirostat_eta: 0.5 }));
    const run = (how: 'sample' | 'entropy' | 'trace') => {
      const rng = new Rng(21), state: Record<string, number> = {}, out: [number, number][] = [];
      for (let i = 0; i < 30; i++) {
        const ctx = { ...EMPTY, state };
        const token = how === 'sample' ? chain.sample(LOGITS, rng, ctx)
          : how === 'entropy' ? chain.sampleWithEntropy(LOGITS, rng, ctx).token
          : chain.sampleWithTrace(LOGITS, rng, ctx, 5, String).token;
        out.push([token, state[MIROSTAT_MU]!]);
      }
      return out;
    };
    const a = run('sample');
    assert.deepEqual(run('entropy'), a);
    assert.deepEqual(run('trace'), a);
    assert.ok(new Set(a.map(([t]) => t)).size > 1, 'the run draws more than one token');
  });
});

describe('XTC through the chain', () => {
  const s = settings({ xtc_probability: 0.5, xtc_threshold: 0.1 });

  test('its coin is the sample\'s rng, drawn before the token: draws replay exactly from the seed', () => {
    const chain = new SamplingChain(s), rng = new Rng(9), replay = new Rng(9);
    const acted = { ids: [0, 3, 4], probs: [0.25, 0.25, 0.5] }, all = { ids: [0, 1, 2, 3, 4], probs: P };
    for (let i = 0; i < 200; i++) {
      const coin = replay.uniform();
      assert.equal(chain.sample(LOGITS, rng, EMPTY), drawFrom(coin <= 0.5 ? acted : all, replay.uniform()), `step ${i}`);
    }
  });

  test('the same seed gives the same draws, whichever way the chain is asked', () => {
    const chain = new SamplingChain(s);
    const draws = (how: 'sample' | 'entropy' | 'trace', seed: number) => {
      const rng = new Rng(seed);
      return Array.from({ length: 50 }, () => how === 'sample' ? chain.sample(LOGITS, rng, EMPTY)
        : how === 'entropy' ? chain.sampleWithEntropy(LOGITS, rng, EMPTY).token
        : chain.sampleWithTrace(LOGITS, rng, EMPTY, 3, String).token);
    };
    const a = draws('sample', 5);
    assert.deepEqual(draws('sample', 5), a);
    assert.deepEqual(draws('entropy', 5), a);
    assert.deepEqual(draws('trace', 5), a);
    assert.notDeepEqual(draws('sample', 6), a);
  });

  test('distribution() is the mixture over the coin, and draws follow it', () => {
    // Acting (threshold 0.2) removes id 2: 1/8, 1/2, 1/8, 1/4 over ids 0, 1, 3, 4; not acting leaves P.
    const chain = new SamplingChain(settings({ xtc_probability: 0.5, xtc_threshold: 0.2 }));
    const d = chain.distribution(LOGITS, EMPTY);
    assert.deepEqual(d.ids, [0, 1, 2, 3, 4]);
    [0.09375, 0.375, 0.25, 0.09375, 0.1875].forEach((p, i) => close(d.probs[i]!, p));
    const always = new SamplingChain(settings({ xtc_probability: 1, xtc_threshold: 0.2 })).distribution(LOGITS, EMPTY);
    assert.deepEqual(always.ids, [0, 1, 3, 4]);
    const view = describeDistribution(chain, LOGITS, EMPTY, new Rng(2), { top: 5, draws: 20000, text: String });
    const count = (id: number) => view.draws!.find((x) => x.token_id === id)?.count ?? 0;
    // 3σ at n = 20000 is under 0.011 for these probabilities.
    assert.ok(Math.abs(count(2) / 20000 - 0.25) < 0.011);
    assert.ok(Math.abs(count(1) / 20000 - 0.375) < 0.011);
  });
});
