import type { SiteEvent, SiteLive } from '@energy-pipeline/client';
import { useRef, useState } from 'preact/hooks';
import { EnergyBars } from './energy-bars.js';
import { formatAgo as ago, formatSeconds as interval, formatWattHours as wattHours, formatWatts as watts } from '@energy-pipeline/client';
import { useSubscription } from './live.js';
import { PowerChart, PowerSeries } from './power-chart.js';

/** One site live: power now, a power chart per device and for the site, energy bars, the devices. */
export function SitePage({ siteId, onAuth }: { siteId: string; onAuth: (status: number) => void }) {
  const [site, setSite] = useState<SiteLive | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  const series = useRef(new PowerSeries());
  const error = useSubscription(
    (w, signal) => w.site(siteId, { signal }),
    ({ data }: { data: SiteEvent }) => {
      if (data.type === 'snapshot') {
        if (series.current.xs.length === 0) {
          for (const d of data.site.devices) if (d.power_w !== null && d.timestamp) series.current.add(d.device_id, d.power_w, Date.parse(d.timestamp));
          setVersion(series.current.version);
        }
        setSite(data.site);
      } else if (data.type === 'readings') {
        for (const r of data.readings) series.current.add(r.device_id, r.power_w, Date.parse(r.timestamp));
        setVersion(series.current.version);
        // Power now moves with every reading, ahead of the next snapshot.
        setSite((s) => (s ? withReadings(s, data.readings) : s));
      } else {
        setNotice(data.notice.message);
      }
    },
    onAuth,
    [siteId],
  );
  if (!site) return <p class="muted">{error ? error.message : `Connecting to ${siteId}…`}</p>;
  return (
    <section>
      <p>
        <a href="#/">← fleet</a>
      </p>
      <h1>
        {site.site_id} <span class="muted">{site.time_zone}</span>
      </h1>
      {notice ? <p class="warn">{notice}</p> : null}
      {error ? <p class="warn">{error.message}</p> : null}
      <div class="figures">
        <div class="figure">
          <span class="label">power now</span>
          <strong data-testid="site-power">{watts(site.power_w)}</strong>
        </div>
        <div class="figure">
          <span class="label">this minute</span>
          <strong>{wattHours(site.energy.minute.energy_wh)}</strong>
        </div>
        <div class="figure">
          <span class="label">this hour</span>
          <strong>{wattHours(site.energy.hour.energy_wh)}</strong>
        </div>
        <div class="figure">
          <span class="label">today ({site.energy.day.period})</span>
          <strong data-testid="energy-today">{wattHours(site.energy.day.energy_wh)}</strong>
        </div>
        <div class="figure">
          <span class="label">quiet devices</span>
          <strong class={site.quiet.length ? 'warn' : ''}>{site.quiet.length}</strong>
        </div>
      </div>
      <PowerChart series={series.current} version={version} />
      <div class="bars-grid">
        <EnergyBars siteId={siteId} bucket="minute" current={site.energy.minute} />
        <EnergyBars siteId={siteId} bucket="hour" current={site.energy.hour} />
        <EnergyBars siteId={siteId} bucket="day" current={site.energy.day} />
      </div>
      <table class="devices" data-testid="devices">
        <thead>
          <tr>
            <th>device</th>
            <th class="num">power now</th>
            <th>last reading</th>
            <th class="num">usual interval</th>
            <th>state</th>
          </tr>
        </thead>
        <tbody>
          {site.devices.map((d) => (
            <tr key={d.device_id} class={d.quiet ? 'quiet' : ''}>
              <td>{d.device_id}</td>
              <td class="num">{watts(d.power_w)}</td>
              <td class="muted">{ago(d.last_seen)}</td>
              <td class="num">{interval(d.interval_s)}</td>
              <td>{d.quiet ? <span class="warn">quiet</span> : 'reporting'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** The figures with newer readings applied: each device's latest (by measurement time) and the sum. */
function withReadings(site: SiteLive, readings: { device_id: string; power_w: number; timestamp: string }[]): SiteLive {
  const devices = site.devices.map((d) => ({ ...d }));
  for (const r of readings) {
    let d = devices.find((x) => x.device_id === r.device_id);
    if (!d) {
      d = { device_id: r.device_id, power_w: null, timestamp: null, last_seen: null, interval_s: null, quiet: false };
      devices.push(d);
      devices.sort((a, b) => (a.device_id < b.device_id ? -1 : 1));
    }
    if (!d.timestamp || Date.parse(r.timestamp) >= Date.parse(d.timestamp)) {
      d.power_w = r.power_w;
      d.timestamp = r.timestamp;
    }
    d.last_seen = new Date().toISOString();
    d.quiet = false;
  }
  const power_w = devices.reduce((sum, d) => sum + (d.quiet || d.power_w === null ? 0 : d.power_w), 0);
  return { ...site, devices, power_w, quiet: devices.filter((d) => d.quiet).map((d) => d.device_id) };
}
