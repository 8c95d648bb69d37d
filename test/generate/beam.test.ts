import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { beamSearch } from '../../src/generate/beam.js';
import { generate, Generation, prepareRequest } from '../../src/generate/generate.js';
import type { Run, Sample } from '../../src/generate/report.js';
import type { SettingsInput } from '../../src/generate/settings.js';
import { loadModel, type Model } from '../../src/model/load.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { needsShared, sharedModel, userError } from '../helpers.js';

const STORIES = 'stories260K.gguf';

/** What a reference hypothesis is: its generated tokens, why it ended, its sum of log-probs and score. */
interface RefHypothesis { tokens: number[]; reason: string; sum: number; score: number }

interface RefOptions {
  beams: number; lengthPenalty: number; earlyStopping: boolean | 'never'; maxNew: number;
  bias?: Map<number, number>; ngram?: number; stop?: string[];
}

/**
 * A plain beam search written from Hugging Face's rules (transformers 4.50+ `_beam_search`), with no
 * KV caches and nothing clever: every beam's next-token log-probabilities come from a fresh forward
 * pass over its whole prefix, log-softmax in f64, the bias added and n-gram repeats banned in f64.
 */
function referenceBeams(model: Model, prompt: number[], o: RefOptions): RefHypothesis[] {
  const P = prompt.length, B = o.beams, eos = new Set(model.tokenizer.eosIds);
  const keep = Math.max(2, 1 + eos.size) * B;
  const maxLength = Math.min(P + o.maxNew, model.config.contextLength + 1);
  const decode = (ids: number[]) => (ids.length ? model.tokenizer.decode(ids) : '');
  const nextLogProbs = (tokens: number[]): Float64Array => {
    const logits = model.withScratch(() => model.forward(tokens, model.newCache(tokens.length)));
    let max = -Infinity, sum = 0;
    for (const x of logits) max = Math.max(max, x);
    for (const x of logits) sum += Math.exp(x - max);
    const out = Float64Array.from(logits, (x) => x - max - Math.log(sum));
    for (const [id, b] of o.bias ?? []) out[id]! += b;
    if (o.ngram) {
      const n = o.ngram, tail = tokens.slice(tokens.length - (n - 1));
      for (let s = 0; s + n <= tokens.length; s++) if (tail.every((t, j) => tokens[s + j] === t)) out[tokens[s + n - 1]!] = -Infinity;
    }
    return out;
  };
  let running: { tokens: number[]; sum: number }[] = [{ tokens: [], sum: 0 }];
  const finished: RefHypothesis[] = [];
  let improvable = true;
  for (let cur = P; ; cur++) {
    const all: { beam: number; token: number; sum: number }[] = [];
    running.forEach((beam, b) => {
      const lp = nextLogProbs([...prompt, ...beam.tokens]);
      lp.forEach((v, token) => { if (v !== -Infinity) all.push({ beam: b, token, sum: beam.sum + v }); });
    });
    all.sort((x, y) => y.sum - x.sum || x.beam - y.beam || x.token - y.token);
    const top = all.slice(0, keep);
    const endOf = (c: { beam: number; token: number }): string | undefined => {
      if (eos.has(c.token)) return 'eos';
      const text = decode([...running[c.beam]!.tokens, c.token]);
      if (o.stop?.some((s) => text.includes(s))) return 'stop_sequence';
      if (cur + 1 >= maxLength) return cur + 1 >= P + o.maxNew ? 'max_tokens' : 'context_full';
      return undefined;
    };
    const next = top.filter((c) => !endOf(c)).slice(0, B).map((c) => ({ tokens: [...running[c.beam]!.tokens, c.token], sum: c.sum }));
    if (improvable) {
      for (const c of top.slice(0, B)) {
        const reason = endOf(c);
        if (reason) finished.push({ tokens: [...running[c.beam]!.tokens, c.token], reason, sum: c.sum, score: c.sum / (cur + 1 - P) ** o.lengthPenalty });
      }
      finished.sort((x, y) => y.score - x.score); // stable: earlier hypotheses first among equals
      finished.length = Math.min(finished.length, B);
    }
    if (improvable && next.length > 0) {
      const length = o.earlyStopping === 'never' && o.lengthPenalty > 0 ? maxLength - P : cur + 1 - P;
      improvable = finished.length < B || next[0]!.sum / length ** o.lengthPenalty > finished[B - 1]!.score;
    }
    if (!improvable || (o.earlyStopping === true && finished.length === B) || next.length === 0) return finished;
    running = next;
  }
}

/** Wander's beam search, called directly (so that one beam runs too: generate() decodes greedily then). */
function beams(model: Model, prompt: string, settings: SettingsInput): Run {
  return beamSearch(model, prepareRequest(model, prompt, { seed: 1, ...settings }), {});
}

function assertSameHypotheses(got: Sample[], want: RefHypothesis[], label: string): void {
  assert.equal(got.length, want.length, `${label}: number of sequences`);
  got.forEach((s, i) => {
    const w = want[i]!;
    assert.deepEqual(s.token_ids, w.tokens, `${label}: sequence ${i}`);
    assert.equal(s.finish_reason, w.reason, `${label}: finish reason of ${i}`);
    assert.ok(Math.abs(s.score! - w.score) < 1e-5, `${label}: score of ${i}: ${s.score} vs ${w.score}`);
    assert.ok(Math.abs(s.sum_logprobs! - w.sum) < 1e-5, `${label}: sum of log-probs of ${i}: ${s.sum_logprobs} vs ${w.sum}`);
  });
}

interface Case { name: string; path: () => string; prompt: string; eos: number; eosBias: number; skip: () => { skip: string | false } }
const CASES: Case[] = [
  // The EOS biases make EOS win inside some beams and not others at these lengths (found by trying).
  { name: 'stories260K', path: () => sharedModel(STORIES)!, prompt: 'Once upon a time', eos: 2, eosBias: 20, skip: () => needsShared(STORIES) },
  { name: 'the GPT-2 fixture', path: () => fixture('gguf', SMALL.gpt2), prompt: 'The cat', eos: 287, eosBias: 14, skip: () => ({ skip: false }) },
  { name: 'the Llama fixture', path: () => fixture('gguf', SMALL.llama), prompt: 'The cat', eos: 2, eosBias: 2, skip: () => ({ skip: false }) },
];

for (const c of CASES) {
  describe(`beam search on ${c.name}`, () => {
    let loaded: Model | undefined;
    const model = () => (loaded ??= loadModel(c.path()));
    const ids = () => model().tokenizer.encode(c.prompt);

    test('B = 1, 2, 4, 8 with length penalties 0, 1 and 2, with and without EOS inside the beams: the same sequences and scores as the reference', c.skip(), () => {
      const m = model();
      const reasons = new Set<string>();
      for (const bias of [0, c.eosBias]) {
        for (const B of [1, 2, 4, 8]) {
          for (const lp of [0, 1, 2]) {
            const settings: SettingsInput = { num_beams: B, num_return_sequences: B, length_penalty: lp, max_tokens: 12, logit_bias: bias ? [{ token_id: c.eos, bias }] : [] };
            const run = beams(m, c.prompt, settings);
            const want = referenceBeams(m, ids(), { beams: B, lengthPenalty: lp, earlyStopping: false, maxNew: 12, bias: new Map(bias ? [[c.eos, bias]] : []) });
            assertSameHypotheses(run.samples, want, `bias ${bias}, B ${B}, length_penalty ${lp}`);
            for (const s of run.samples) reasons.add(s.finish_reason);
          }
        }
      }
      // The cases exercise both ends: hypotheses ended by EOS and by the length limit.
      assert.deepEqual([...reasons].sort(), ['eos', 'max_tokens']);
    });

    test('one beam is greedy decoding, with and without an EOS', c.skip(), () => {
      const m = model();
      for (const bias of [0, c.eosBias]) {
        const logit_bias = bias ? [{ token_id: c.eos, bias }] : [];
        const greedy = generate(m, c.prompt, { temperature: 0, max_tokens: 16, logit_bias }).samples[0]!;
        const one = beams(m, c.prompt, { num_beams: 1, max_tokens: 16, logit_bias }).samples[0]!;
        assert.deepEqual(one.token_ids, greedy.token_ids, `bias ${bias}`);
        assert.equal(one.finish_reason, greedy.finish_reason);
        assert.equal(one.text, greedy.text);
      }
    });

  });
}

describe('beam search: early stopping', () => {
  // Settings where early_stopping changes the result (found by trying), so each rule is seen to act.
  const cases = [
    { spec: SMALL.llama, eos: 2, bias: 2, beams: 2, lp: 2, differ: [true, 'never'] },
    { spec: SMALL.llama, eos: 2, bias: 2, beams: 4, lp: 1, differ: ['never'] },
    { spec: SMALL.gpt2, eos: 287, bias: 15, beams: 4, lp: 1, differ: [true] },
  ] as const;
  test('true (stop once num_beams hypotheses finished) and "never" (judge running beams at the longest length) as Hugging Face does', () => {
    for (const c of cases) {
      const m = loadModel(fixture('gguf', c.spec));
      const ids = m.tokenizer.encode('The cat');
      const results = new Map<boolean | 'never', number[][]>();
      for (const es of [false, true, 'never'] as const) {
        const settings: SettingsInput = { num_beams: c.beams, num_return_sequences: c.beams, length_penalty: c.lp, early_stopping: es, max_tokens: 10, logit_bias: [{ token_id: c.eos, bias: c.bias }] };
        const run = beams(m, 'The cat', settings);
        assertSameHypotheses(run.samples, referenceBeams(m, ids, { beams: c.beams, lengthPenalty: c.lp, earlyStopping: es, maxNew: 10, bias: new Map([[c.eos, c.bias]]) }), `${c.spec.arch} B ${c.beams} length_penalty ${c.lp} early_stopping ${es}`);
        results.set(es, run.samples.map((x) => x.token_ids));
      }
      for (const es of c.differ) assert.notDeepEqual(results.get(es), results.get(false), `early_stopping ${es} changes ${c.spec.arch} B ${c.beams}`);
    }
  });
});

describe('beam search and max_batch_size', () => {
  test('scores are bit-identical for max_batch_size 1 and 64 (the beams are one batch whatever it is)', () => {
    const m = loadModel(fixture('gguf', SMALL.llama));
    const strip = (r: Run) => r.samples.map(({ token_ids, score, sum_logprobs, finish_reason, text }) => ({ token_ids, score, sum_logprobs, finish_reason, text }));
    const settings = { num_beams: 8, num_return_sequences: 8, max_tokens: 16, logit_bias: [{ token_id: 2, bias: 1 }] };
    const a = generate(m, 'The cat', { ...settings, max_batch_size: 1 });
    const b = generate(m, 'The cat', { ...settings, max_batch_size: 64 });
    assert.deepEqual(strip(a), strip(b));
    assert.equal(a.samples.length, 8);
  });
});

describe('beam search on stories260K: processors, stop strings, batches, trace', () => {
  let loaded: Model | undefined;
  const model = () => (loaded ??= loadModel(sharedModel(STORIES)!));
  const PROMPT = 'Once upon a time';

  test('no_repeat_ngram runs inside every beam, and a stop string ends a beam', needsShared(STORIES), () => {
    const m = model(), ids = m.tokenizer.encode(PROMPT);
    const run = beams(m, PROMPT, { num_beams: 4, num_return_sequences: 4, no_repeat_ngram_size: 2, max_tokens: 40 });
    assertSameHypotheses(run.samples, referenceBeams(m, ids, { beams: 4, lengthPenalty: 1, earlyStopping: false, maxNew: 40, ngram: 2 }), 'no_repeat_ngram 2');
    // The ban changed the search: without it the best beam goes back to " the park".
    const free = beams(m, PROMPT, { num_beams: 4, max_tokens: 40 }).samples[0]!;
    assert.equal(free.text.split(' the park').length, 3);
    assert.equal(run.samples[0]!.text.split(' the park').length, 2);
    const stopped = beams(m, PROMPT, { num_beams: 4, num_return_sequences: 4, stop: ['Lily'], max_tokens: 16 });
    assertSameHypotheses(stopped.samples, referenceBeams(m, ids, { beams: 4, lengthPenalty: 1, earlyStopping: false, maxNew: 16, stop: ['Lily'] }), 'stop Lily');
    const lily = stopped.samples.filter((s) => s.finish_reason === 'stop_sequence');
    assert.ok(lily.length > 0);
    for (const s of lily) {
      assert.equal(s.stop_sequence, 'Lily');
      assert.ok(!s.text.includes('Lily') && m.tokenizer.decode(s.token_ids).includes('Lily'), s.text);
    }
  });

  test('generate() runs beam search for num_beams > 1 and reports it as a normal run', needsShared(STORIES), () => {
    const m = model();
    const samples: Sample[] = [];
    const run = generate(m, PROMPT, { num_beams: 4, num_return_sequences: 2, max_tokens: 8, top_logprobs: 2 }, { onSample: (s) => samples.push(s), tokenStats: true });
    const direct = beams(m, PROMPT, { num_beams: 4, num_return_sequences: 2, max_tokens: 8, top_logprobs: 2 });
    assert.deepEqual(run.samples.map((s) => [s.token_ids, s.score, s.logprobs]), direct.samples.map((s) => [s.token_ids, s.score, s.logprobs]));
    assert.deepEqual(samples.map((s) => s.index), [0, 1]);
    assert.ok(run.samples[0]!.score! >= run.samples[1]!.score!);
    assert.deepEqual(run.usage, { prompt_tokens: 5, completion_tokens: 16, total_tokens: 21 });
    assert.equal(run.settings.num_beams, 4);
    assert.equal(run.settings.sources.num_beams, 'flag');
    for (const s of run.samples) {
      assert.deepEqual(s.logprobs!.map((l) => l.token_id), s.token_ids);
      // No processor ran, so the beam's sum is the sum of the model's own log-probs of its tokens.
      const total = s.token_logprobs!.reduce((x, y) => x + y, 0);
      assert.ok(Math.abs(total - s.sum_logprobs!) < 1e-4, `${total} vs ${s.sum_logprobs}`);
      assert.deepEqual(s.token_sampled_entropy_bits, s.token_ids.map(() => 0));
    }
  });

  test('--trace: every beam is its parent plus one token, and the best sequence can be followed back', needsShared(STORIES), () => {
    const m = model();
    const run = generate(m, PROMPT, { num_beams: 4, max_tokens: 12, trace: 1, logit_bias: [{ token_id: 2, bias: 20 }] });
    const trace = run.beam_trace!;
    trace.forEach((st, k) => {
      assert.equal(st.step, k);
      for (const b of [...st.beams, ...st.finished]) {
        const before = k === 0 ? 0 : trace[k - 1]!.beams[b.parent]!.sum_logprobs;
        assert.ok(Math.abs(before + b.logprob - b.sum_logprobs) < 1e-9);
      }
    });
    const best = run.samples[0]!;
    const n = best.token_ids.length;
    const end = trace[n - 1]!.finished.find((f) => f.score === best.score)!;
    assert.equal(end.token_id, best.token_ids[n - 1]);
    let parent = end.parent;
    for (let k = n - 2; k >= 0; k--) {
      const b = trace[k]!.beams[parent]!;
      assert.equal(b.token_id, best.token_ids[k], `step ${k}`);
      parent = b.parent;
    }
  });

  test('a full context ends the beams where it ends a greedy sample', needsShared(STORIES), () => {
    const m = loadModel(sharedModel(STORIES)!, { context: 24 });
    const prompt = 'Once upon a time, there was a little girl named Lily. She';
    const greedy = generate(m, prompt, { temperature: 0, max_tokens: 30 }).samples[0]!;
    const one = beams(m, prompt, { num_beams: 1, max_tokens: 30 }).samples[0]!;
    assert.equal(greedy.finish_reason, 'context_full');
    assert.deepEqual(one.token_ids, greedy.token_ids);
    assert.equal(one.finish_reason, 'context_full');
    const four = beams(m, prompt, { num_beams: 4, num_return_sequences: 4, max_tokens: 30 });
    assertSameHypotheses(four.samples, referenceBeams(m, m.tokenizer.encode(prompt), { beams: 4, lengthPenalty: 1, earlyStopping: false, maxNew: 30 }), 'context 24');
  });

  test('interventions apply to every beam, and compareClean runs the same search without them', needsShared(STORIES), () => {
    const m = model();
    const settings = { num_beams: 4, max_tokens: 10 };
    const run = generate(m, PROMPT, { ...settings, ablate: ['0.*', '1.*'] }, { compareClean: true });
    const clean = generate(m, PROMPT, settings);
    assert.deepEqual(run.clean!.samples.map((s) => s.token_ids), clean.samples.map((s) => s.token_ids));
    assert.notDeepEqual(run.samples[0]!.token_ids, clean.samples[0]!.token_ids);
  });

  test('what cannot apply is refused: indices, and the shared scheduler (servers, sweeps, llama.cpp)', needsShared(STORIES), () => {
    const m = model();
    assert.throws(() => generate(m, PROMPT, { num_beams: 4, num_return_sequences: 2 }, { indices: [1] }),
      userError('indices [1] cannot be run alone: beam search returns its 2 best sequences together (indices [0,1]), not independent samples', 'indices'));
    assert.throws(() => new Generation(m, PROMPT, { num_beams: 4 }),
      userError('num_beams (beam search) runs through generate() (wander generate), not through the shared scheduler that decodes samples for servers and sweeps', 'num_beams'));
    const other = { tokenizer: m.tokenizer, config: m.config, generationDefaults: {} };
    assert.throws(() => new Generation(other, PROMPT, { penalty_alpha: 0.5, top_k: 4 }),
      userError('penalty_alpha (contrastive search) needs Wander\'s own engine, which can copy KV caches between sequences; this backend cannot (run the model with --model FILE instead)', 'penalty_alpha'));
    // A bad prompt is refused as it is for sampling.
    assert.throws(() => generate(m, [9999], { num_beams: 2 }), userError('--prompt: token id 9999 is outside the vocabulary (0..511)', 'prompt'));
  });
});
