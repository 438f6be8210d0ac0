import { describe, expect, it } from 'vitest';
import { wantsPrometheusText } from '../src/metrics.js';

describe('GET /metrics content negotiation', () => {
  it.each([
    // What Prometheus 2.x and 3.x send.
    ['application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1', true],
    ['application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,text/plain;version=0.0.4;q=0.3,*/*;q=0.2', true],
    ['text/plain;version=0.0.4', true],
    ['text/plain', true],
    ['application/openmetrics-text', true],
  ])('gives the text format to %s', (accept, text) => {
    expect(wantsPrometheusText(accept)).toBe(text);
  });

  it.each([
    [undefined],
    ['*/*'],
    ['application/json'],
    ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'],
    ['application/json, text/plain'],
    ['text/plain;q=0.5, application/json'],
    ['text/plain;q=0'],
    ['text/plain;q=abc'],
  ])('keeps JSON for %s', (accept) => {
    expect(wantsPrometheusText(accept)).toBe(false);
  });
});
