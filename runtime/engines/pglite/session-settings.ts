/**
 * Run-time settings (SET, set_config, startup parameters) belong to the one shared backend, so each
 * client session keeps its own list, and the backend is switched over when the next session that
 * holds it has a different list. The list is read back from the backend only when the session may
 * have changed something (reading pg_settings costs milliseconds), and a switch costs one call.
 */
import type { BackendMessage, FrontendMessage } from '../../../generated/index.js';
import { ValueList } from '../../wire/index.js';

/** A session's non-default settings: name and value, as pg_settings reports them. */
export type Settings = ReadonlyArray<readonly [name: string, value: string]>;

/** The parameters PostgreSQL 18 reports with ParameterStatus (GUC_REPORT), in the order it sends them. */
export const REPORTED_PARAMETERS = [
  'in_hot_standby',
  'integer_datetimes',
  'TimeZone',
  'IntervalStyle',
  'search_path',
  'is_superuser',
  'application_name',
  'default_transaction_read_only',
  'scram_iterations',
  'DateStyle',
  'standard_conforming_strings',
  'session_authorization',
  'client_encoding',
  'server_version',
  'server_encoding',
] as const;

/**
 * Reads the settings a session has changed. role and session_authorization are not in pg_settings;
 * `baseUser` is the user the backend runs as by default.
 */
export function captureSettingsSql(baseUser: string): string {
  return [
    "select name, setting from pg_settings where source = 'session'",
    "union all select 'role', current_setting('role') where current_setting('role') <> 'none'",
    `union all select 'session_authorization', session_user::text where session_user <> ${quoteLiteral(baseUser)}`,
  ].join(' ');
}

export function quoteLiteral(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** StartupMessage parameters that are not run-time settings. */
const NOT_SETTINGS = new Set(['user', 'database', 'replication', 'options']);

/**
 * The run-time settings a StartupMessage asks for: its GUC parameters, then the `-c name=value` and
 * `--name=value` switches of `options` (backslash escapes a space, as in libpq).
 */
export function startupSettings(parameters: Readonly<Record<string, string>>): [string, string][] {
  const out: [string, string][] = [];
  for (const [name, value] of Object.entries(parameters)) {
    if (NOT_SETTINGS.has(name) || name.startsWith('_pq_.')) continue;
    out.push([name, value]);
  }
  const options = parameters['options'];
  if (options) {
    const words = splitOptions(options);
    for (let i = 0; i < words.length; i++) {
      let w = words[i]!;
      if (w === '-c' && i + 1 < words.length) w = words[++i]!;
      else if (w.startsWith('-c')) w = w.slice(2);
      else if (w.startsWith('--')) w = w.slice(2);
      else continue;
      const eq = w.indexOf('=');
      if (eq > 0) out.push([w.slice(0, eq).replace(/-/g, '_'), w.slice(eq + 1)]);
    }
  }
  return out;
}

function splitOptions(s: string): string[] {
  const words: string[] = [];
  let cur = '';
  let has = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      has = true;
    } else if (c === ' ' || c === '\t') {
      if (has) words.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (has) words.push(cur);
  return words;
}

/**
 * The messages that make the backend's settings `settings`, starting from whatever the previous
 * session left: back to the defaults (RESET ALL leaves the user and role alone, hence the first two), then
 * each setting. Parameters keep values free of any quoting; client_encoding goes last so the
 * others are read as UTF-8.
 */
export function applySettingsMessages(settings: Settings, baseUser: string): FrontendMessage[] {
  // Not SESSION AUTHORIZATION DEFAULT: in PGlite's single-user backend its default is empty, a no-op.
  const identity = `"${baseUser.replace(/"/g, '""')}"`;
  const out: FrontendMessage[] = [{ type: 'Query', query: `SET SESSION AUTHORIZATION ${identity}; RESET ROLE; RESET ALL` }];
  if (settings.length === 0) return out;
  const ordered = [...settings].sort((a, b) => rank(a[0]) - rank(b[0]));
  out.push({ type: 'Parse', statement: '', query: 'select set_config($1, $2, false)', parameterTypes: [] });
  for (const [name, value] of ordered) {
    out.push({ type: 'Bind', portal: '', statement: '', parameterFormats: [], parameters: ValueList.from([name, value]), resultFormats: [] });
    out.push({ type: 'Execute', portal: '', maxRows: 0 });
  }
  out.push({ type: 'Sync' });
  return out;
}

function rank(name: string): number {
  if (name === 'session_authorization') return 0;
  if (name === 'role') return 1;
  if (name.toLowerCase() === 'client_encoding') return 3;
  return 2;
}

/** Whether a command's output says the session's settings may have changed. */
export function changesSettings(m: BackendMessage): boolean {
  if (m.type === 'ParameterStatus') return true;
  return m.type === 'CommandComplete' && (m.tag === 'SET' || m.tag === 'RESET' || m.tag === 'DISCARD ALL');
}

/** Whether a statement's text may change settings without a SET tag. */
export function mayChangeSettings(sql: string): boolean {
  return /set_config/i.test(sql);
}
