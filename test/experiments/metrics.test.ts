import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  cellMetrics, countOccurrences, degenerateLoop, distinctN, distinctOutputs, editDistance, entropyByPosition, firstDivergence, meanPairwiseEditDistance,
  normalizeOutput, repetitionRate, selfBleu, stringCounts, tokenStatsSummary, words, zipfCoefficient,
} from '../../src/experiments/metrics/index.js';

const close = (actual: number | null, expected: number, tol = 1e-12) => {
  assert.ok(actual !== null && Math.abs(actual - expected) <= tol, `expected ${expected} ± ${tol}, got ${actual}`);
};
const split = (s: string) => s.split(' ');

describe('words', () => {
  it('splits words, numbers and punctuation; keeps inner apostrophes', () => {
    assert.deepEqual(words("Hello, world! It's 2024.\nÉcole-bus"), ['Hello', ',', 'world', '!', "It's", '2024', '.', 'École-bus']);
    assert.deepEqual(words('  '), []);
  });
});

describe('distinct outputs', () => {
  it('counts exact and case/whitespace-folded outputs', () => {
    assert.equal(normalizeOutput('  Hello \n  World '), 'hello world');
    assert.deepEqual(distinctOutputs(['A b', 'a  B', 'c', 'A b']), { distinct: 3, distinct_share: 0.75, distinct_normalized: 2, distinct_normalized_share: 0.5 });
    assert.deepEqual(distinctOutputs([]), { distinct: 0, distinct_share: 0, distinct_normalized: 0, distinct_normalized_share: 0 });
  });
});

describe('distinct-n', () => {
  it('pools n-grams over samples', () => {
    const s = [['a', 'b', 'a'], ['a', 'c']];
    assert.equal(distinctN(s, 1), 3 / 5);
    assert.equal(distinctN(s, 2), 1); // ab, ba, ac
    assert.equal(distinctN(s, 3), 1);
    assert.equal(distinctN(s, 4), null);
    assert.equal(distinctN([['x', 'x', 'x', 'x']], 2), 1 / 3);
  });
});

describe('self-BLEU-4', () => {
  it('is 1 for identical samples and null for one sample', () => {
    assert.equal(selfBleu([split('a b c d e'), split('a b c d e')]), 1);
    assert.equal(selfBleu([split('a b c d')]), null);
  });
  it('matches a hand computation with smoothing of a zero 4-gram precision', () => {
    // Each against the other: p1 = 3/4, p2 = 2/3, p3 = 1/2, p4 = 0 → 0.1 / 1; equal lengths, no penalty.
    close(selfBleu([split('a b c d'), split('a b c e')]), Math.pow(0.75 * (2 / 3) * 0.5 * 0.1, 0.25));
  });
  it('clips each n-gram by its largest count in any other sample', () => {
    const A = Math.pow(0.5 * (1 / 3) * (0.1 / 2) * 0.1, 0.25); // x×4 clipped to 2 (B), xx×3 to 1, xxx and xxxx unmatched
    const B = Math.pow(1 * 1 * 0.5 * 0.1, 0.25);
    const C = Math.pow(0.75 * (2 / 3) * 0.5 * 0.1, 0.25);
    close(selfBleu([split('x x x x'), split('x x y z'), split('x y z w')]), (A + B + C) / 3);
  });
  it('applies the brevity penalty against the closest other length', () => {
    const long = Math.pow((4 / 6) * (3 / 5) * (2 / 4) * (1 / 3), 0.25);
    const short = Math.exp(1 - 6 / 4); // every n-gram matches; 4 words against 6
    close(selfBleu([split('a b c d e f'), split('a b c d')]), (long + short) / 2);
  });
});

describe('edit distance', () => {
  it('is Levenshtein over tokens', () => {
    assert.equal(editDistance(split('a b c'), split('a c')), 1);
    assert.equal(editDistance([...'kitten'], [...'sitting']), 3);
    assert.equal(editDistance([], split('a b')), 2);
  });
  it('averages the normalised distance over pairs', () => {
    close(meanPairwiseEditDistance([split('a b'), split('a b'), ['c']]), 2 / 3); // 0, 2/2, 2/2
    assert.equal(meanPairwiseEditDistance([split('a')]), null);
    assert.equal(meanPairwiseEditDistance([[], []]), 0);
  });
});

describe('first divergence', () => {
  it('finds the first position where the samples disagree', () => {
    assert.equal(firstDivergence([[1, 2, 3], [1, 2, 4], [1, 2, 3]]), 2);
    assert.equal(firstDivergence([[1, 2], [1, 2, 3]]), 2);
    assert.equal(firstDivergence([[5], [6]]), 0);
    assert.equal(firstDivergence([[1, 2], [1, 2]]), null);
    assert.equal(firstDivergence([[1]]), null);
  });
});

describe('entropy, logprob, perplexity', () => {
  it('pools over tokens', () => {
    const s = tokenStatsSummary([[1, 2], [3]], [[-1, -2], [-3]], [[0, 1], [0.5]]);
    assert.equal(s.mean_entropy_bits, 2);
    assert.equal(s.mean_sampled_entropy_bits, 0.5);
    assert.equal(s.mean_logprob, -2);
    close(s.perplexity, Math.exp(2));
    assert.deepEqual(tokenStatsSummary([[]], [[]]), { mean_entropy_bits: null, mean_sampled_entropy_bits: null, mean_logprob: null, perplexity: null });
  });
  it('averages entropy per position over the samples that reach it', () => {
    assert.deepEqual(entropyByPosition([[1, 2], [3]]), [2, 2]);
  });
});

describe('repetition', () => {
  it('is the share of 4-grams repeating an earlier one in the same sample', () => {
    assert.equal(repetitionRate([split('a b c d a b c d')]), 1 / 5); // abcd bcda cdab dabc abcd
    assert.equal(repetitionRate([split('a b c d'), split('a b c d')]), 0); // across samples is not repetition
    assert.equal(repetitionRate([split('a b')]), null);
  });
  it('flags the loop of the degeneration paper and nothing else', () => {
    const unam = 'The Universidad Nacional Autónoma de México (UNAM/Universidad Nacional Autónoma de México/Universidad Nacional Autónoma de México/Universidad Nacional Autónoma de México/Universidad Nacional Autónoma de';
    assert.equal(degenerateLoop(words(unam)), 6); // "Universidad Nacional Autónoma de México /"
    assert.equal(degenerateLoop(words('the the the the the the the the')), 1);
    assert.equal(degenerateLoop(words('no no no')), 0); // three turns but too short to call a loop
    assert.equal(degenerateLoop(words('Once upon a time there was a girl who loved to play in the park.')), 0);
  });
});

describe('Zipf coefficient', () => {
  it('recovers the exponent of an exact power law', () => {
    const seq = (counts: number[]) => counts.flatMap((c, id) => Array<number>(c).fill(id));
    close(zipfCoefficient([seq([12, 6, 4, 3])]), 1);
    close(zipfCoefficient([seq([8, 2])]), 2);
    assert.equal(zipfCoefficient([[7, 7, 7]]), null);
  });
});

describe('counted strings', () => {
  it('counts exact, case-sensitive, non-overlapping occurrences', () => {
    assert.equal(countOccurrences('aaa', 'aa'), 1); // the second "aa" would overlap the first
    assert.equal(countOccurrences('aaaa', 'aa'), 2);
    assert.equal(countOccurrences('Caesar, caesar, CAESAR', 'Caesar'), 1);
    assert.equal(countOccurrences('a, b,, c', ','), 3);
    assert.equal(countOccurrences('', ','), 0);
    assert.equal(countOccurrences('the LORD; the LORDS', ' LORD'), 2); // a substring, not a word
    assert.throws(() => countOccurrences('abc', ''), /must not be empty/);
  });
  it('gives the mean per sample and the share of samples with each string', () => {
    const texts = ['Caesar, Caesar, and Cleopatra.', 'Cleopatra', 'Rome, at last', 'aaa'];
    assert.deepEqual(stringCounts(texts, [',', 'Caesar', 'Cleopatra', 'aa', 'Brutus']), {
      ',': { mean: 3 / 4, share: 2 / 4 }, // 2 + 0 + 1 + 0 commas; two samples have one
      Caesar: { mean: 2 / 4, share: 1 / 4 },
      Cleopatra: { mean: 2 / 4, share: 2 / 4 },
      aa: { mean: 1 / 4, share: 1 / 4 },
      Brutus: { mean: 0, share: 0 },
    });
    // Keys are own properties, whatever the string.
    assert.deepEqual(stringCounts(['x __proto__'], ['__proto__'])['__proto__'], { mean: 1, share: 1 });
  });
  it('is null, not zero, for a cell with no samples', () => {
    assert.deepEqual(stringCounts([], [',', 'a']), { ',': { mean: null, share: null }, a: { mean: null, share: null } });
    assert.deepEqual(stringCounts(['a'], []), {});
  });
});

describe('cellMetrics', () => {
  it('combines every metric for one cell', () => {
    const sample = (text: string, ids: number[], finish: string) => ({ text, token_ids: ids, logprobs: ids.map(() => -1), entropies: ids.map(() => 0.5), finish_reason: finish });
    const m = cellMetrics([sample('a b c', [1, 2, 3], 'max_tokens'), sample('a b c', [1, 2, 3], 'max_tokens'), sample('a b', [1, 2, 0], 'eos')]);
    assert.equal(m.samples, 3);
    assert.equal(m.distinct, 2);
    assert.equal(m.first_divergence, 2);
    assert.equal(m.mean_entropy_bits, 0.5);
    assert.equal(m.mean_logprob, -1);
    close(m.perplexity, Math.E);
    assert.equal(m.mean_completion_tokens, 3);
    assert.deepEqual(m.finish_reasons, { eos: 1, max_tokens: 2, stop_sequence: 0, context_full: 0, error: 0 });
    assert.deepEqual(m.entropy_by_position, [0.5, 0.5, 0.5]);
    assert.equal(m.degenerate, 0);
    assert.equal('counts' in m, false, 'no count list, no counts');
    assert.deepEqual(cellMetrics([sample('a, b, c', [1], 'eos'), sample('a b', [1], 'eos')], [',', 'b']).counts, { ',': { mean: 1, share: 0.5 }, b: { mean: 1, share: 1 } });
  });
});
