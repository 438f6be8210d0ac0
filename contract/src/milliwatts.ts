/**
 * Power is summed as integer milliwatts, so that sums do not depend on the order readings are
 * added in (floating-point addition does). A reading's milliwatts come from its decimal text as
 * sent, rounded half away from zero: 0.0015 W is 2 mW and -0.0015 W is -2 mW, so readings that
 * cancel out sum to 0 (Math.round rounds halves up, and 1.0005 * 1000 is 1000.4999… in binary
 * floating point). Anything finer than a milliwatt is below the resolution of the aggregates.
 */
const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/**
 * Integer milliwatts of a decimal number of watts given as text, e.g. "1500.5" or "-2.5e-3".
 * JavaScript numbers print as their shortest round-tripping decimal (`String(1.0005)` is
 * "1.0005"), so `milliwatts(String(n))` rounds the decimal the client sent, not its binary
 * approximation. Returns NaN for text that is not a decimal number.
 */
export function milliwatts(text: string): number {
  const m = DECIMAL.exec(text.trim());
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return Number.NaN;
  const [, sign, int = '', frac = '', exp = '0'] = m;
  // value = digits × 10^(shift - fraction length), in mW: × 10^3.
  const digits = (int + frac).replace(/^0+(?=\d)/, '');
  const shift = Number(exp) + 3 - frac.length;
  let magnitude: number;
  if (shift >= 0) {
    magnitude = Number(digits + '0'.repeat(shift));
  } else {
    const keep = digits.length + shift;
    const kept = keep > 0 ? Number(digits.slice(0, keep)) : 0;
    // The first dropped digit decides: 5 or more rounds the magnitude up (half away from zero).
    const firstDropped = keep >= 0 ? (digits[keep] ?? '0') : '0';
    magnitude = kept + (firstDropped >= '5' ? 1 : 0);
  }
  return sign === '-' && magnitude !== 0 ? -magnitude : magnitude;
}
