import { useEffect, useRef } from 'preact/hooks';

/** An Observable Plot figure, redrawn when its data changes. */
export function Chart({ plot, label }: { plot: () => SVGSVGElement | HTMLElement; label: string }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = plot();
    ref.current?.replaceChildren(el);
    return () => el.remove();
  });
  return <figure class="chart" aria-label={label} ref={ref} />;
}
