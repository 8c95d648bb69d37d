import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { closeHookNames, hookPattern, modelHookNames, selectHooks } from '../../src/interp/hook-select.js';
import type { ModelConfig } from '../../src/model/config.js';
import { userError } from '../helpers.js';

const llama = { family: 'llama', nLayer: 5 } as ModelConfig;
const gpt2 = { family: 'gpt2', nLayer: 2 } as ModelConfig;

describe('hook names and glob patterns', () => {
  test('GPT-2 has no rotary hooks; the Llama family has all of them', () => {
    assert.equal(modelHookNames(llama).length, 1 + 5 * 13 + 2);
    assert.equal(modelHookNames(gpt2).length, 1 + 2 * 11 + 2);
    assert.ok(!modelHookNames(gpt2).some((n) => n.includes('rot')));
  });

  test('* matches within one dot-separated segment, ? one character; the rest is literal', () => {
    assert.ok(hookPattern('blocks.*.hook_resid_post').test('blocks.12.hook_resid_post'));
    assert.ok(!hookPattern('blocks.*').test('blocks.1.hook_resid_post'));
    assert.ok(hookPattern('blocks.?.attn.*').test('blocks.3.attn.hook_z'));
    assert.ok(!hookPattern('blocks.?.attn.*').test('blocks.13.attn.hook_z'));
    assert.ok(!hookPattern('hook_embed').test('hook_embedXX'));
    assert.ok(!hookPattern('blocks.1.hook_resid_pre').test('blocks11hook_resid_pre'), 'dots are literal');
  });

  test('selection keeps forward order, each name once, whatever the order of the patterns', () => {
    assert.deepEqual(selectHooks(gpt2, ['ln_final.*', 'blocks.*.hook_resid_post', 'blocks.1.hook_resid_post']), ['blocks.0.hook_resid_post', 'blocks.1.hook_resid_post', 'ln_final.hook_normalized']);
    assert.deepEqual(selectHooks(llama, ['blocks.2.attn.hook_rot_?']), ['blocks.2.attn.hook_rot_q', 'blocks.2.attn.hook_rot_k']);
  });

  test('a pattern that matches nothing names itself and what is close', () => {
    assert.throws(() => selectHooks(llama, ['blocks.*.hook_resid_post', 'blocks.7.hook_resid_post']),
      userError('--hooks "blocks.7.hook_resid_post" matches no hook point of this model (5 layers, llama family); close: blocks.0.hook_resid_post, blocks.1.hook_resid_post, blocks.2.hook_resid_post, blocks.3.hook_resid_post, blocks.4.hook_resid_post', 'hooks'));
    assert.throws(() => selectHooks(gpt2, ['blocks.0.attn.hook_rot_q']), userError('--hooks "blocks.0.attn.hook_rot_q" matches no hook point of this model (2 layers, gpt2 family) (GPT-2 has no rotary embedding, so no hook_rot_q/hook_rot_k); close: blocks.0.attn.hook_q', 'hooks'));
    assert.throws(() => selectHooks(gpt2, ['nonsense']), userError('--hooks "nonsense" matches no hook point of this model (2 layers, gpt2 family)', 'hooks'));
  });

  test('suggestions keep the pattern\'s wildcards and complete partial names', () => {
    const names = modelHookNames(llama);
    assert.deepEqual(closeHookNames(names, 'blocks.*.hook_resid'), ['blocks.*.hook_resid_pre', 'blocks.*.hook_resid_mid']);
    assert.deepEqual(closeHookNames(names, 'hook_resid_post'), ['blocks.*.hook_resid_post']);
    assert.deepEqual(closeHookNames(names, 'blocks.2.attn'), ['blocks.2.attn.*']);
    assert.deepEqual(closeHookNames(names, 'blocks.*.attn.hook_patern'), ['blocks.*.attn.hook_pattern']);
    assert.deepEqual(closeHookNames(names, 'blocks.0.hook_embed'), ['hook_embed']);
  });
});
