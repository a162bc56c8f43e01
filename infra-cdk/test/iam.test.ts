import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Template } from 'aws-cdk-lib/assertions';
import { FUNCTION_KEYS, type FunctionKey } from '../lib/config';
import { asArray, logicalId, resources, synth } from './helpers';

const FN_PREFIX: Record<FunctionKey, string> = {
  auth: 'AuthFunction',
  review: 'ReviewFunction',
  crud: 'CrudFunction',
  export: 'ExportFunction',
  sync: 'SyncFunction',
  syncStream: 'SyncStreamFunction',
  flushHandler: 'FlushHandlerFunction',
};

/** Resource → short name ("users", "bucket/user_dbs/*", ...) so expectations read like the design. */
function namer(t: Template): (resource: unknown) => string {
  const ids: Record<string, string> = {
    [logicalId(t, 'AWS::DynamoDB::GlobalTable', 'UsersTable')]: 'users',
    [logicalId(t, 'AWS::DynamoDB::GlobalTable', 'SessionsTable')]: 'sessions',
    [logicalId(t, 'AWS::DynamoDB::GlobalTable', 'JournalTable')]: 'journal',
    [logicalId(t, 'AWS::S3::Bucket', 'DataBucket')]: 'bucket',
    [logicalId(t, 'AWS::SNS::Topic', 'FlushTopic')]: 'topic',
    [logicalId(t, 'AWS::SecretsManager::Secret', 'JwtSecret')]: 'secret',
    [logicalId(t, 'AWS::SQS::Queue', 'FlushDlq')]: 'dlq',
  };
  return (r: any): string => {
    if (typeof r === 'string') return r;
    if (r.Ref) return ids[r.Ref] ?? r.Ref;
    if (r['Fn::GetAtt']) return ids[r['Fn::GetAtt'][0]] ?? r['Fn::GetAtt'][0];
    if (r['Fn::Join']) {
      const [first, ...rest] = r['Fn::Join'][1];
      return `${(ids[first['Fn::GetAtt']?.[0]] ?? JSON.stringify(first))}${rest.join('')}`;
    }
    return JSON.stringify(r);
  };
}

/** A statement's condition as text, e.g. `if StringLike s3:prefix journal/*|user_dbs/*` (values sorted). */
function conditionOf(s: any): string {
  if (!s.Condition) return '';
  const parts: string[] = [];
  for (const [op, keys] of Object.entries(s.Condition as Record<string, Record<string, unknown>>)) {
    for (const [key, values] of Object.entries(keys)) parts.push(`${op} ${key} ${asArray(values as string).sort().join('|')}`);
  }
  return ` if ${parts.sort().join(' and ')}`;
}

/** The statements of the inline policies attached to `key`'s role. */
function statementsOf(t: Template, key: FunctionKey): any[] {
  const res = resources(t);
  const fn = res[logicalId(t, 'AWS::Lambda::Function', FN_PREFIX[key])]!;
  const roleId = fn.Properties.Role['Fn::GetAtt'][0];
  return Object.values(res)
    .filter((p) => p.Type === 'AWS::IAM::Policy' && p.Properties.Roles.some((r: any) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}

/** The role's inline policy flattened to "action on resource[ if condition]" strings, sorted. */
function grantsOf(t: Template, key: FunctionKey): string[] {
  const name = namer(t);
  const out: string[] = [];
  for (const s of statementsOf(t, key)) {
    assert.equal(s.Effect, 'Allow');
    for (const a of asArray(s.Action)) for (const r of asArray(s.Resource)) out.push(`${a} on ${name(r)}${conditionOf(s)}`);
  }
  return out.sort();
}

const expand = (actions: string[], targets: string[]): string[] =>
  actions.flatMap((a) => targets.map((r) => `${a} on ${r}`));
/** Bucket-level listing, limited to `prefixes` (written without the trailing "/*"). */
const listing = (actions: string[], prefixes: string[]): string[] =>
  actions.map((a) => `${a} on bucket if StringLike s3:prefix ${prefixes.map((p) => `${p}/*`).sort().join('|')}`);
const STATE_RW = [
  'dynamodb:GetItem',
  'dynamodb:Query',
  'dynamodb:ConditionCheckItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
];
const SECRET = expand(['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], ['secret']);
const OBJECT_RW = ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'];
const BLOBS_RW = [
  ...expand(OBJECT_RW, ['bucket/user_dbs/*', 'bucket/journal/*']),
  ...listing(['s3:ListBucket'], ['user_dbs', 'journal']),
];
/** Collection blobs plus the user's media (`media/<user key>/<sha256>`). */
const BLOBS_RW_MEDIA = [
  ...expand(OBJECT_RW, ['bucket/user_dbs/*', 'bucket/journal/*', 'bucket/media/*']),
  ...listing(['s3:ListBucket'], ['user_dbs', 'journal', 'media']),
];
/** Export also hands out and takes in large packages through presigned URLs (`transfers/`). */
const BLOBS_RW_TRANSFERS = [
  ...expand(OBJECT_RW, ['bucket/user_dbs/*', 'bucket/journal/*', 'bucket/media/*', 'bucket/transfers/*']),
  ...listing(['s3:ListBucket'], ['user_dbs', 'journal', 'media', 'transfers']),
];
const collection = (blobs: string[]): string[] => [
  'dynamodb:GetItem on users',
  ...expand(STATE_RW, ['sessions', 'journal']),
  ...blobs,
  'sns:Publish on topic',
  ...SECRET,
];

/** A collection function that also writes device keys on the user's item, and syncs media. */
const SYNC = [
  ...expand(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], ['users']),
  ...collection(BLOBS_RW_MEDIA).filter((g) => g !== 'dynamodb:GetItem on users'),
];

const EXPECTED: Record<FunctionKey, string[]> = {
  auth: [
    // register/login/logout/password; account deletion removes the user's item.
    ...expand(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'], ['users']),
    // Account deletion: the session item, the journal entries, every version of every blob.
    ...expand(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem'], ['sessions']),
    ...expand(['dynamodb:Query', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'], ['journal']),
    ...expand(['s3:GetObject', 's3:PutObject'], ['bucket/user_dbs/*']),
    ...expand(['s3:DeleteObject', 's3:DeleteObjectVersion'], ['bucket/user_dbs/*', 'bucket/journal/*', 'bucket/media/*']),
    ...listing(['s3:ListBucket', 's3:ListBucketVersions'], ['user_dbs', 'journal', 'media']),
    ...SECRET,
  ],
  review: collection(BLOBS_RW),
  crud: collection(BLOBS_RW_MEDIA),
  export: collection(BLOBS_RW_TRANSFERS),
  sync: SYNC,
  // The same code behind its function URL: the same grants, no more.
  syncStream: SYNC,
  flushHandler: [...expand(STATE_RW, ['sessions', 'journal']), ...BLOBS_RW, 'sqs:SendMessage on dlq'],
};

for (const web of [false, true]) {
  describe(`least privilege (web=${web})`, () => {
    const t = synth({ web });

    for (const key of FUNCTION_KEYS) {
      it(`${key}: exactly the grants its code path needs`, () => {
        assert.deepEqual(grantsOf(t, key), [...EXPECTED[key]].sort());
      });
    }

    it('each function has its own role with only the basic execution managed policy', () => {
      const res = resources(t);
      const roles = new Set<string>();
      for (const key of FUNCTION_KEYS) {
        const roleId = res[logicalId(t, 'AWS::Lambda::Function', FN_PREFIX[key])]!.Properties.Role['Fn::GetAtt'][0];
        roles.add(roleId);
        const managed = JSON.stringify(res[roleId]!.Properties.ManagedPolicyArns);
        assert.match(managed, /service-role\/AWSLambdaBasicExecutionRole/);
        assert.equal(res[roleId]!.Properties.ManagedPolicyArns.length, 1);
      }
      assert.equal(roles.size, FUNCTION_KEYS.length);
    });

    it('media/* objects: read and written by crud, export and both sync functions, deleted by auth, untouched by review and the flush handler', () => {
      const onMedia = (key: FunctionKey) =>
        grantsOf(t, key)
          .filter((g) => g.includes(' on bucket/media/*'))
          .map((g) => g.split(' ')[0])
          .sort();
      for (const key of ['crud', 'export', 'sync', 'syncStream'] as const) {
        assert.deepEqual(onMedia(key), ['s3:DeleteObject', 's3:GetObject', 's3:PutObject'], key);
      }
      assert.deepEqual(onMedia('auth'), ['s3:DeleteObject', 's3:DeleteObjectVersion']);
      assert.deepEqual(onMedia('review'), []);
      assert.deepEqual(onMedia('flushHandler'), []);
    });

    it('bucket listing is always limited by s3:prefix to prefixes whose objects the same role may touch', () => {
      const bucket = logicalId(t, 'AWS::S3::Bucket', 'DataBucket');
      let listings = 0;
      for (const key of FUNCTION_KEYS) {
        const statements = statementsOf(t, key);
        const objectPrefixes = new Set(
          statements.flatMap((s) =>
            asArray(s.Resource)
              .map((r: any) => r['Fn::Join']?.[1])
              .filter((parts: any) => parts && parts[0]?.['Fn::GetAtt']?.[0] === bucket)
              .map((parts: any[]) => parts.slice(1).join('').replace(/^\//, '')),
          ),
        );
        for (const s of statements) {
          const actions = asArray(s.Action) as string[];
          if (!actions.some((a) => a.startsWith('s3:ListBucket'))) continue;
          listings++;
          assert.deepEqual(asArray(s.Resource), [{ 'Fn::GetAtt': [bucket, 'Arn'] }], key);
          assert.deepEqual(Object.keys(s.Condition ?? {}), ['StringLike'], `${key}: ListBucket without a prefix condition`);
          assert.deepEqual(Object.keys(s.Condition.StringLike), ['s3:prefix'], key);
          for (const p of asArray(s.Condition.StringLike['s3:prefix']) as string[]) {
            assert.match(p, /^[a-z_]+\/\*$/, `${key}: ${p}`);
            assert.ok(objectPrefixes.has(p), `${key} may list ${p} but touches no object there`);
          }
        }
      }
      assert.equal(listings, FUNCTION_KEYS.length, 'one listing statement per function');
    });

    it('account deletion (auth) may delete every version under user_dbs/, journal/ and media/ and nothing else', () => {
      const auth = grantsOf(t, 'auth');
      const versioned = auth.filter((g) => /s3:(DeleteObjectVersion|ListBucketVersions) /.test(g));
      assert.deepEqual(versioned, [
        's3:DeleteObjectVersion on bucket/journal/*',
        's3:DeleteObjectVersion on bucket/media/*',
        's3:DeleteObjectVersion on bucket/user_dbs/*',
        's3:ListBucketVersions on bucket if StringLike s3:prefix journal/*|media/*|user_dbs/*',
      ]);
      // Nobody else deletes versions: the lifecycle rule expires them.
      for (const key of FUNCTION_KEYS.filter((k) => k !== 'auth')) {
        assert.deepEqual(grantsOf(t, key).filter((g) => g.includes('Version')), [], key);
      }
    });

    it('no policy anywhere grants a wildcard action or a "*" resource on data', () => {
      const res = resources(t);
      const dataIds = [
        logicalId(t, 'AWS::DynamoDB::GlobalTable', 'UsersTable'),
        logicalId(t, 'AWS::DynamoDB::GlobalTable', 'SessionsTable'),
        logicalId(t, 'AWS::DynamoDB::GlobalTable', 'JournalTable'),
        logicalId(t, 'AWS::S3::Bucket', 'DataBucket'),
        logicalId(t, 'AWS::SNS::Topic', 'FlushTopic'),
        logicalId(t, 'AWS::SecretsManager::Secret', 'JwtSecret'),
        logicalId(t, 'AWS::SQS::Queue', 'FlushDlq'),
      ];
      const dataAction = /^(dynamodb|s3|sns|secretsmanager|sqs|kms):/;
      let checked = 0;
      for (const [id, r] of Object.entries(res)) {
        if (r.Type !== 'AWS::IAM::Policy') continue;
        for (const s of r.Properties.PolicyDocument.Statement) {
          if (s.Effect !== 'Allow') continue;
          checked++;
          const actions = asArray(s.Action) as string[];
          const resJson = JSON.stringify(s.Resource);
          assert.ok(!actions.includes('*'), `${id}: Action "*"`);
          const touchesData = dataIds.some((d) => resJson.includes(`"${d}"`));
          if (touchesData) {
            for (const a of actions) assert.ok(!a.includes('*'), `${id}: wildcard action ${a} on data`);
          }
          if (actions.some((a) => dataAction.test(a))) {
            assert.ok(!asArray(s.Resource).includes('*'), `${id}: data action on Resource "*"`);
          }
        }
      }
      assert.ok(checked >= 20);
    });
  });
}

describe('no secret literals', () => {
  it('no environment variable carries a secret, only its ARN', () => {
    for (const fn of Object.values(synth().findResources('AWS::Lambda::Function'))) {
      const vars = fn.Properties.Environment.Variables as Record<string, unknown>;
      for (const [name, value] of Object.entries(vars)) {
        if (/SECRET|PASSWORD|TOKEN|KEY/i.test(name)) {
          assert.equal(name, 'JAVUMBO_JWT_SECRET_ARN');
          assert.equal(typeof value, 'object', 'the ARN must be a reference, not a pasted string');
        }
        if (typeof value === 'string') {
          assert.ok(value.length < 32 || value.startsWith('http'), `${name} looks like a literal secret`);
        }
      }
    }
  });

  it('the template contains no SecretString, SecureString parameter or high-entropy literal', () => {
    const template = synth().toJSON();
    const json = JSON.stringify(template);
    assert.doesNotMatch(json, /"SecretString"/);
    assert.doesNotMatch(json, /SecureString/);
    const logicalIds = new Set(Object.keys(template.Resources));
    const leaves: string[] = [];
    const walk = (v: unknown): void => {
      if (typeof v === 'string') leaves.push(v);
      else if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') Object.values(v).forEach(walk);
    };
    walk(template.Resources);
    // A 40+ character run of base64 with mixed case and digits is what a pasted key looks like;
    // logical ids (Ref/GetAtt/DependsOn) and lower-case asset hashes are not.
    const suspicious = leaves
      .filter((s) => !logicalIds.has(s))
      .flatMap((s) => s.match(/[A-Za-z0-9+=_-]{40,}/g) ?? [])
      .filter((s) => /[A-Z]/.test(s) && /[a-z]/.test(s) && /[0-9]/.test(s));
    assert.deepEqual(suspicious, []);
  });
});
