import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, type Environment } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { configFromContext, FUNCTION_BINS } from '../lib/config';
import { JavumboStack } from '../lib/javumbo-stack';

/** Dummy build outputs: synthesis only hashes and stages them, it never runs them. */
function fixtures(): { lambdaDir: string; webDir: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'javumbo-cdk-test-'));
  const lambdaDir = path.join(root, 'lambda');
  for (const bin of Object.values(FUNCTION_BINS)) {
    fs.mkdirSync(path.join(lambdaDir, bin), { recursive: true });
    // Distinct contents so each function gets its own asset, as with real builds.
    fs.writeFileSync(path.join(lambdaDir, bin, 'bootstrap.zip'), `not a real zip: ${bin}`);
  }
  const webDir = path.join(root, 'web');
  fs.mkdirSync(webDir);
  fs.writeFileSync(path.join(webDir, 'index.html'), '<!doctype html><title>javumbo</title>');
  // A stale local config.js must be replaced by the generated one, never uploaded.
  fs.writeFileSync(path.join(webDir, 'config.js'), 'window.JAVUMBO_API_BASE = "http://127.0.0.1:8080";');
  return { lambdaDir, webDir };
}

export const FIXTURES = fixtures();

/** `env` pins account/region as `bin/app.ts` does when the CLI knows them; none = environment-agnostic. */
export function makeStack(context: Record<string, unknown> = {}, env?: Environment): JavumboStack {
  const app = new App({
    context: { lambdaDir: FIXTURES.lambdaDir, webDir: FIXTURES.webDir, web: false, ...context },
  });
  return new JavumboStack(app, 'Javumbo', { config: configFromContext(app.node), env });
}

const cache = new Map<string, Template>();

/** Synthesis costs ~1 s; tests that read the same configuration share one template. */
export function synth(context: Record<string, unknown> = {}): Template {
  const key = JSON.stringify(context);
  let t = cache.get(key);
  if (!t) {
    t = Template.fromStack(makeStack(context));
    cache.set(key, t);
  }
  return t;
}

export type Resources = Record<
  string,
  { Type: string; Properties?: any; DependsOn?: string[]; DeletionPolicy?: string }
>;

export function resources(t: Template): Resources {
  return t.toJSON().Resources as Resources;
}

/** The single logical id of the resource of `type` whose id starts with `prefix`. */
export function logicalId(t: Template, type: string, prefix: string): string {
  const ids = Object.keys(t.findResources(type)).filter((id) => id.startsWith(prefix));
  if (ids.length !== 1) throw new Error(`expected one ${type} ${prefix}*, found ${ids.join(', ') || 'none'}`);
  return ids[0];
}

export const asArray = <T>(x: T | T[]): T[] => (Array.isArray(x) ? x : [x]);
