import * as path from 'node:path';
import type { Node } from 'constructs';

/**
 * The Lambda functions, keyed by route group; the key is also the construct id stem. The sync
 * group is deployed twice from one binary: `sync` behind API Gateway (buffered answers, ~4.4 MB)
 * and `syncStream` behind its own function URL (streamed answers, full downloads up to 20 MB).
 */
export const FUNCTION_KEYS = ['auth', 'review', 'crud', 'export', 'sync', 'syncStream', 'flushHandler'] as const;
export type FunctionKey = (typeof FUNCTION_KEYS)[number];

/** The cargo-lambda binary of each function: `<lambdaDir>/<bin>/bootstrap.zip`. */
export const FUNCTION_BINS: Record<FunctionKey, string> = {
  auth: 'javumbo-auth',
  review: 'javumbo-review',
  crud: 'javumbo-crud',
  export: 'javumbo-export',
  sync: 'javumbo-sync-fn',
  syncStream: 'javumbo-sync-fn',
  flushHandler: 'javumbo-flush-handler',
};

/** Retention values CloudWatch Logs accepts; anything else is rejected at deploy time. */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
  3288, 3653,
];

export interface JavumboConfig {
  /** Absolute directory holding `<bin>/bootstrap.zip` for every function. */
  readonly lambdaDir: string;
  /**
   * Target the local emulator (ministack): no metric-math alarms (it rejects them) and `web`
   * defaults to false (CloudFront and BucketDeployment's custom resource cannot run there).
   */
  readonly emulator: boolean;
  /** Deploy the static web app to S3 + CloudFront (needs CDK's BucketDeployment custom resource). */
  readonly web: boolean;
  /** Absolute directory of the static web app (index.html at its root). */
  readonly webDir: string;
  /** Browser origins allowed to call the API, in addition to the CloudFront origin when `web`. */
  readonly corsOrigins: string[];
  readonly arch: 'x86_64' | 'arm64';
  readonly logRetentionDays: number;
  /** Reserved concurrency per function; absent keys get none (see README for why that is the default). */
  readonly reservedConcurrency: Partial<Record<FunctionKey, number>>;
  /** Steady-state requests per second and burst for the whole API stage. */
  readonly throttleRate: number;
  readonly throttleBurst: number;
  /** Stricter limits on the login/register routes: password guessing is the abuse that matters. */
  readonly authThrottleRate: number;
  readonly authThrottleBurst: number;
  /**
   * Per-source limit at the edge (finding j): requests per 5 minutes per client IP on the
   * credential routes, enforced by a WAF rate-based rule on a CloudFront distribution in front
   * of the API (lib/edge.ts). 0 (the default) = no CloudFront, no WAF.
   */
  readonly wafRateLimit: number;
  /** With `wafRateLimit`: the looser per-IP limit on every path, per 5 minutes. */
  readonly wafBlanketRateLimit: number;
  /** Optional e-mail address subscribed to the alarm topic. */
  readonly alarmEmail?: string;
  /**
   * Journal entries past the snapshot before a flush (compaction) is requested over SNS
   * (`JAVUMBO_COMPACT_AFTER`). The emulator test sets it low so every few writes exercise the
   * SNS → flush-handler path.
   */
  readonly compactAfter: number;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(`javumbo CDK context: ${message}`);
    this.name = 'ConfigError';
  }
}

/** `cdk -c key=value` always yields strings; tests may pass real booleans and numbers. */
function bool(name: string, raw: unknown, fallback: boolean): boolean {
  if (raw === undefined || raw === null || raw === '') return fallback;
  if (raw === true || raw === 'true') return true;
  if (raw === false || raw === 'false') return false;
  throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(raw)}`);
}

function positiveInt(name: string, raw: unknown, fallback: number): number {
  if (raw === undefined || raw === null || raw === '') return fallback;
  const n = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    throw new ConfigError(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** What WAF accepts as a rate-based rule's limit (requests per evaluation window). */
export const WAF_RATE_LIMIT_MIN = 10;
export const WAF_RATE_LIMIT_MAX = 2_000_000_000;
/** The blanket limit when only `wafRateLimit` is given: WAF's console default, or 10× the credential limit. */
const WAF_BLANKET_DEFAULT = 2000;

function wafLimits(rawLimit: unknown, rawBlanket: unknown, emulator: boolean): [number, number] {
  const limit = positiveInt('wafRateLimit', rawLimit, 0);
  const blanketGiven = !(rawBlanket === undefined || rawBlanket === null || rawBlanket === '');
  if (limit === 0) {
    if (blanketGiven) throw new ConfigError('wafBlanketRateLimit only applies with wafRateLimit');
    return [0, 0];
  }
  const inRange = (n: number) => n >= WAF_RATE_LIMIT_MIN && n <= WAF_RATE_LIMIT_MAX;
  if (!inRange(limit)) {
    throw new ConfigError(
      `wafRateLimit must be 0 (off) or ${WAF_RATE_LIMIT_MIN}..${WAF_RATE_LIMIT_MAX} requests per 5 minutes per IP, got ${limit}`,
    );
  }
  if (emulator) {
    throw new ConfigError('wafRateLimit needs CloudFront and WAF, which the emulator cannot run; drop it or emulator=true');
  }
  const blanket = positiveInt(
    'wafBlanketRateLimit',
    rawBlanket,
    Math.min(WAF_RATE_LIMIT_MAX, Math.max(WAF_BLANKET_DEFAULT, 10 * limit)),
  );
  if (!inRange(blanket) || blanket <= limit) {
    throw new ConfigError(
      `wafBlanketRateLimit must be above wafRateLimit (${limit}) and at most ${WAF_RATE_LIMIT_MAX}, got ${blanket}`,
    );
  }
  return [limit, blanket];
}

function dir(raw: unknown, fallback: string): string {
  const value = typeof raw === 'string' && raw !== '' ? raw : fallback;
  return path.resolve(value);
}

/**
 * Origins must be exact `scheme://host[:port]` values: the API sends credentials-bearing
 * requests (a bearer token), so a wildcard would let any site drive a logged-in user's session.
 */
export function parseCorsOrigins(raw: unknown): string[] {
  const list =
    Array.isArray(raw) ? raw.map(String)
    : typeof raw === 'string' ? raw.split(',')
    : raw === undefined || raw === null ? []
    : [String(raw)];
  const origins = list.map((o) => o.trim()).filter((o) => o !== '');
  for (const origin of origins) {
    if (origin.includes('*')) {
      throw new ConfigError(`corsOrigins must not contain a wildcard (got ${origin})`);
    }
    if (!/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/.test(origin)) {
      throw new ConfigError(`corsOrigins entry ${JSON.stringify(origin)} is not scheme://host[:port]`);
    }
  }
  return [...new Set(origins)];
}

function parseReserved(raw: unknown): Partial<Record<FunctionKey, number>> {
  if (raw === undefined || raw === null || raw === '') return {};
  let obj: unknown = raw;
  if (typeof raw === 'string') {
    try {
      obj = JSON.parse(raw);
    } catch {
      throw new ConfigError(`reservedConcurrency must be JSON like {"flushHandler":5}, got ${raw}`);
    }
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new ConfigError('reservedConcurrency must be an object keyed by function');
  }
  const out: Partial<Record<FunctionKey, number>> = {};
  for (const [key, value] of Object.entries(obj)) {
    if (!(FUNCTION_KEYS as readonly string[]).includes(key)) {
      throw new ConfigError(`reservedConcurrency: unknown function ${key} (one of ${FUNCTION_KEYS.join(', ')})`);
    }
    out[key as FunctionKey] = positiveInt(`reservedConcurrency.${key}`, value, 0);
  }
  return out;
}

/** Reads every knob from CDK context (`-c name=value` or cdk.json), with production defaults. */
export function configFromContext(node: Node): JavumboConfig {
  const ctx = (name: string): unknown => node.tryGetContext(name);
  const arch = ctx('arch') ?? 'x86_64';
  if (arch !== 'x86_64' && arch !== 'arm64') {
    throw new ConfigError(`arch must be x86_64 or arm64, got ${JSON.stringify(arch)}`);
  }
  const logRetentionDays = positiveInt('logRetentionDays', ctx('logRetentionDays'), 30);
  if (!LOG_RETENTION_DAYS.includes(logRetentionDays)) {
    throw new ConfigError(`logRetentionDays must be one of ${LOG_RETENTION_DAYS.join(', ')}`);
  }
  const compactAfter = positiveInt('compactAfter', ctx('compactAfter'), 64);
  if (compactAfter < 1) throw new ConfigError('compactAfter must be at least 1');
  const email = ctx('alarmEmail');
  const emulator = bool('emulator', ctx('emulator'), false);
  const [wafRateLimit, wafBlanketRateLimit] = wafLimits(ctx('wafRateLimit'), ctx('wafBlanketRateLimit'), emulator);
  return {
    lambdaDir: dir(ctx('lambdaDir'), '../target/lambda'),
    emulator,
    web: bool('web', ctx('web'), !emulator),
    webDir: dir(ctx('webDir'), '../shared/web/static'),
    corsOrigins: parseCorsOrigins(ctx('corsOrigins')),
    arch,
    logRetentionDays,
    reservedConcurrency: parseReserved(ctx('reservedConcurrency')),
    throttleRate: positiveInt('throttleRate', ctx('throttleRate'), 200),
    throttleBurst: positiveInt('throttleBurst', ctx('throttleBurst'), 400),
    authThrottleRate: positiveInt('authThrottleRate', ctx('authThrottleRate'), 10),
    authThrottleBurst: positiveInt('authThrottleBurst', ctx('authThrottleBurst'), 20),
    wafRateLimit,
    wafBlanketRateLimit,
    alarmEmail: typeof email === 'string' && email !== '' ? email : undefined,
    compactAfter,
  };
}
