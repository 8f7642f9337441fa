/**
 * The state machine as a diagram: DOT built from the model, laid out and drawn to SVG at build
 * time by Graphviz compiled to WebAssembly (in-process; no system Graphviz, no browser, no CDN).
 */
import { Graphviz } from '@hpcc-js/wasm-graphviz';
import type { SpecModel, StateModel } from '../model.js';
import { PHASES } from './facts.js';

const PHASE_COLOURS: Record<StateModel['phase'], string> = {
  startup: '#eef4fb',
  authentication: '#f6f0fb',
  command: '#eef8f0',
  copy: '#fdf6e9',
  closed: '#f3f3f3',
};

const quote = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** Wraps a list of names onto lines of about `width` characters. */
function wrap(names: readonly string[], width = 28): string {
  const lines: string[] = [];
  let line = '';
  for (const n of names) {
    const next = line ? `${line}, ${n}` : n;
    if (line && next.length > width) {
      lines.push(`${line},`);
      line = n;
    } else line = next;
  }
  if (line) lines.push(line);
  return lines.join('\n');
}

/**
 * DOT source for the state machine. Edges are the rules that change state: blue for what the
 * frontend sends, brown for what the backend sends, dashed for a rejection. `stateUrl` gives each
 * state's link target (undefined for none).
 */
export function stateMachineDot(model: SpecModel, stateUrl: (state: string) => string | undefined): string {
  const sm = model.stateMachine;
  const out: string[] = [
    'digraph pgspec {',
    '  graph [rankdir=TB, fontname="Helvetica,Arial,sans-serif", fontsize=11, nodesep=0.35, ranksep=0.45, newrank=true, bgcolor="transparent"];',
    '  node [shape=box, style="rounded,filled", fillcolor="white", color="#5a6472", fontname="Helvetica,Arial,sans-serif", fontsize=11, margin="0.12,0.05"];',
    '  edge [fontname="Helvetica,Arial,sans-serif", fontsize=8, arrowsize=0.6];',
  ];
  for (const phase of PHASES) {
    const states = sm.states.filter((s) => s.phase === phase);
    if (states.length === 0) continue;
    out.push(`  subgraph ${quote(`cluster_${phase}`)} {`, `    label=${quote(phase)}; style="rounded,filled"; color="#c9ced6"; fillcolor=${quote(PHASE_COLOURS[phase])}; fontcolor="#3b4350";`);
    for (const s of states) {
      const attrs = [`id=${quote(`svg-state-${s.name}`)}`, `tooltip=${quote(s.doc.trim())}`];
      const url = stateUrl(s.name);
      if (url) attrs.push(`URL=${quote(url)}`, `target="_top"`);
      if (s.name === sm.initial) attrs.push('penwidth=2');
      if (s.name === sm.final) attrs.push('shape=doubleoctagon', 'style="filled"', 'fillcolor="#e4e4e4"');
      if (s.speaker === 'backend') attrs.push('fillcolor="#fff7ee"');
      out.push(`    ${quote(s.name)} [${attrs.join(', ')}];`);
    }
    out.push('  }');
  }
  // One edge per (from, to, side, style), its label the messages that take it.
  const edges = new Map<string, { from: string; to: string; side: 'frontend' | 'backend'; dashed: boolean; names: string[] }>();
  for (const s of sm.states) {
    for (const [side, rules] of [['frontend', s.recv], ['backend', s.send]] as const) {
      for (const r of rules) {
        if (!r.to || r.to === s.name || r.action === 'ignore') continue;
        const key = `${s.name}\u0000${r.to}\u0000${side}\u0000${r.action}`;
        const e = edges.get(key) ?? { from: s.name, to: r.to, side, dashed: r.action === 'reject', names: [] };
        e.names.push(...r.messages);
        edges.set(key, e);
      }
    }
    if (s.otherwise?.to && s.otherwise.to !== s.name) {
      edges.set(`${s.name}\u0000${s.otherwise.to}\u0000otherwise`, { from: s.name, to: s.otherwise.to, side: 'frontend', dashed: true, names: ['any other message'] });
    }
  }
  for (const e of edges.values()) {
    const colour = e.side === 'frontend' ? '#2962a8' : '#9a5b13';
    const style = e.dashed ? ', style=dashed' : '';
    let to = e.to;
    if (e.to === sm.final) {
      // Nearly every state can end the session; one shared end node would pull long edges across
      // the whole drawing, so each state gets its own small copy of it.
      to = `${sm.final} (from ${e.from})`;
      const url = stateUrl(sm.final);
      out.push(`  ${quote(to)} [label=${quote(sm.final)}, shape=octagon, style="filled", fillcolor="#e4e4e4", color="#9aa1ab", fontsize=8, height=0.2, margin="0.04,0.02"${url ? `, URL=${quote(url)}, target="_top"` : ''}];`);
    }
    out.push(`  ${quote(e.from)} -> ${quote(to)} [label=${quote(wrap(e.names))}, color=${quote(colour)}, fontcolor=${quote(colour)}${style}];`);
  }
  out.push('}');
  return out.join('\n');
}

let graphviz: Promise<Graphviz> | undefined;

/** Lays out and draws DOT to a standalone SVG document. */
export async function renderSvg(dot: string): Promise<string> {
  graphviz ??= Graphviz.load();
  return (await graphviz).dot(dot, 'svg');
}

/** The SVG element alone, for inlining in a page. */
export function inlineSvg(svg: string): string {
  return svg.slice(svg.indexOf('<svg'));
}
