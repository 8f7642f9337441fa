/**
 * Drives a connection through the generated state tables. The server asks it, for each frontend
 * message, whether to process, ignore or reject it, and tells it each backend message it sends;
 * both move the state. No protocol state lives anywhere else.
 */
import { PROTOCOL_VERSIONS, STATES, STATE_MACHINE, type StateInfo, type StateName, type StateRule } from '../../generated/index.js';

export type Verdict =
  | { readonly action: 'accept' }
  | { readonly action: 'ignore' }
  | {
      readonly action: 'reject';
      readonly sqlstate: string;
      readonly severity: 'ERROR' | 'FATAL';
      readonly message: string;
      readonly closes: boolean;
      /** A second error the spec sends right after this one (a FATAL that ends the session). */
      readonly followedBy?: { readonly sqlstate: string; readonly severity: 'ERROR' | 'FATAL'; readonly message: string };
    };

/** A state rule contributed by a protocol extension (see generated/extensions/*). */
export interface ExtensionStateRule {
  readonly state: string;
  readonly direction: 'recv' | 'send';
  readonly message: string;
  readonly rule: StateRule;
}

/** A backend message the state machine does not allow in the current state. */
export class StateViolation extends Error {
  constructor(
    readonly state: StateName,
    readonly messageName: string,
    readonly direction: 'recv' | 'send',
  ) {
    super(`${direction === 'send' ? 'sending' : 'receiving'} ${messageName} is not allowed in state ${state}`);
    this.name = 'StateViolation';
  }
}

export type StateTables = Readonly<Record<StateName, StateInfo>>;

/** The base tables plus extension rules, merged once and shared by every connection. */
export function buildStateTables(extensionRules: readonly ExtensionStateRule[] = []): StateTables {
  if (extensionRules.length === 0) return STATES;
  const out = {} as Record<StateName, StateInfo>;
  for (const name of Object.keys(STATES) as StateName[]) {
    const s = STATES[name];
    const recv: Record<string, StateRule> = { ...s.recv };
    const send: Record<string, StateRule> = { ...s.send };
    for (const r of extensionRules) {
      if (r.state !== name) continue;
      (r.direction === 'recv' ? recv : send)[r.message] = r.rule;
    }
    out[name] = { ...s, recv, send };
  }
  return out;
}

export interface VersionRange {
  readonly min: string;
  readonly max: string;
}

export class StateMachine {
  private current: StateName;
  /** The current state's table entry, kept with its name: every message consults it. */
  private currentInfo: StateInfo;

  constructor(
    private readonly tables: StateTables = STATES,
    initial: StateName = STATE_MACHINE.initial,
  ) {
    this.current = initial;
    this.currentInfo = tables[initial];
  }

  get state(): StateName {
    return this.current;
  }

  get info(): StateInfo {
    return this.currentInfo;
  }

  private moveTo(state: StateName): void {
    if (state === this.current) return;
    this.current = state;
    this.currentInfo = this.tables[state];
  }

  get closed(): boolean {
    return this.current === STATE_MACHINE.final;
  }

  /** Whether frontend input is read in this state. */
  get frontendSpeaks(): boolean {
    return this.info.speaker === 'frontend';
  }

  /** Moves to a state the transport decided on (e.g. Closed after a socket error). */
  force(state: StateName): void {
    this.moveTo(state);
  }

  /**
   * Receives a frontend message the current state accepts, in one lookup: true when it did
   * (and moved), false (without moving) when `received` must decide what becomes of it.
   */
  accepts(messageName: string): boolean {
    const rule = this.currentInfo.recv[messageName];
    if (rule === undefined || rule.action !== 'accept') return false;
    if (rule.to !== undefined) this.moveTo(rule.to);
    return true;
  }

  /**
   * Decides what to do with a frontend message in the current state and moves accordingly.
   * `byte` is the message's type byte (or startup code) for the violation text.
   */
  received(messageName: string, details: ErrorTextDetails = {}): Verdict {
    const s = this.currentInfo;
    const rule = s.recv[messageName];
    if (rule === undefined || rule.action === 'reject') {
      const errorName = rule?.error ?? s.otherwise?.error;
      if (errorName !== undefined) {
        const e = STATE_MACHINE.errors[errorName];
        const to = rule?.to ?? s.otherwise?.to;
        const next = e.followedBy === undefined ? undefined : STATE_MACHINE.errors[e.followedBy];
        const closes = e.severity === 'FATAL' || next?.severity === 'FATAL';
        // An ERROR followed by a FATAL still fails the operation in progress first (the COPY a
        // message interrupted): the state goes where the error leads, and the caller sends the
        // FATAL and closes.
        this.moveTo(e.severity === 'FATAL' ? STATE_MACHINE.final : (to ?? this.current));
        const followedBy = next ? { sqlstate: next.sqlstate, severity: next.severity, message: fillErrorText(next.message, details) } : undefined;
        return { action: 'reject', sqlstate: e.sqlstate, severity: e.severity, message: fillErrorText(e.message, details), closes, ...(followedBy ? { followedBy } : {}) };
      }
      const v = STATE_MACHINE.violation;
      if (v.severity === 'FATAL') this.moveTo(STATE_MACHINE.final);
      return { action: 'reject', sqlstate: v.sqlstate, severity: v.severity, message: fillErrorText(v.message, details), closes: v.severity === 'FATAL' };
    }
    if (rule.action === 'ignore') return IGNORE;
    if (rule.to !== undefined) this.moveTo(rule.to);
    return ACCEPT;
  }

  /** Whether sending this backend message is allowed now (without moving). */
  maySend(messageName: string): boolean {
    const s = this.currentInfo;
    if (s.send[messageName] !== undefined) return true;
    if (STATE_MACHINE.anytime.send.includes(messageName) && STATE_MACHINE.anytime.phases.includes(s.phase)) return true;
    return STATE_MACHINE.closing.send.includes(messageName);
  }

  /** Records a backend message being sent; throws StateViolation if the state does not allow it. */
  sent(messageName: string): void {
    const s = this.currentInfo;
    const rule = s.send[messageName];
    if (rule !== undefined) {
      if (rule.to !== undefined) this.moveTo(rule.to);
      return;
    }
    if (STATE_MACHINE.anytime.send.includes(messageName) && STATE_MACHINE.anytime.phases.includes(s.phase)) return;
    if (STATE_MACHINE.closing.send.includes(messageName)) {
      this.moveTo(STATE_MACHINE.final);
      return;
    }
    throw new StateViolation(this.current, messageName, 'send');
  }
}

const ACCEPT: Verdict = { action: 'accept' };
const IGNORE: Verdict = { action: 'ignore' };

/** What a state error's text may name: the message's type byte, or the protocol code it asked for. */
export interface ErrorTextDetails {
  readonly byte?: number;
  readonly protocolCode?: number;
}

/** A state error's text with its placeholders ({byte}, {hex}, {major}, {minor}, {min}, {max}) filled. */
export function fillErrorText(template: string, d: ErrorTextDetails): string {
  return template
    .replace('{byte}', String(d.byte ?? '?'))
    .replace('{hex}', (d.byte ?? 0).toString(16).toUpperCase().padStart(2, '0'))
    .replace('{major}', String((d.protocolCode ?? 0) >>> 16))
    .replace('{minor}', String((d.protocolCode ?? 0) & 0xffff))
    .replace('{min}', PROTOCOL_VERSIONS[0].name)
    .replace('{max}', PROTOCOL_VERSIONS[PROTOCOL_VERSIONS.length - 1]!.name);
}
