import type { LlamaCppModel } from '../backends/llama-cpp.js';
import { requireCapability } from '../backends/capabilities.js';
import { chatPrompt, type ChatMessage } from '../generate/chat.js';
import { COMMANDS, nextRequest, TOKENIZER_COMMANDS } from './commands.js';
import type { EngineEvent, EngineRequest } from './engine.js';
import { HttpError } from './errors.js';

type GenerateRequest = Extract<EngineRequest, { op: 'generate' }>;

/**
 * The worker's engine for a model llama.cpp runs (`wander serve --model llama.cpp:FILE.gguf`). There is
 * no Wander scheduler here: each request is one `LlamaCppModel.generate` (its samples decoded as
 * parallel llama.cpp sequences, Wander's chain choosing every token), up to `maxBatch` requests at once
 * and the rest waiting in turn. llama.cpp's native calls leave this thread free between steps, so a
 * cancel stops a request at its next step. Commands that need only the tokenizer, and `next`, run;
 * those that need hook points are refused with the capability they lack.
 */
export class LlamaCppServing {
  private readonly running = new Map<number, AbortController>();
  private readonly waiting: GenerateRequest[] = [];
  private generated = 0;
  private reported = { batch: 0, generated: 0 };

  constructor(readonly model: LlamaCppModel, private readonly maxBatch: number, private readonly post: (e: EngineEvent) => void, private readonly wireError: (e: unknown) => unknown) {}

  submit(m: GenerateRequest): void {
    this.waiting.push(m);
    this.pump();
  }

  cancel(id: number): void {
    const i = this.waiting.findIndex((m) => m.id === id);
    if (i >= 0) this.waiting.splice(i, 1);
    this.running.get(id)?.abort();
  }

  async call(m: Extract<EngineRequest, { op: 'call' }>): Promise<void> {
    this.post({ op: 'started', id: m.id });
    try {
      let result: unknown;
      if (m.command === 'next') {
        const { prompt, settings, opts } = nextRequest(m.body);
        result = await this.model.next(prompt, settings, opts);
      } else if (TOKENIZER_COMMANDS[m.command]) {
        result = TOKENIZER_COMMANDS[m.command]!(this.model, m.body);
      } else if (COMMANDS[m.command]) {
        requireCapability(m.command, this.model.info, 'internals');
      } else {
        throw new HttpError(404, `no command ${m.command}`);
      }
      this.post({ op: 'done', id: m.id, result });
    } catch (e) {
      this.post({ op: 'error', id: m.id, error: this.wireError(e) as never });
    }
  }

  private pump(): void {
    while (this.running.size < this.maxBatch && this.waiting.length > 0) this.start(this.waiting.shift()!);
    this.stats();
  }

  private start(m: GenerateRequest): void {
    const controller = new AbortController();
    this.running.set(m.id, controller);
    const post = this.post;
    void (async () => {
      try {
        const prompt = typeof m.prompt === 'object' && !Array.isArray(m.prompt) ? chatPrompt(this.model, m.prompt.messages as ChatMessage[]) : m.prompt;
        post({ op: 'started', id: m.id, prompt: typeof prompt === 'string' ? prompt : this.model.tokenizer.decode(prompt) });
        // Tokens are counted as their text arrives, and made exact when each sample ends.
        const counted = new Map<number, number>();
        const run = await this.model.generate(prompt, m.settings, {
          tokenStats: m.tokenStats ?? false, signal: controller.signal,
          onText: (delta, index) => {
            counted.set(index, (counted.get(index) ?? 0) + 1);
            this.generated++;
            if (m.stream) post({ op: 'text', id: m.id, index, delta });
            this.stats();
          },
          onSample: (sample) => {
            this.generated += sample.token_ids.length - (counted.get(sample.index) ?? 0);
            if (m.stream) post({ op: 'sample', id: m.id, sample });
            this.stats();
          },
        });
        post({ op: 'done', id: m.id, result: run });
      } catch (e) {
        if (!controller.signal.aborted) post({ op: 'error', id: m.id, error: this.wireError(e) as never });
      } finally {
        this.running.delete(m.id);
        this.pump();
      }
    })();
  }

  private stats(): void {
    const now = { batch: this.running.size, generated: this.generated };
    if (now.batch !== this.reported.batch || now.generated !== this.reported.generated) this.post({ op: 'stats', ...(this.reported = now) });
  }
}
