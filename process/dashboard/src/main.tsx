import './zod-jitless.js';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { DeadLettersPage } from './dead-letters-page.js';
import { FleetPage } from './fleet-page.js';
import { KeyForm } from './key-form.js';
import { apiKey } from './live.js';
import { PipelineBar } from './pipeline-bar.js';
import { SitePage } from './site-page.js';
import './style.css';

type Route = { page: 'fleet' } | { page: 'site'; siteId: string } | { page: 'dead-letters' };

/** Pages are hash routes (#/site/site-001), so the processor serves one index.html for all. */
function route(): Route {
  const [, page, id] = location.hash.replace(/^#\/?/, '/').split('/');
  if (page === 'site' && id) return { page: 'site', siteId: decodeURIComponent(id) };
  if (page === 'dead-letters') return { page: 'dead-letters' };
  return { page: 'fleet' };
}

function App() {
  const [where, setWhere] = useState(route);
  // A refused key (401) asks for one; 403 is shown where it happened.
  const [needKey, setNeedKey] = useState<string | null>(null);
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    const onHash = () => setWhere(route());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  const onAuth = (status: number) => {
    if (status === 401) setNeedKey(apiKey.get() ? 'That API key was refused.' : 'This processor needs an API key with the read scope.');
  };
  if (needKey !== null) {
    return (
      <KeyForm
        message={needKey}
        onKey={(key) => {
          apiKey.set(key);
          setNeedKey(null);
          setGeneration((g) => g + 1);
        }}
      />
    );
  }
  return (
    <div class="app" key={generation}>
      <header>
        <a class="brand" href="#/">energy-pipeline</a>
        <PipelineBar onAuth={onAuth} />
        {apiKey.get() ? (
          <button
            type="button"
            class="link"
            onClick={() => {
              apiKey.clear();
              location.reload();
            }}
          >
            forget key
          </button>
        ) : null}
      </header>
      <main>
        {where.page === 'site' ? <SitePage siteId={where.siteId} onAuth={onAuth} /> : null}
        {where.page === 'fleet' ? <FleetPage onAuth={onAuth} /> : null}
        {where.page === 'dead-letters' ? <DeadLettersPage onAuth={onAuth} /> : null}
      </main>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
