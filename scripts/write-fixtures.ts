// `npm run fixtures`: writes the test models (tiny random-weight GPT-2, Llama, Qwen2, Qwen3) in every
// supported GGUF tensor type and as Hugging Face folders, into build/fixtures/, and lists them.
import { DType } from '../src/formats/tensor-types.js';
import { fixture, SMALL, WIDE } from '../test/fixtures/models.js';

const paths: string[] = [];
for (const spec of Object.values(SMALL)) {
  for (const dt of [DType.F32, DType.F16, DType.BF16, DType.Q8_0, DType.Q4_0]) paths.push(fixture('gguf', spec, dt));
  paths.push(fixture('hf', spec), fixture('hf', spec, DType.F32, { dtype: 'BF16', shards: 2 }));
}
for (const spec of Object.values(WIDE)) for (const dt of [DType.Q4_K, DType.Q6_K]) paths.push(fixture('gguf', spec, dt));
console.log(paths.join('\n'));
