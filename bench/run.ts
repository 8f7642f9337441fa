/**
 * `npm run bench [-- --quick] [-- --only <substring>]`: runs the benchmarks and prints, for each,
 * operations per second and the ratio to the anchor it names. Timing is reported, never asserted:
 * this exits 0 whatever the figures (and 1 only if a benchmark fails to run).
 */
import { pathToFileURL } from 'node:url';
import { BENCHMARKS } from './suite.js';
import type { BenchOptions, BenchResult } from './harness.js';

function formatRate(perSecond: number): string {
  return Math.round(perSecond).toLocaleString('en-US');
}

export function formatTable(results: readonly BenchResult[]): string {
  const rows: string[][] = [['benchmark', 'variant', 'rate', 'vs anchor']];
  for (const r of results) {
    for (const f of r.figures) {
      rows.push([r.name, f.label, `${formatRate(f.perSecond)} ${r.unit}`, f.anchor === true ? 'anchor' : `${f.ratio.toFixed(2)}x`]);
    }
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const line = (row: string[]): string => row.map((cell, c) => (c >= 2 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ');
  const out = [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  ')];
  let previous = '';
  for (const row of rows.slice(1)) {
    out.push(line(row[0] === previous ? ['', ...row.slice(1)] : row));
    previous = row[0]!;
  }
  const notes = results.flatMap((r) => r.notes.map((n) => `  ${r.name}: ${n}`));
  return [...out, '', ...notes].join('\n');
}

export async function runAll(options: BenchOptions, only?: string, log: (line: string) => void = () => {}): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const bench of BENCHMARKS) {
    if (only !== undefined && !bench.name.includes(only)) continue;
    log(`running ${bench.name}${options.quick ? ' (quick)' : ''}...`);
    results.push(await bench.run(options));
  }
  return results;
}

async function main(argv: readonly string[]): Promise<void> {
  const quick = argv.includes('--quick');
  const onlyAt = argv.indexOf('--only');
  const only = onlyAt >= 0 ? argv[onlyAt + 1] : undefined;
  const results = await runAll({ quick }, only, (line) => process.stderr.write(`${line}\n`));
  process.stdout.write(`node ${process.version}, ${process.platform}/${process.arch}${quick ? ', --quick' : ''}\n\n`);
  process.stdout.write(`${formatTable(results)}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
