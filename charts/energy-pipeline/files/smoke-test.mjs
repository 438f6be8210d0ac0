// `helm test`: posts one reading to ingest and waits until the processor has applied it, i.e.
// its consumer group delivered the entry and acknowledged it (the apply and the XACK are one
// Lua step). Env: INGEST_URL, PROCESS_URL, TIMEOUT_S, optional API_KEY (sent as a bearer token).
const ingest = process.env.INGEST_URL;
const processor = process.env.PROCESS_URL;
const deadline = Date.now() + Number(process.env.TIMEOUT_S || 60) * 1000;
const headers = { 'content-type': 'application/json', accept: 'application/json' };
if (process.env.API_KEY) headers.authorization = `Bearer ${process.env.API_KEY}`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Stream ids are "<ms>-<seq>"; compare them as numbers, never as strings.
const idKey = (id) => id.split('-').map(BigInt);
const after = (a, b) => {
  const [am, as] = idKey(a);
  const [bm, bs] = idKey(b);
  return am > bm || (am === bm && as > bs);
};

async function until(what, attempt) {
  let last = '';
  while (Date.now() < deadline) {
    try {
      const done = await attempt();
      if (done) return done;
      last = 'not yet';
    } catch (err) {
      last = String(err);
    }
    await sleep(500);
  }
  throw new Error(`${what}: gave up (${last})`);
}

const reading = {
  site_id: 'helm-test',
  device_id: `helm-test-${Date.now().toString(36)}`,
  power_reading: 1234.5,
  timestamp: new Date().toISOString(),
};
try {
  const streamId = await until('POST /readings', async () => {
    const res = await fetch(`${ingest}/readings`, { method: 'POST', headers, body: JSON.stringify(reading) });
    const body = await res.json();
    if (res.status !== 202) throw new Error(`${res.status} ${JSON.stringify(body)}`);
    return body.stream_id;
  });
  console.log(`posted ${reading.device_id}: stream id ${streamId}`);
  await until('processor applies it', async () => {
    const res = await fetch(`${processor}/metrics`, { headers: { accept: 'application/json' } });
    if (res.status !== 200) throw new Error(`GET /metrics ${res.status}`);
    const { group } = await res.json();
    const delivered = group.last_delivered_id && !after(streamId, group.last_delivered_id);
    const acked = group.oldest_pending_id === null || after(group.oldest_pending_id, streamId);
    return delivered && acked;
  });
  console.log(`ok: the processor applied ${streamId}`);
} catch (err) {
  console.error(`failed: ${err.message}`);
  process.exit(1);
}
