/** What a client connection is told to do, and the StartupMessage parameters that follow from it. */
import { PROTOCOL_VERSIONS, type StartupParameter } from '../../generated/index.js';
import type { ProtocolExtension } from '../protocol/extension.js';
import type { NoticeListener, NotificationListener } from './events.js';

/** libpq's sslmode, reduced to what a client decides on its own: try TLS, insist on it, or never. */
export type TlsMode = 'disable' | 'prefer' | 'require';

export type ProtocolVersionName = (typeof PROTOCOL_VERSIONS)[number]['name'];

export interface ConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password?: string;
  /** Defaults to the user name (the server's default too). */
  readonly database?: string;
  /** Default `prefer`: ask for TLS and go on in plaintext if the server has none. */
  readonly tls?: TlsMode;
  /** Certificates to trust (PEM). When given, the server certificate is verified by default. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /** Verify the server certificate; default true when `ca` is given, false otherwise (like libpq's sslmode=require). */
  readonly rejectUnauthorized?: boolean;
  /** The name the certificate must carry (and TLS SNI); default the host, when it is not an IP address. */
  readonly servername?: string;
  /** SCRAM channel binding, as libpq's `channel_binding`; default `prefer`. */
  readonly channelBinding?: 'disable' | 'prefer' | 'require';
  /** Default 3.0; with 3.2 the server may answer NegotiateProtocolVersion with an older version. */
  readonly protocolVersion?: ProtocolVersionName;
  /** More StartupMessage parameters: GUCs (application_name...) and `_pq_.` protocol options. */
  readonly options?: Readonly<Record<string, string>>;
  /**
   * Protocol extensions to decode and allow. Each one's `_pq_.` option is sent as `on` unless
   * `options` already gives it a value.
   */
  readonly extensions?: readonly ProtocolExtension[];
  readonly onNotice?: NoticeListener;
  readonly onNotification?: NotificationListener;
  /** Give up connecting (TCP, TLS and login) after this long; default 30 s. */
  readonly connectTimeoutMs?: number;
}

export function protocolVersionCode(name: ProtocolVersionName | undefined): number {
  const v = PROTOCOL_VERSIONS.find((p) => p.name === (name ?? '3.0'));
  if (v === undefined) throw new RangeError(`unknown protocol version ${String(name)}`);
  return v.code;
}

/** The StartupMessage parameters, user and database first as libpq sends them. */
export function startupParameters(o: ConnectOptions): StartupParameter[] {
  const params = new Map<string, string>([['user', o.user]]);
  params.set('database', o.database ?? o.user);
  for (const [name, value] of Object.entries(o.options ?? {})) params.set(name, value);
  for (const ext of o.extensions ?? []) {
    if (ext.option !== undefined && !params.has(ext.option)) params.set(ext.option, 'on');
  }
  return [...params].map(([name, value]) => ({ name, value }));
}
