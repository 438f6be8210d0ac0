import { useEffect, useState } from 'preact/hooks';
import { getJson } from './live.js';

interface DeadLetter {
  id: string;
  reason: string;
  detail: string;
  failed_at: string;
  fields: Record<string, string>;
}

/** The dead letters, oldest first, from GET /dead-letters (replay and delete stay with the CLI and API). */
export function DeadLettersPage({ onAuth }: { onAuth: (status: number) => void }) {
  const [items, setItems] = useState<DeadLetter[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    getJson<{ items: DeadLetter[] }>('/dead-letters?limit=200')
      .then((page) => setItems(page.items))
      .catch((err: Error & { status?: number }) => {
        if (err.status === 401) onAuth(401);
        setError(err.message);
      });
  }, []);
  return (
    <section>
      <h1>Dead letters</h1>
      <p class="muted">
        Readings that could not be applied. Replay or delete them with <code>energy-pipeline</code> or the <a href="/docs">API</a>.
      </p>
      {error ? <p class="warn">{error}</p> : null}
      {items && items.length === 0 ? <p class="muted">None.</p> : null}
      {items && items.length > 0 ? (
        <table data-testid="dead-letter-list">
          <thead>
            <tr>
              <th>failed</th>
              <th>reason</th>
              <th>site / device</th>
              <th>detail</th>
            </tr>
          </thead>
          <tbody>
            {items.map((d) => (
              <tr key={d.id}>
                <td class="muted">{d.failed_at.replace('T', ' ').slice(0, 19)}</td>
                <td>{d.reason}</td>
                <td>
                  {d.fields.site_id ?? '?'} / {d.fields.device_id ?? '?'}
                </td>
                <td class="detail">{d.detail}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
