import type { FleetLive } from '@energy-pipeline/client';
import { useState } from 'preact/hooks';
import { formatAgo as ago, formatWattHours as wattHours, formatWatts as watts } from '@energy-pipeline/client';
import { useSubscription } from './live.js';

/** Every site with its power now, energy today and quiet devices. */
export function FleetPage({ onAuth }: { onAuth: (status: number) => void }) {
  const [fleet, setFleet] = useState<FleetLive | null>(null);
  const error = useSubscription((w, signal) => w.fleet({ signal }), setFleet, onAuth, []);
  if (!fleet) return <p class="muted">{error ? error.message : 'Loading sites…'}</p>;
  if (fleet.sites.length === 0) return <p class="muted">No sites yet: send a reading and it appears here.</p>;
  const total = fleet.sites.reduce((sum, s) => sum + s.power_w, 0);
  return (
    <section>
      <h1>
        Fleet <span class="muted">{fleet.sites.length} sites · {watts(total)} now</span>
      </h1>
      <table class="sites" data-testid="fleet">
        <thead>
          <tr>
            <th>site</th>
            <th class="num">power now</th>
            <th class="num">energy today</th>
            <th class="num">devices</th>
            <th>quiet</th>
            <th>last reading</th>
          </tr>
        </thead>
        <tbody>
          {fleet.sites.map((s) => (
            <tr key={s.site_id}>
              <td>
                <a href={`#/site/${encodeURIComponent(s.site_id)}`}>{s.site_id}</a>
              </td>
              <td class="num">{watts(s.power_w)}</td>
              <td class="num">{wattHours(s.energy_today_wh)}</td>
              <td class="num">{s.devices}</td>
              <td class={s.quiet.length ? 'warn' : 'muted'}>{s.quiet.length ? s.quiet.join(', ') : 'none'}</td>
              <td class="muted">{ago(s.last_seen)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {fleet.more ? <p class="muted">More sites exist than are shown here.</p> : null}
    </section>
  );
}
