import { describe, expect, it } from 'vitest';
import { saslprep, SaslprepError, scramPasswordBytes } from '../../runtime/auth/saslprep.js';

describe('SASLprep (RFC 4013 section 3 examples)', () => {
  it.each([
    ['I\u00ADX', 'IX'], // soft hyphen mapped to nothing
    ['user', 'user'],
    ['USER', 'USER'], // case preserved
    ['\u00AA', 'a'], // NFKC
    ['\u2168', 'IX'], // NFKC: ROMAN NUMERAL NINE
  ])('prepares %j as %j', (input, output) => {
    expect(saslprep(input)).toBe(output);
  });

  it('refuses a prohibited character (U+0007)', () => {
    expect(() => saslprep('\u0007')).toThrow(SaslprepError);
    expect(() => saslprep('\u0007')).toThrow(/prohibited/);
  });

  it('refuses a failed bidirectional check (U+0627 U+0031)', () => {
    expect(() => saslprep('\u0627\u0031')).toThrow(/bidi/);
  });

  it('accepts right-to-left text that starts and ends with an R/AL character', () => {
    expect(saslprep('\u0627\u0031\u0628')).toBe('\u0627\u0031\u0628');
  });

  it('maps non-ASCII spaces to U+0020 and refuses unassigned code points', () => {
    expect(saslprep('a\u00A0b\u3000c')).toBe('a b c');
    expect(() => saslprep('a\u0221')).toThrow(/unassigned/); // unassigned in Unicode 3.2
    expect(() => saslprep('\uE000')).toThrow(/prohibited/); // private use
  });
});

describe('the password bytes SCRAM hashes (PostgreSQL rules)', () => {
  it('uses ASCII passwords unchanged, even with characters SASLprep prohibits', () => {
    expect(scramPasswordBytes('pass\u0007word')).toEqual(Buffer.from('pass\u0007word'));
  });

  it('uses the SASLprep result when there is one', () => {
    expect(scramPasswordBytes('I\u00ADX')).toEqual(Buffer.from('IX'));
    expect(scramPasswordBytes('\u2168')).toEqual(Buffer.from('IX'));
  });

  it('falls back to the raw bytes when SASLprep fails or the input is not UTF-8', () => {
    expect(scramPasswordBytes('\u0627\u0031')).toEqual(Buffer.from('\u0627\u0031', 'utf8'));
    expect(scramPasswordBytes('\u00AD')).toEqual(Buffer.from('\u00AD', 'utf8')); // maps to empty
    const latin1 = Buffer.from([0x70, 0xe9, 0x70]);
    expect(scramPasswordBytes(latin1)).toEqual(latin1);
  });
});
