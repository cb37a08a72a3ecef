import { describe, expect, it } from 'vitest';
import { hubPerTest } from './support/hub.ts';
import { eventually, WsTestClient } from './support/ws-client.ts';

const hubs = hubPerTest();

describe('operations endpoints', () => {
  it('/metrics exposes Prometheus counters that follow the traffic', async () => {
    const hub = await hubs.start();
    const c = await WsTestClient.open(hub.wsUrl);
    await c.call('subscribe', { channel: 'm:1' });
    for (let i = 0; i < 3; i++) await hub.publish('m:1', i);
    await eventually(() => c.publications.length === 3, 'deliveries');
    const res = await fetch(`${hub.url}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toMatch(/^herald_sessions 1$/m);
    expect(text).toMatch(/^herald_publications_total 3$/m);
    expect(text).toMatch(/^herald_deliveries_total 3$/m);
    expect(text).toMatch(/^herald_broker_up 1$/m);
    c.close();
  });

  it('/admin serves the live admin page', async () => {
    const hub = await hubs.start();
    const res = await fetch(`${hub.url}/admin`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(await res.text()).toContain('<title>Herald admin</title>');
  });
});
