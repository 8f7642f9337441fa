/** Authentication primitives: SCRAM-SHA-256(-PLUS), md5, cleartext checks, the user table. */
export * from './errors.js';
export * from './saslprep.js';
export * from './scram.js';
export * from './channel-binding.js';
export * from './md5.js';
export * from './password.js';
export * from './users.js';
