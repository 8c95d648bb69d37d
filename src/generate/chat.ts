import { Template } from '@huggingface/jinja';
import { UserError } from '../errors.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';

/**
 * Wraps a user message in the model's own chat template (with the assistant turn opened), as the
 * model was trained to see it. The template's leading BOS text is dropped when the tokenizer adds
 * BOS itself, so the prompt never starts with two.
 */
export interface ChatMessage { role: string; content: string }

/** A conversation to continue: the messages, to go through the model's chat template. */
export interface ChatPrompt { messages: readonly ChatMessage[] }

/** A model whose chat template Wander applies: its own engine's, or a GGUF file llama.cpp runs. */
export interface ChatModel { readonly path: string; readonly tokenizer: Tokenizer; readonly chatTemplate?: string | undefined }

export function chatPrompt(model: ChatModel, message: string | readonly ChatMessage[]): string {
  const source = model.chatTemplate;
  if (!source) throw new UserError(`${model.path}: this model has no chat template (tokenizer.chat_template / chat_template); run the prompt without chat`, 'chat');
  const tok = model.tokenizer;
  const bos = tok.bosId !== undefined ? tok.tokenText(tok.bosId) : '';
  const eos = tok.eosIds.length ? tok.tokenText(tok.eosIds[0]!) : '';
  let text: string;
  try {
    text = new Template(source).render({
      messages: typeof message === 'string' ? [{ role: 'user', content: message }] : message, add_generation_prompt: true, bos_token: bos, eos_token: eos,
    });
  } catch (e) {
    throw new UserError(`${model.path}: the model's chat template failed: ${(e as Error).message}`, 'chat');
  }
  return tok.addBos && bos && text.startsWith(bos) ? text.slice(bos.length) : text;
}
