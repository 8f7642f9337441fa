/**
 * Everything a page shows, computed from the model: the templates only lay it out. Links are
 * site-relative targets without extension ("messages/Bind", "states#state-Ready"); the renderer
 * turns them into relative .html or .md links.
 */
import { Buffer } from 'node:buffer';
import type { MessageModel, ReplyModel, SpecModel, StateModel } from '../model.js';
import { expectedIn, occurrences, followUps, phasesOf, PHASES, wireId, type Phase } from './facts.js';
import { fieldRows, layoutText, messageLayout, type FieldRow, type LayoutBox } from './layout.js';
import { encodeExample, encodeReplyExample, hexRows, toPlain, tsLiteral, type EncodedExample, type HexRow } from './example.js';
import { messageInterface, replyInterface, structInterface, structsUsed } from './interface-text.js';

export interface Link {
  readonly name: string;
  readonly target: string;
  readonly extension?: string;
}

export interface ExampleView {
  readonly literal: string;
  readonly rows: readonly HexRow[];
  readonly hex: string;
  readonly byteCount: number;
  /** The encoder the bytes were checked against, or why they could not be. */
  readonly encoder: string;
  readonly checked: boolean;
  /** Machine-readable: what a test needs to decode the bytes again. */
  readonly data: string;
}

export interface MessageView {
  readonly kind: 'message' | 'reply';
  readonly name: string;
  readonly target: string;
  readonly doc: string;
  readonly summary: string;
  readonly directions: string;
  readonly directionList: readonly string[];
  readonly wireId: string;
  readonly since: string;
  readonly versions: string;
  readonly limits: readonly { direction: string; name: string; value: number }[];
  readonly notes: readonly string[];
  readonly extension: { name: string; title: string; target: string } | undefined;
  readonly sentIn: readonly { state: Link; direction: string; action: string; to: Link; error: string | undefined; extension: string | undefined }[];
  readonly anytimePhases: readonly string[];
  readonly followUps: readonly { state: Link; speaker: string; frontend: readonly Link[]; backend: readonly Link[] }[];
  readonly phases: readonly Phase[];
  readonly layout: readonly LayoutBox[];
  readonly layoutText: string;
  readonly rows: readonly (FieldRow & { enumTarget: string | undefined; indent: string })[];
  readonly iface: string;
  readonly structIfaces: readonly string[];
  readonly example: ExampleView;
  readonly related: readonly Link[];
  readonly relatedBy: readonly Link[];
  readonly api: readonly { label: string; target: string }[];
}

export interface StateView {
  readonly name: string;
  readonly anchor: string;
  readonly phase: string;
  readonly speaker: string;
  readonly doc: string;
  readonly initial: boolean;
  readonly final: boolean;
  readonly framing: string;
  readonly notes: readonly string[];
  readonly rules: readonly { side: string; messages: readonly Link[]; action: string; to: Link | undefined; error: string | undefined; extension: string | undefined }[];
  readonly otherwise: { error: string; to: Link | undefined } | undefined;
  readonly anytime: readonly Link[];
  readonly incoming: readonly { from: Link; messages: readonly Link[] }[];
}

export type EncoderLookup = (name: string) => { name: string; encode: (m: unknown) => Uint8Array } | undefined;

const firstSentence = (s: string): string => {
  const t = s.trim().replace(/\s+/g, ' ');
  const m = /^(.+?[.!?])(\s|$)/.exec(t);
  return m ? m[1]! : t;
};

export class Views {
  private readonly messageByName: Map<string, MessageModel>;
  private readonly replyByName: Map<string, ReplyModel>;
  readonly warnings: string[] = [];

  constructor(
    readonly model: SpecModel,
    private readonly api: ReadonlyMap<string, string>,
    private readonly encoders: EncoderLookup,
  ) {
    this.messageByName = new Map(model.messages.map((m) => [m.name, m]));
    this.replyByName = new Map(model.replies.map((r) => [r.name, r]));
  }

  messageTarget(name: string): string {
    const m = this.messageByName.get(name);
    if (m?.extension) return `extensions/${m.extension}/${name}`;
    const r = this.replyByName.get(name);
    if (r?.extension) return `extensions/${r.extension}/${name}`;
    return `messages/${name}`;
  }

  msgLink = (name: string): Link => {
    const ext = this.messageByName.get(name)?.extension ?? this.replyByName.get(name)?.extension;
    return { name, target: this.messageTarget(name), extension: ext };
  };

  stateLink = (name: string): Link => ({ name, target: `states#state-${name}` });

  private apiLinks(name: string, m: MessageModel | undefined): { label: string; target: string }[] {
    const out: { label: string; target: string }[] = [];
    const add = (symbol: string, label: string): void => {
      const p = this.api.get(symbol);
      if (p) out.push({ label, target: p });
    };
    add(name, `interface ${name}`);
    if (m) {
      add(`encode${name}`, `encode${name}()`);
      add(`decode${name}Body`, `decode${name}Body()`);
    }
    return out;
  }

  private versionsFrom(since: string): string {
    const v = this.model.protocol.versions;
    const code = v.find((x) => x.name === since)?.code ?? 0;
    return v
      .filter((x) => x.code >= code)
      .map((x) => x.name)
      .join(', ');
  }

  private exampleView(name: string, ex: EncodedExample, framing: 'typed' | 'startup' | 'reply', extra: Record<string, unknown>): ExampleView {
    const hex = Buffer.from(ex.bytes).toString('hex');
    const gen = this.encoders(name);
    let encoder = 'no generated encoder found; encoded from the spec model';
    let checked = false;
    if (gen) {
      try {
        const theirs = Buffer.from(gen.encode(ex.instance)).toString('hex');
        checked = theirs === hex;
        encoder = checked ? gen.name : `${gen.name} writes different bytes: generated/ may be stale (run npm run generate)`;
        if (!checked) this.warnings.push(`${name}: ${encoder}`);
      } catch (err) {
        encoder = `${gen.name} failed: ${(err as Error).message}`;
        this.warnings.push(`${name}: ${encoder}`);
      }
    }
    const data = JSON.stringify({ message: name, framing, checked, hex, protocolVersion: ex.protocolVersion, instance: toPlain(ex.instance), spans: ex.spans.map((s) => [s.start, s.end, s.label]), ...extra });
    return { literal: tsLiteral(ex.instance), rows: hexRows(ex), hex: hex.replace(/(..)(?!$)/g, '$1 '), byteCount: ex.bytes.length, encoder, checked, data: data.replace(/</g, '\\u003c') };
  }

  private placement(name: string): Pick<MessageView, 'sentIn' | 'anytimePhases' | 'followUps' | 'phases'> {
    const occ = occurrences(this.model, name);
    return {
      sentIn: occ
        .filter((o) => o.action !== 'anytime')
        .map((o) => ({ state: this.stateLink(o.state), direction: o.direction, action: o.action, to: this.stateLink(o.to), error: o.error, extension: o.extension })),
      anytimePhases: occ.some((o) => o.action === 'anytime') ? [...this.model.stateMachine.anytime.phases] : [],
      followUps: followUps(this.model, occ).map((f) => ({
        state: this.stateLink(f.state),
        speaker: f.speaker,
        frontend: f.frontend.map(this.msgLink),
        backend: f.backend.map(this.msgLink),
      })),
      phases: phasesOf(this.model, occ),
    };
  }

  private relatedBy(name: string): Link[] {
    return this.model.messages.filter((x) => x.related.includes(name)).map((x) => this.msgLink(x.name));
  }

  message(m: MessageModel): MessageView {
    const ext = m.extension ? this.model.extensions.find((e) => e.name === m.extension) : undefined;
    const ex = encodeExample(m, this.model);
    const notes: string[] = [];
    if (m.contextual) notes.push(`Shares type byte '${m.typeByte}' with other messages; which one is meant follows from the connection state.`);
    if (m.discriminator && m.discriminator.value !== undefined && m.framing === 'typed') notes.push(`Shares type byte '${m.typeByte}'; told apart by ${m.discriminator.field} = ${m.discriminator.value}.`);
    if (m.flush) notes.push('The server flushes its output after sending it.');
    if (m.flushesOutput) notes.push('Receiving it makes the server flush its output.');
    const contextual = m.contextual ? { [m.typeByte!]: m.name } : undefined;
    return {
      kind: 'message',
      name: m.name,
      target: this.messageTarget(m.name),
      doc: m.doc.trim(),
      summary: firstSentence(m.doc),
      directions: m.directions.map((d) => (d === 'frontend' ? 'Frontend (client to server)' : 'Backend (server to client)')).join('; '),
      directionList: m.directions,
      wireId: wireId(m),
      since: m.since,
      versions: this.versionsFrom(m.since),
      limits: Object.entries(m.limits).map(([direction, l]) => ({ direction, name: l!.name, value: l!.value })),
      notes,
      extension: ext ? { name: ext.name, title: ext.title, target: `extensions/${ext.name}/index` } : undefined,
      ...this.placement(m.name),
      layout: messageLayout(m, this.model),
      layoutText: layoutText(messageLayout(m, this.model)),
      rows: fieldRows(m, this.model).map((r) => ({ ...r, enumTarget: r.enumName ? `enums#enum-${r.enumName}` : undefined, indent: '\u00a0\u00a0'.repeat(r.depth) })),
      iface: messageInterface(m, this.model),
      structIfaces: structsUsed(m.fields, this.model).map((s) => structInterface(this.model.structs.find((x) => x.name === s)!, this.model)),
      example: this.exampleView(m.name, ex, m.framing, { contextual, directions: m.directions, extension: m.extension ?? null }),
      related: m.related.map(this.msgLink),
      relatedBy: this.relatedBy(m.name).filter((l) => !m.related.includes(l.name)),
      api: this.apiLinks(m.name, m),
    };
  }

  reply(r: ReplyModel): MessageView {
    const ex = encodeReplyExample(r, this.model);
    return {
      kind: 'reply',
      name: r.name,
      target: this.messageTarget(r.name),
      doc: r.doc.trim(),
      summary: firstSentence(r.doc),
      directions: 'Backend (server to client)',
      directionList: ['backend'],
      wireId: `single unframed byte '${r.byte}' answering ${r.answers}`,
      since: this.model.protocol.versions[0]!.name,
      versions: this.versionsFrom(this.model.protocol.versions[0]!.name),
      limits: [],
      notes: [`Not a framed message: one byte, read only right after ${r.answers}.`],
      extension: undefined,
      ...this.placement(r.name),
      layout: [{ name: `'${r.byte}'`, wire: 'Byte1', width: '1 byte', widthKind: 'fixed', header: true }],
      layoutText: `[reply byte: Byte1 '${r.byte}', 1 byte]`,
      rows: [],
      iface: replyInterface(r),
      structIfaces: [],
      example: this.exampleView(r.name, ex, 'reply', { expectReply: r.answers, directions: ['backend'], extension: r.extension ?? null }),
      related: [this.msgLink(r.answers)],
      relatedBy: [],
      api: this.apiLinks(r.name, undefined),
    };
  }

  state(s: StateModel): StateView {
    const sm = this.model.stateMachine;
    const notes: string[] = [];
    if (s.framing === 'startup') notes.push('Frontend packets here are untyped startup packets.');
    if (s.directTls) notes.push('A TLS handshake may start here directly (direct SSL).');
    if (s.refusesPlaintextBacklog) notes.push('Bytes received before entering this state are refused.');
    if (s.speaker === 'backend') notes.push('The server speaks; frontend input waits until a frontend state is reached.');
    const rules = [
      ...s.recv.map((r) => ({ side: 'frontend sends', r })),
      ...s.send.map((r) => ({ side: 'backend sends', r })),
    ].map(({ side, r }) => ({
      side,
      messages: r.messages.map(this.msgLink),
      action: r.action,
      to: r.to ? this.stateLink(r.to) : undefined,
      error: r.error,
      extension: r.extension,
    }));
    const incoming = new Map<string, Set<string>>();
    for (const o of sm.states) {
      for (const r of [...o.recv, ...o.send]) {
        if (r.to !== s.name || o.name === s.name) continue;
        const set = incoming.get(o.name) ?? new Set<string>();
        r.messages.forEach((x) => set.add(x));
        incoming.set(o.name, set);
      }
    }
    const expected = expectedIn(this.model, s);
    return {
      name: s.name,
      anchor: `state-${s.name}`,
      phase: s.phase,
      speaker: s.speaker,
      doc: s.doc.trim(),
      initial: s.name === sm.initial,
      final: s.name === sm.final,
      framing: s.framing,
      notes,
      rules,
      otherwise: s.otherwise ? { error: s.otherwise.error, to: s.otherwise.to ? this.stateLink(s.otherwise.to) : undefined } : undefined,
      anytime: expected.backend.filter((b) => sm.anytime.send.includes(b) && !s.send.some((r) => r.messages.includes(b))).map(this.msgLink),
      incoming: [...incoming].map(([from, msgs]) => ({ from: this.stateLink(from), messages: [...msgs].map(this.msgLink) })),
    };
  }

  /** Messages grouped by phase and direction, for the index. */
  byPhase(views: readonly MessageView[]): { phase: string; frontend: Link[]; backend: Link[] }[] {
    return PHASES.map((phase) => ({
      phase,
      frontend: views.filter((v) => v.phases.includes(phase) && v.sentIn.some((o) => o.direction === 'frontend')).map((v) => this.msgLink(v.name)),
      backend: views
        .filter((v) => (v.phases.includes(phase) && v.sentIn.some((o) => o.direction === 'backend')) || (v.anytimePhases.includes(phase)))
        .map((v) => this.msgLink(v.name)),
    })).filter((p) => p.frontend.length + p.backend.length > 0);
  }
}
