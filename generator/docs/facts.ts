/**
 * What the state machine says about each message: the states it may be sent in, the state it
 * leads to, what may follow it there, and the phases it belongs to. Read from the model only.
 */
import type { Direction, MessageModel, RuleModel, SpecModel, StateModel } from '../model.js';

export type Phase = StateModel['phase'];
export const PHASES: readonly Phase[] = ['startup', 'authentication', 'command', 'copy', 'closed'];

/** One place a message may appear: a state, the rule that allows it, and where it leads. */
export interface Occurrence {
  readonly state: string;
  readonly direction: Direction;
  readonly action: RuleModel['action'] | 'anytime';
  /** The state after it (the same state when the rule names none). */
  readonly to: string;
  readonly error: string | undefined;
  readonly extension: string | undefined;
}

/** What the state after a message expects: who speaks and which messages each side may send. */
export interface FollowUp {
  readonly state: string;
  readonly speaker: StateModel['speaker'];
  readonly frontend: readonly string[];
  readonly backend: readonly string[];
}

export function stateByName(model: SpecModel, name: string): StateModel {
  const s = model.stateMachine.states.find((x) => x.name === name);
  if (!s) throw new Error(`no state named ${name}`);
  return s;
}

/** Every state (with the rule) in which `name` may be sent, from recv/send rules and the anytime set. */
export function occurrences(model: SpecModel, name: string): Occurrence[] {
  const out: Occurrence[] = [];
  const sm = model.stateMachine;
  for (const st of sm.states) {
    for (const [dir, rules] of [['frontend', st.recv], ['backend', st.send]] as const) {
      for (const r of rules) {
        if (!r.messages.includes(name)) continue;
        out.push({ state: st.name, direction: dir, action: r.action, to: r.to ?? st.name, error: r.error, extension: r.extension });
      }
    }
    const ownSend = st.send.some((r) => r.messages.includes(name));
    if (!ownSend && sm.anytime.send.includes(name) && sm.anytime.phases.includes(st.phase)) {
      out.push({ state: st.name, direction: 'backend', action: 'anytime', to: st.name, error: undefined, extension: undefined });
    }
  }
  return out;
}

/** Messages each side may send in a state: the rules that accept or ignore them, plus the anytime set. */
export function expectedIn(model: SpecModel, st: StateModel): FollowUp {
  const sm = model.stateMachine;
  const uniq = (xs: string[]): string[] => [...new Set(xs)];
  const frontend = uniq(st.recv.filter((r) => r.action === 'accept').flatMap((r) => r.messages));
  const anytime = sm.anytime.phases.includes(st.phase) ? [...sm.anytime.send] : [];
  const backend = uniq([...st.send.flatMap((r) => r.messages), ...anytime]);
  return { state: st.name, speaker: st.speaker, frontend, backend };
}

/** For each distinct state a message leads to, what may come next there. */
export function followUps(model: SpecModel, occ: readonly Occurrence[]): FollowUp[] {
  const targets = [...new Set(occ.filter((o) => o.action === 'accept').map((o) => o.to))];
  return targets.map((t) => expectedIn(model, stateByName(model, t)));
}

/** The phases of the states a message may be sent in. */
export function phasesOf(model: SpecModel, occ: readonly Occurrence[]): Phase[] {
  const set = new Set(occ.map((o) => stateByName(model, o.state).phase));
  return PHASES.filter((p) => set.has(p));
}

/** Where the message sits on the wire, in words: the type byte, startup code or reply byte. */
export function wireId(m: MessageModel): string {
  if (m.framing === 'startup') return m.discriminator?.value !== undefined ? `startup packet, code ${m.discriminator.value}` : 'startup packet (protocol version in place of a code)';
  const disc = m.discriminator?.value !== undefined ? `, ${m.discriminator.field} ${m.discriminator.value}` : '';
  return `type byte '${m.typeByte}'${disc}`;
}
