/**
 * The benchmarks run and produce figures. Nothing here looks at speed: timing on a shared machine
 * proves nothing, and `npm run bench` is where the figures are read.
 */
import { describe, expect, it } from 'vitest';
import { BENCHMARKS } from '../../bench/suite.js';
import { formatTable, runAll } from '../../bench/run.js';

describe('bench --quick', () => {
  it('every benchmark yields a rate and a ratio to its anchor', async () => {
    const results = await runAll({ quick: true, warmup: 0, runs: 1 });
    expect(results.map((r) => r.name)).toEqual(BENCHMARKS.map((b) => b.name));
    for (const r of results) {
      expect(r.figures.length).toBeGreaterThanOrEqual(2);
      const anchors = r.figures.filter((f) => f.anchor === true);
      expect(anchors.map((f) => f.label)).toEqual([r.anchor]);
      expect(anchors[0]!.ratio).toBe(1);
      for (const f of r.figures) {
        expect(Number.isFinite(f.perSecond) && f.perSecond > 0, `${r.name} / ${f.label}`).toBe(true);
        expect(Number.isFinite(f.ratio) && f.ratio > 0, `${r.name} / ${f.label}`).toBe(true);
      }
    }
    const table = formatTable(results);
    for (const r of results) expect(table).toContain(r.name);
  });
});
