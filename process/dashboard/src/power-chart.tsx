import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { formatWatts as watts } from '@energy-pipeline/client';

/** Most points kept: about 15 minutes of a few devices reporting every second. */
const MAX_POINTS = 3_000;
const WINDOW_S = 15 * 60;
const COLORS = ['#2f7ed8', '#e4572e', '#17a398', '#f3a712', '#8e44ad', '#29335c', '#a8c686', '#db5461'];

/**
 * The power of each device and of the site over time, as steps: at every reading, each device
 * keeps its latest power until its next one, and the site is their sum. Fed in place (append),
 * so a busy site does not re-render the page.
 */
export class PowerSeries {
  readonly devices: string[] = [];
  private readonly latest = new Map<string, number>();
  xs: number[] = [];
  site: number[] = [];
  perDevice = new Map<string, (number | null)[]>();
  version = 0;

  add(deviceId: string, powerW: number, atMs: number) {
    if (!this.perDevice.has(deviceId)) {
      this.devices.push(deviceId);
      this.perDevice.set(deviceId, this.xs.map(() => null));
    }
    this.latest.set(deviceId, powerW);
    const x = Math.max(atMs / 1000, this.xs[this.xs.length - 1] ?? 0);
    this.xs.push(x);
    let sum = 0;
    for (const id of this.devices) {
      const v = this.latest.get(id) ?? null;
      this.perDevice.get(id)!.push(v);
      sum += v ?? 0;
    }
    this.site.push(sum);
    const cut = Math.max(this.xs.length - MAX_POINTS, this.xs.findIndex((t) => t >= x - WINDOW_S));
    if (cut > 0) {
      this.xs = this.xs.slice(cut);
      this.site = this.site.slice(cut);
      for (const [id, ys] of this.perDevice) this.perDevice.set(id, ys.slice(cut));
    }
    this.version += 1;
  }

  data(): uPlot.AlignedData {
    return [this.xs, this.site, ...this.devices.map((id) => this.perDevice.get(id)!)];
  }
}

export function PowerChart({ series, version }: { series: PowerSeries; version: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = useRef('');

  useEffect(() => {
    const el = box.current!;
    const key = series.devices.join('\u0000');
    if (!plot.current || shape.current !== key) {
      plot.current?.destroy();
      shape.current = key;
      plot.current = new uPlot(
        {
          width: el.clientWidth || 600,
          height: 260,
          legend: { live: false },
          scales: { x: { time: true } },
          axes: [{}, { values: (_u, ticks) => ticks.map((t) => watts(t)), size: 70 }],
          series: [
            {},
            { label: 'site', stroke: '#111', width: 2.5, paths: uPlot.paths.stepped!({ align: 1 }) },
            ...series.devices.map((id, i) => ({
              label: id,
              stroke: COLORS[i % COLORS.length],
              width: 1.25,
              spanGaps: true,
              paths: uPlot.paths.stepped!({ align: 1 }),
            })),
          ],
        },
        series.data(),
        el,
      );
    } else {
      plot.current.setData(series.data());
    }
    el.dataset.points = String(series.xs.length);
  }, [version]);

  useEffect(() => {
    const el = box.current!;
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: el.clientWidth, height: 260 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);

  return <div class="chart" ref={box} data-testid="power-chart" />;
}
