import './style.css';
import { initKernels } from './kernels';

// The sampling code compiles Wander's WebAssembly kernels when it loads, so they are fetched first.
await initKernels();
const { mount } = await import('./app');
mount(document.getElementById('app')!);
