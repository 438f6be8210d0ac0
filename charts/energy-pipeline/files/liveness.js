// Liveness probe, run by the kubelet inside the container as `node -e <this> <timeoutMs>`.
// Alive means the event loop answers GET /health in time. A 503 saying Redis is down still
// proves that (a restart would not bring Redis back, and restarting every replica during a
// Redis outage only adds load); a processor whose Redis is up but whose consumer loop is not
// running is what a restart does fix.
const port = process.env.PORT || '8000';
const timeoutMs = Number(process.argv[1]) || 4000;
fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(timeoutMs) }).then(
  async (res) => {
    const body = await res.json().catch(() => ({}));
    if (res.status === 200 || (res.status === 503 && body.redis === 'down')) process.exit(0);
    console.error(`not live: ${res.status} ${JSON.stringify(body)}`);
    process.exit(1);
  },
  (err) => {
    console.error(`not live: ${err}`);
    process.exit(1);
  },
);
