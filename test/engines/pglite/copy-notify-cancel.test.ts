/**
 * COPY (pglite PR#1028), LISTEN/NOTIFY across sessions, and cancel (pglite#900): what a naive
 * server in front of one PGlite gets wrong.
 */
import { afterAll, afterEach, beforeAll, describe as group, expect, test } from 'vitest';
import { PgliteEngine } from '../../../runtime/engines/pglite/index.js';
import { closeAll, bind, copyData, copyDone, copyFail, execute, isPending, openSession, parse, q, sync } from './helpers.js';

let engine: PgliteEngine;
beforeAll(async () => {
  engine = await PgliteEngine.create();
  const s = await openSession(engine);
  await s.run(q('create table c(a int, b text)'));
  await s.session.close();
});
afterEach(closeAll);
afterAll(async () => {
  await engine?.close();
});

group('COPY FROM STDIN with the data in later runs (pglite PR#1028)', () => {
  test('simple query: CopyInResponse first, CopyData later, CopyDone ends it', async () => {
    const a = await openSession(engine);
    expect(await a.run(q('copy c from stdin'))).toBe('G');
    expect(await a.run(copyData('1\tone\n'), copyData('2\ttwo\n'))).toBe('');
    expect(await a.run(copyData('3\tthree\n'))).toBe('');
    expect(await a.run(copyDone)).toBe('C(COPY 3) Z(I)');
    expect(await a.run(q('select count(*) from c'))).toBe('T D[3] C(SELECT 1) Z(I)');
    await a.run(q('truncate c'));
    await a.session.close();
  });

  test('extended protocol: Sync inside copy-in is ignored, one ReadyForQuery at the end', async () => {
    const a = await openSession(engine);
    expect(await a.run(parse('', 'copy c from stdin'), bind('', ''), execute(), sync)).toBe('1 2 G');
    expect(await a.run(copyData('7\tseven\n'), copyDone, sync)).toBe('C(COPY 1) Z(I)');
    await a.run(q('truncate c'));
    await a.session.close();
  });

  test('the whole subprotocol in one run (pgx CopyFrom), CopyFail, bad data', async () => {
    const a = await openSession(engine);
    expect(await a.run(q('copy c from stdin'), copyData('1\tx\n'), copyDone)).toBe('G C(COPY 1) Z(I)');
    expect(await a.run(q('copy c from stdin'))).toBe('G');
    expect(await a.run(copyFail('changed my mind'))).toBe('E(57014) Z(I)');
    expect(await a.run(q('copy c from stdin'))).toBe('G');
    expect(await a.run(copyData('oops\tx\n'), copyDone)).toBe('E(22P02) Z(I)');
    expect(await a.run(q('select count(*) from c'))).toBe('T D[1] C(SELECT 1) Z(I)');
    await a.run(q('truncate c'));
    await a.session.close();
  });

  test('a large COPY in many pieces', async () => {
    const a = await openSession(engine);
    expect(await a.run(q('copy c from stdin'))).toBe('G');
    const row = 'x'.repeat(1000);
    for (let chunk = 0; chunk < 30; chunk++) {
      const lines = Array.from({ length: 100 }, (_, i) => copyData(`${chunk * 100 + i}\t${row}\n`));
      expect(await a.run(...lines)).toBe('');
    }
    expect(await a.run(copyDone)).toBe('C(COPY 3000) Z(I)');
    await a.run(q('truncate c'));
    await a.session.close();
  });

  test('other sessions wait while a COPY is open; a session that leaves during COPY changes nothing', async () => {
    const a = await openSession(engine);
    const b = await openSession(engine);
    expect(await a.run(q('copy c from stdin'))).toBe('G');
    await a.run(copyData('1\tlost\n'));
    const bRun = b.run(q('select count(*) from c'));
    expect(await isPending(bRun)).toBe(true);
    await a.session.close();
    expect(await bRun).toBe('T D[0] C(SELECT 1) Z(I)');
    await b.session.close();
  });

  test('a non-COPY message in copy-in fails the COPY and ends the session, as in PostgreSQL; the backend survives', async () => {
    const a = await openSession(engine);
    expect(await a.run(q('copy c from stdin'))).toBe('G');
    const out = await a.runRaw(copyData('1\tx\n'), q('select 1'));
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ type: 'ErrorResponse' });
    expect(JSON.stringify(out[0])).toContain('unexpected message type 0x51 during COPY from stdin');
    expect(a.fatal.map((e) => (e as { sqlstate?: string }).sqlstate)).toEqual(['08P01']);
    await a.session.close();
    const b = await openSession(engine);
    expect(await b.run(q('select count(*) from c'))).toBe('T D[0] C(SELECT 1) Z(I)');
  });

  test('COPY TO STDOUT, simple and extended', async () => {
    const a = await openSession(engine);
    await a.run(q("insert into c values (1, 'a'), (2, 'b')"));
    expect(await a.run(q('copy c to stdout'))).toBe('H d("1\\ta\\n") d("2\\tb\\n") c C(COPY 2) Z(I)');
    expect(await a.run(parse('', 'copy (select 1) to stdout'), bind('', ''), execute(), sync)).toBe('1 2 H d("1\\n") c C(COPY 1) Z(I)');
    await a.run(q('truncate c'));
    await a.session.close();
  });
});

group('large output', () => {
  test('COPY TO STDOUT of megabytes streams in pieces and waits for the client (drained)', async () => {
    const a = await openSession(engine);
    let rows = 0;
    let drains = 0;
    let done = false;
    await a.session.execute([q("copy (select i, repeat('y', 500) from generate_series(1, 20000) i) to stdout")], {
      send: (m) => {
        if (m.type === 'CopyData') rows++;
        if (m.type === 'ReadyForQuery') done = true;
      },
      drained: async () => {
        drains++;
        await new Promise((r) => setTimeout(r, 1));
      },
    });
    expect(rows).toBe(20000);
    expect(done).toBe(true);
    expect(drains).toBeGreaterThan(10);
  });
});

group('LISTEN/NOTIFY across sessions', () => {
  test('a notification reaches the listening sessions, idle ones included, and no other', async () => {
    const listener = await openSession(engine);
    const other = await openSession(engine);
    const notifier = await openSession(engine);
    expect(await listener.run(q('listen jobs'))).toBe('C(LISTEN) Z(I)');
    expect(await other.run(q('listen elsewhere'))).toBe('C(LISTEN) Z(I)');
    expect(await notifier.run(q("notify jobs, 'j1'"))).toBe('C(NOTIFY) Z(I)');
    expect(listener.async.map((m) => m.type === 'NotificationResponse' && `${m.processId}:${m.channel}:${m.payload}`)).toEqual([`${notifier.processId}:jobs:j1`]);
    expect(other.async).toEqual([]);
    // A session that listens gets its own notification in its output, with its process id.
    expect(await listener.run(q("select pg_notify('jobs', 'self')"))).toBe(`T D[] C(SELECT 1) A(${listener.processId},jobs,self) Z(I)`);
    for (const s of [listener, other, notifier]) await s.session.close();
  });

  test('UNLISTEN in one session does not stop another session listening on the same channel', async () => {
    const a = await openSession(engine);
    const b = await openSession(engine);
    const n = await openSession(engine);
    await a.run(q('listen shared'));
    await b.run(parse('l', 'listen shared'), bind('', 'l'), execute(), sync);
    await a.run(q('unlisten *'));
    await n.run(q("notify shared, 'x'"));
    expect(a.async).toEqual([]);
    expect(b.async).toHaveLength(1);
    await b.session.close();
    await n.run(q("notify shared, 'y'"));
    expect(await n.run(q('select pg_listening_channels()'))).toBe('T C(SELECT 0) Z(I)');
    await a.session.close();
    await n.session.close();
  });

  test('notifications are sent at commit, not before', async () => {
    const a = await openSession(engine);
    const n = await openSession(engine);
    await a.run(q('listen tx'));
    await n.run(q('begin'));
    await n.run(q("notify tx, 'later'"));
    expect(a.async).toEqual([]);
    await n.run(q('commit'));
    expect(a.async).toHaveLength(1);
    await a.session.close();
    await n.session.close();
  });
});

group('cancel (pglite#900)', () => {
  test('cancel stops a running pg_sleep with 57014 and the session goes on', async () => {
    const a = await openSession(engine);
    const started = Date.now();
    const sleeping = a.run(q('select pg_sleep(20)'));
    await new Promise((r) => setTimeout(r, 300));
    a.session.cancel();
    expect(await sleeping).toBe('T E(57014) Z(I)');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await a.run(q('select 1'))).toBe('T D[1] C(SELECT 1) Z(I)');
    await a.session.close();
  });

  test('the server keeps running while a query runs', async () => {
    const a = await openSession(engine);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 20);
    await a.run(q('select pg_sleep(1)'));
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(10);
    await a.session.close();
  });

  test('a cancel for a session waiting its turn cancels its statement when it runs; other sessions are untouched', async () => {
    const a = await openSession(engine);
    const b = await openSession(engine);
    await a.run(q('begin'));
    const bRun = b.run(q('select pg_sleep(20)'));
    expect(await isPending(bRun)).toBe(true);
    b.session.cancel();
    a.session.cancel(); // idle in a transaction: nothing to cancel
    expect(await a.run(q('commit'))).toBe('C(COMMIT) Z(I)');
    // PostgreSQL may notice the cancel before or after it describes the result.
    expect(await bRun).toMatch(/^(T )?E\(57014\) Z\(I\)$/);
    await a.session.close();
    await b.session.close();
  });

  test('statement_timeout works', async () => {
    const a = await openSession(engine);
    await a.run(q("set statement_timeout = '200ms'"));
    const started = Date.now();
    expect(await a.run(q('select pg_sleep(10)'))).toBe('T E(57014) Z(I)');
    expect(Date.now() - started).toBeLessThan(5_000);
    await a.session.close();
  });
});
