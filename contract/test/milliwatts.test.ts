import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { milliwatts } from '@energy-pipeline/contract';

describe('milliwatts', () => {
  it('rounds the decimal text half away from zero', () => {
    expect(milliwatts('0.0015')).toBe(2);
    expect(milliwatts('-0.0015')).toBe(-2);
    expect(milliwatts('0.0025')).toBe(3);
    expect(milliwatts('-0.0025')).toBe(-3);
    expect(milliwatts('0.00149')).toBe(1);
    expect(milliwatts('-0.00049')).toBe(0);
    // 1.0005 * 1000 is 1000.4999… in binary floating point; its text says 1000.5.
    expect(milliwatts(String(1.0005))).toBe(1001);
    expect(milliwatts('-12.3456')).toBe(-12346);
  });

  it('reads exponents, signs and bare fractions', () => {
    expect(milliwatts('1500.5')).toBe(1_500_500);
    expect(milliwatts('1e9')).toBe(1e12);
    expect(milliwatts('-1E+9')).toBe(-1e12);
    expect(milliwatts('2.5e-3')).toBe(3);
    expect(milliwatts(String(1e-7))).toBe(0);
    expect(milliwatts('+.5')).toBe(500);
    expect(milliwatts('-0')).toBe(0);
    expect(Object.is(milliwatts('-0.0001'), 0)).toBe(true);
  });

  it('refuses what is not a decimal number', () => {
    for (const text of ['', '.', '0x10', '1_000', 'Infinity', 'NaN', '1e', '--1', '1.2.3']) expect(milliwatts(text)).toBeNaN();
  });

  it('agrees with exact decimal arithmetic for any number a client can send', () => {
    fc.assert(
      fc.property(fc.double({ min: -1e9, max: 1e9, noNaN: true }), (w) => {
        const text = String(w);
        // BigInt reference: the decimal text scaled by 10^3 and rounded half away from zero.
        const [mantissa, exp = '0'] = text.toLowerCase().split('e');
        const [int, frac = ''] = mantissa!.replace('-', '').split('.');
        const scale = Number(exp) + 3 - frac.length;
        const digits = BigInt(int! + frac || '0');
        let ref: bigint;
        if (scale >= 0) ref = digits * 10n ** BigInt(scale);
        else {
          const div = 10n ** BigInt(-scale);
          ref = digits / div + ((digits % div) * 2n >= div ? 1n : 0n);
        }
        const expected = Number(text.startsWith('-') ? -ref : ref);
        expect(milliwatts(text)).toBe(expected === 0 ? 0 : expected);
      }),
      { numRuns: 2_000 },
    );
  });
});
