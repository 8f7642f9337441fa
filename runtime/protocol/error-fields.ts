/** ErrorResponse / NoticeResponse fields as a record with names, and back. */
import { ErrorField, STATE_MACHINE, errorFieldName, type ErrorResponse, type NoticeResponse, type StateErrorName } from '../../generated/index.js';
import { fillErrorText, type ErrorTextDetails } from './state-machine.js';

/** The fields of an error or notice, keyed by the ErrorField member names (severity, code, message...). */
export interface ErrorInfo {
  readonly severity: string;
  readonly code: string;
  readonly message: string;
  readonly severityNonLocalized?: string;
  readonly detail?: string;
  readonly hint?: string;
  readonly position?: string;
  readonly internalPosition?: string;
  readonly internalQuery?: string;
  readonly where?: string;
  readonly schemaName?: string;
  readonly tableName?: string;
  readonly columnName?: string;
  readonly dataTypeName?: string;
  readonly constraintName?: string;
  readonly file?: string;
  readonly line?: string;
  readonly routine?: string;
}

const lowerFirst = (s: string): string => s.charAt(0).toLowerCase() + s.slice(1);
const ORDER = Object.entries(ErrorField) as [string, string][];

/** Fields in PostgreSQL's order; `severityNonLocalized` defaults to `severity`. */
export function errorFields(info: ErrorInfo): { code: string; value: string }[] {
  const record = info as unknown as Record<string, string | undefined>;
  const out: { code: string; value: string }[] = [];
  for (const [member, code] of ORDER) {
    const key = lowerFirst(member);
    const value = key === 'severityNonLocalized' ? (info.severityNonLocalized ?? info.severity) : record[key];
    if (value !== undefined) out.push({ code, value });
  }
  return out;
}

export function errorResponse(info: ErrorInfo): ErrorResponse {
  return { type: 'ErrorResponse', fields: errorFields(info) };
}

export function noticeResponse(info: ErrorInfo): NoticeResponse {
  return { type: 'NoticeResponse', fields: errorFields(info) };
}

/** Reads the fields of a decoded ErrorResponse or NoticeResponse; unknown codes are ignored, as clients must. */
export function readErrorFields(m: ErrorResponse | NoticeResponse): ErrorInfo {
  const out: Record<string, string> = {};
  for (const f of m.fields) {
    const name = errorFieldName(f.code);
    if (name !== undefined) out[lowerFirst(name)] = f.value;
  }
  return out as unknown as ErrorInfo;
}

/**
 * One of the spec's state-machine errors (its severity, SQLSTATE and PostgreSQL's text, with what
 * it names filled in) as ErrorInfo.
 */
export function stateError(name: StateErrorName, details: ErrorTextDetails = {}): ErrorInfo {
  const e = STATE_MACHINE.errors[name];
  return { severity: e.severity, code: e.sqlstate, message: fillErrorText(e.message, details) };
}
