import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, parseCorsOrigins } from '../lib/config';
import { FIXTURES, makeStack, synth } from './helpers';

describe('context validation', () => {
  it('CORS origins are trimmed, de-duplicated and must be exact origins', () => {
    assert.deepEqual(parseCorsOrigins(' https://a.example , https://a.example,http://localhost:8080,'), [
      'https://a.example',
      'http://localhost:8080',
    ]);
    assert.deepEqual(parseCorsOrigins(undefined), []);
    assert.deepEqual(parseCorsOrigins(['https://b.example']), ['https://b.example']);
  });

  it('a wildcard origin is refused', () => {
    assert.throws(() => parseCorsOrigins('*'), ConfigError);
    assert.throws(() => parseCorsOrigins('https://*.example.org'), /wildcard/);
    assert.throws(() => makeStack({ corsOrigins: '*' }), /wildcard/);
  });

  it('an origin with a path or no scheme is refused', () => {
    assert.throws(() => parseCorsOrigins('https://a.example/app'), ConfigError);
    assert.throws(() => parseCorsOrigins('a.example'), ConfigError);
  });

  it('missing function zips fail with a hint to build them', () => {
    assert.throws(
      () => makeStack({ lambdaDir: path.join(FIXTURES.lambdaDir, 'nowhere') }),
      /javumbo-auth\/bootstrap\.zip not found: build the functions first/,
    );
  });

  it('bad values are refused instead of silently defaulted', () => {
    assert.throws(() => makeStack({ web: 'yes' }), /web must be true or false/);
    assert.throws(() => makeStack({ arch: 'arm' }), /arch must be/);
    assert.throws(() => makeStack({ logRetentionDays: '31' }), /logRetentionDays must be one of/);
    assert.throws(() => makeStack({ throttleRate: '-1' }), /non-negative integer/);
    assert.throws(() => makeStack({ reservedConcurrency: '{"nope":1}' }), /unknown function nope/);
    assert.throws(() => makeStack({ reservedConcurrency: 'flushHandler=1' }), /must be JSON/);
    assert.throws(() => makeStack({ compactAfter: '0' }), /compactAfter must be at least 1/);
    assert.throws(() => makeStack({ compactAfter: 'often' }), /compactAfter must be a non-negative integer/);
  });

  it('compactAfter reaches every function as JAVUMBO_COMPACT_AFTER', () => {
    const t = synth({ compactAfter: '4' });
    const fns = Object.values(t.toJSON().Resources as Record<string, any>).filter(
      (r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.JAVUMBO_BACKEND,
    );
    assert.equal(fns.length, 7);
    for (const f of fns) assert.equal(f.Properties.Environment.Variables.JAVUMBO_COMPACT_AFTER, '4');
  });
});
