import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A private CA and a server certificate it signed, as files, for a TLS redis-server in tests. */
export interface TestCertificates {
  dir: string;
  /** The CA's certificate: what NODE_EXTRA_CA_CERTS names for a service to trust the server. */
  ca: string;
  cert: string;
  key: string;
}

/** Made with openssl (on every machine that runs redis-server); valid for 127.0.0.1 and localhost. */
export function makeCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'ep-tls-'));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=energy-pipeline test CA',
    '-keyout', file('ca.key'), '-out', file('ca.crt'));
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', file('server.key'), '-out', file('server.csr'));
  writeFileSync(file('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl('x509', '-req', '-in', file('server.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial',
    '-days', '1', '-extfile', file('san.ext'), '-out', file('server.crt'));
  return { dir, ca: file('ca.crt'), cert: file('server.crt'), key: file('server.key') };
}

/** The CA's certificate as text, for a client's `tls.ca`. */
export function caText(certs: TestCertificates): string {
  return readFileSync(certs.ca, 'utf8');
}
