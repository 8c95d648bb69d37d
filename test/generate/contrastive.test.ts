import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { contrastiveSearch } from '../../src/generate/contrastive.js';
import { generate, prepareRequest } from '../../src/generate/generate.js';
import type { ContrastiveTraceStep } from '../../src/generate/report.js';
import type { SettingsInput } from '../../src/generate/settings.js';
import type { HookFn } from '../../src/model/hooks.js';
import { loadModel, type Model } from '../../src/model/load.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { needsShared, sharedModel } from '../helpers.js';

const STORIES = 'stories260K.gguf';

/**
 * Contrastive search as a plain loop, from Su et al. / Hugging Face's description: for every step one
 * fresh forward pass over the whole prefix gives the next distribution and the final-norm hidden state
 * of every position; each of the K most probable tokens is appended and run from scratch to get its
 * hidden state; cosines and scores in f64; the best score wins, the more probable candidate on ties.
 */
function referenceContrastive(model: Model, prompt: number[], alpha: number, k: number, maxNew: number): { tokens: number[]; steps: ContrastiveTraceStep[] } {
  const tokens = [...prompt];
  const eos = new Set(model.tokenizer.eosIds);
  const steps: ContrastiveTraceStep[] = [];
  const pass = (ids: number[], all: boolean) => {
    const hidden: Float32Array[] = [];
    const capture: HookFn = (x, ctx) => {
      const d = ctx.shape[1]!;
      ctx.positions.forEach((p, r) => { hidden[p] = x.slice(r * d, (r + 1) * d); });
    };
    const logits = model.withScratch(() => model.forward(ids, model.newCache(ids.length), { hooks: new Map([['ln_final.hook_normalized', capture]]), allLogits: all }));
    return { hidden, last: logits.subarray(logits.length - model.config.vocabSize) };
  };
  const cos = (a: Float32Array, b: Float32Array) => {
    let ab = 0, aa = 0, bb = 0;
    for (let i = 0; i < a.length; i++) { ab += a[i]! * b[i]!; aa += a[i]! * a[i]!; bb += b[i]! * b[i]!; }
    return ab / Math.sqrt(aa * bb);
  };
  for (let step = 0; step < maxNew; step++) {
    const { hidden: context, last } = pass(tokens, true);
    let max = -Infinity, sum = 0;
    for (const x of last) max = Math.max(max, x);
    for (const x of last) sum += Math.exp(x - max);
    const p = Array.from(last, (x) => Math.exp(x - max) / sum);
    const ranked = p.map((_, id) => id).sort((a, b) => p[b]! - p[a]! || a - b).slice(0, k);
    const candidates = ranked.map((token) => {
      const h = pass([...tokens, token], false).hidden[tokens.length]!;
      const maxSim = Math.max(...context.map((c) => cos(c, h)));
      return { token_id: token, token: model.tokenizer.tokenText(token), prob: p[token]!, max_similarity: maxSim, score: (1 - alpha) * p[token]! - alpha * maxSim };
    });
    // Ties go to the earlier candidate (the more probable), as torch's max returns the first.
    const best = candidates.reduce((b, c) => (c.score > b.score ? c : b));
    steps.push({ step, candidates, chosen: best.token_id });
    tokens.push(best.token_id);
    if (eos.has(best.token_id)) break;
  }
  return { tokens: tokens.slice(prompt.length), steps };
}

function contrastive(model: Model, prompt: string, settings: SettingsInput) {
  return contrastiveSearch(model, prepareRequest(model, prompt, { seed: 1, ...settings }), {});
}

// The GPT-2 fixture's distributions are so peaked that α = 0.6 never overturns its most probable
// token over these steps (it first does at α = 0.9): its scores are compared all the same.
const CASES = [
  { name: 'stories260K', path: () => sharedModel(STORIES)!, prompt: 'Once upon a time', skip: () => needsShared(STORIES), notGreedy: true },
  { name: 'the GPT-2 fixture', path: () => fixture('gguf', SMALL.gpt2), prompt: 'The cat', skip: () => ({ skip: false as const }), notGreedy: false },
  { name: 'the Llama fixture', path: () => fixture('gguf', SMALL.llama), prompt: 'The cat', skip: () => ({ skip: false as const }), notGreedy: true },
];

for (const c of CASES) {
  describe(`contrastive search on ${c.name}`, () => {
    let loaded: Model | undefined;
    const model = () => (loaded ??= loadModel(c.path()));

    test('penalty_alpha 0 is greedy decoding', c.skip(), () => {
      const m = model();
      const greedy = generate(m, c.prompt, { temperature: 0, max_tokens: 16 }).samples[0]!;
      const run = contrastive(m, c.prompt, { penalty_alpha: 0, top_k: 4, max_tokens: 16 });
      assert.deepEqual(run.samples[0]!.token_ids, greedy.token_ids);
      assert.equal(run.samples[0]!.text, greedy.text);
      assert.equal(run.samples[0]!.finish_reason, greedy.finish_reason);
    });

    test('penalty_alpha 0.6, top_k 4: the reference\'s tokens, and every candidate\'s p, similarity and score within 1e-5', c.skip(), () => {
      const m = model();
      const run = generate(m, c.prompt, { penalty_alpha: 0.6, top_k: 4, max_tokens: 12, trace: 1 });
      const want = referenceContrastive(m, m.tokenizer.encode(c.prompt), 0.6, 4, 12);
      assert.deepEqual(run.samples[0]!.token_ids, want.tokens);
      const trace = run.contrastive_trace!;
      assert.equal(trace.length, want.steps.length);
      trace.forEach((st, i) => {
        const w = want.steps[i]!;
        assert.equal(st.chosen, w.chosen, `step ${i}`);
        assert.deepEqual(st.candidates.map((x) => x.token_id), w.candidates.map((x) => x.token_id), `step ${i} candidates`);
        st.candidates.forEach((x, j) => {
          const y = w.candidates[j]!;
          for (const f of ['prob', 'max_similarity', 'score'] as const) assert.ok(Math.abs(x[f] - y[f]) < 1e-5, `step ${i} candidate ${j} ${f}: ${x[f]} vs ${y[f]}`);
        });
      });
      // The penalty changed the choice somewhere: this is not greedy decoding.
      const greedy = generate(m, c.prompt, { temperature: 0, max_tokens: 12 }).samples[0]!;
      if (c.notGreedy) assert.notDeepEqual(run.samples[0]!.token_ids, greedy.token_ids);
    });
  });
}

describe('contrastive search in generate()', () => {
  test('a stop string, the logit processors and top logprobs work as in sampling; nothing else runs', needsShared(STORIES), () => {
    const m = loadModel(sharedModel(STORIES)!);
    const texts: string[] = [];
    const run = generate(m, 'Once upon a time', { penalty_alpha: 0.4, top_k: 3, max_tokens: 40, stop: ['.'], top_logprobs: 2, repetition_penalty: 2 }, { onText: (t) => texts.push(t) });
    const s = run.samples[0]!;
    assert.equal(run.samples.length, 1);
    assert.equal(s.finish_reason, 'stop_sequence');
    assert.equal(s.stop_sequence, '.');
    assert.ok(!s.text.includes('.') && m.tokenizer.decode(s.token_ids).includes('.'));
    assert.equal(texts.join(''), s.text);
    assert.deepEqual(s.logprobs!.map((l) => l.token_id), s.token_ids);
    // top_k picks the candidates: it is not a stage of the chain, whose processors run as usual.
    assert.deepEqual(run.settings.stages, ['repetition_penalty']);
    const plain = generate(m, 'Once upon a time', { penalty_alpha: 0.4, top_k: 3, max_tokens: 40, stop: ['.'] });
    assert.notDeepEqual(plain.samples[0]!.token_ids, s.token_ids);
  });
});
