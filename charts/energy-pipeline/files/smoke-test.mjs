// `helm test`: posts one reading to ingest, then reads it back from the processor's query API:
// the device's figures show exactly that reading as its count and latest reading.
// Env: INGEST_URL, PROCESS_URL, TIMEOUT_S; API_KEY (scope write) posts, READ_API_KEY (scope read)
// reads back, falling back to API_KEY; without keys (auth off) nothing is sent.
const ingest = process.env.INGEST_URL;
const processor = process.env.PROCESS_URL;
const deadline = Date.now() + Number(process.env.TIMEOUT_S || 60) * 1000;
const bearer = (key) => (key ? { authorization: `Bearer ${key}` } : {});
const writeHeaders = { 'content-type': 'application/json', accept: 'application/json', ...bearer(process.env.API_KEY) };
const readHeaders = { accept: 'application/json', ...bearer(process.env.READ_API_KEY || process.env.API_KEY) };

/** A wrong or missing key does not get better by waiting: stop at once and say which key. */
class Refused extends Error {}
const refusedHint = {
  write: 'set tests.apiKeySecret to a Secret whose `key` holds a key with scope write for site helm-test',
  read: 'set tests.apiKeySecret `readKey` (or `key`) to a key with scope read for site helm-test',
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, attempt) {
  let last = '';
  while (Date.now() < deadline) {
    try {
      const done = await attempt();
      if (done) return done;
      last = 'not yet';
    } catch (err) {
      if (err instanceof Refused) throw err;
      last = String(err);
    }
    await sleep(500);
  }
  throw new Error(`${what}: gave up (${last})`);
}

async function checkAuth(res, scope) {
  if (res.status !== 401 && res.status !== 403) return;
  const body = await res.json().catch(() => ({}));
  throw new Refused(`${res.status} ${body.error ?? ''} ${body.message ?? ''}: ${refusedHint[scope]}`);
}

const reading = {
  site_id: 'helm-test',
  device_id: `helm-test-${Date.now().toString(36)}`,
  power_reading: 1234.5,
  timestamp: new Date().toISOString(),
};
try {
  const streamId = await until('POST /readings', async () => {
    const res = await fetch(`${ingest}/readings`, { method: 'POST', headers: writeHeaders, body: JSON.stringify(reading) });
    await checkAuth(res, 'write');
    const body = await res.json();
    if (res.status !== 202) throw new Error(`${res.status} ${JSON.stringify(body)}`);
    return body.stream_id;
  });
  console.log(`posted ${reading.device_id}: stream id ${streamId}`);
  const device = await until('processor applies it', async () => {
    const res = await fetch(`${processor}/sites/${reading.site_id}/devices/${reading.device_id}`, { headers: readHeaders });
    await checkAuth(res, 'read');
    if (res.status === 404) return null; // not processed yet
    if (res.status !== 200) throw new Error(`GET device ${res.status}`);
    return res.json();
  });
  if (device.count !== 1 || device.latest?.stream_id !== streamId || device.latest?.power_reading !== reading.power_reading) {
    throw new Error(`read back ${JSON.stringify(device)}, expected one reading of ${reading.power_reading} W with id ${streamId}`);
  }
  console.log(`ok: read back ${reading.device_id}: ${device.count} reading, latest ${device.latest.power_reading} W (${streamId})`);
} catch (err) {
  console.error(`failed: ${err.message}`);
  process.exit(1);
}
