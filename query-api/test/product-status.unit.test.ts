import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { productStatus } from '../src/status/product-status.ts';
import { parseProbes } from '../src/status/status-poller.ts';

const at = new Date('2026-12-01T10:00:00Z');
const allReady = {
  'command-api': 'ready',
  'command-processor': 'ready',
  'query-api': 'ready',
  projectors: 'ready',
  assistant: 'ready',
} as const;

describe('the product status', () => {
  it('given every service ready, when asked, then every part and the product are up', () => {
    assert.deepEqual(productStatus(allReady, at), {
      status: 'up',
      parts: { sending: 'up', reading: 'up', updates: 'up', assistant: 'up' },
      checkedAt: '2026-12-01T10:00:00.000Z',
    });
  });

  it('given the processor unreachable, then sending is down and the product degraded', () => {
    const s = productStatus({ ...allReady, 'command-processor': 'unreachable' }, at);
    assert.equal(s.parts.sending, 'down');
    assert.equal(s.parts.reading, 'up');
    assert.equal(s.status, 'degraded');
  });

  it('given the query API degraded (its cache down), then reading is degraded, not down', () => {
    const s = productStatus({ ...allReady, 'query-api': 'degraded' }, at);
    assert.equal(s.parts.reading, 'degraded');
    assert.equal(s.status, 'degraded');
  });

  it('given a service never heard from, then its part is down', () => {
    const { assistant: _, ...rest } = allReady;
    assert.equal(productStatus(rest, at).parts.assistant, 'down');
  });

  it('given neither sending nor reading works, then the product is down', () => {
    const s = productStatus(
      { ...allReady, 'command-api': 'not-ready', 'query-api': 'not-ready' },
      at,
    );
    assert.equal(s.status, 'down');
  });
});

describe('STATUS_PROBES', () => {
  it('reads name=url pairs into readiness URLs', () => {
    const probes = parseProbes('command-api=http://10.0.0.1:3000,assistant=http://a.svc:3004');
    assert.equal(probes.get('command-api')?.href, 'http://10.0.0.1:3000/health/ready');
    assert.equal(probes.get('assistant')?.href, 'http://a.svc:3004/health/ready');
  });

  it('refuses a service it does not know, and the query API itself', () => {
    assert.throws(() => parseProbes('billing=http://x:1'), /unknown service 'billing'/);
    assert.throws(() => parseProbes('query-api=http://x:1'), /unknown service 'query-api'/);
  });
});
