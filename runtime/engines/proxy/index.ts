/** The proxy engine: client sessions relayed to an upstream PostgreSQL-protocol server. */
export { ProxyEngine, type ProxyEngineOptions } from './proxy-engine.js';
export { ProxySession, type ProxySessionContext, type ViolationReport } from './proxy-session.js';
export { UpstreamConnection, UpstreamViolation, type UpstreamLogin } from './upstream.js';
export { parseUpstreamUrl, type UpstreamTarget } from './upstream-url.js';
