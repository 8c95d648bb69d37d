import { render } from 'preact';
import { wasmSimdAvailable } from './kernels';
import { Compare } from './compare';
import { Diversity } from './diversity';
import { Explorer } from './explorer';
import { Inside } from './inside';
import { Sweeps } from './sweeps';

/** The lab's pages, by path; each keeps its state in the query string, so a view can be shared. */
const PAGES = [
  { path: '/explorer', title: 'Explorer', Page: Explorer },
  { path: '/compare', title: 'Compare', Page: Compare },
  { path: '/diversity', title: 'Diversity', Page: Diversity },
  { path: '/inside', title: 'Inside', Page: Inside },
  { path: '/sweeps', title: 'Sweeps', Page: Sweeps },
];

function App() {
  const path = location.pathname === '/' ? '/explorer' : location.pathname;
  const page = PAGES.find((p) => p.path === path);
  return (
    <>
      <header>
        <a class="brand" href="/">Wander lab</a>
        <nav aria-label="pages">
          {PAGES.map((p) => <a href={p.path} aria-current={p === page ? 'page' : undefined}>{p.title}</a>)}
        </nav>
      </header>
      <main>{page ? <page.Page /> : <p class="error" role="alert">No page {path} here: try the <a href="/explorer">Explorer</a>.</p>}</main>
      <footer>
        Sampling runs in this page with Wander's own chain ({wasmSimdAvailable() ? 'WebAssembly SIMD kernels' : 'plain loops: this page is not cross-origin isolated, so exp() may round differently from the CLI'}).
      </footer>
    </>
  );
}

export function mount(root: HTMLElement): void {
  root.textContent = '';
  render(<App />, root);
}
