// Imported first, before anything that builds a zod schema (the SDK's error codes come from the
// contract). zod 4 probes for eval (`Function('')`) when it builds its first object schema, to
// compile fast parsers; the page's Content-Security-Policy allows no eval, so the probe fails
// (safely) and Chromium logs a CSP violation for every page load. The page parses little: zod's
// interpreter is enough.
import { config } from 'zod';

config({ jitless: true });
