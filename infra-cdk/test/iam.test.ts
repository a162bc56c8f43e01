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

/** The role's inline policy flattened to "action on resource" strings, sorted. */
function grantsOf(t: Template, key: FunctionKey): string[] {
  const res = resources(t);
  const fn = res[logicalId(t, 'AWS::Lambda::Function', FN_PREFIX[key])]!;
  const roleId = fn.Properties.Role['Fn::GetAtt'][0];
  const name = namer(t);
  const out: string[] = [];
  for (const p of Object.values(res)) {
    if (p.Type !== 'AWS::IAM::Policy' || !p.Properties.Roles.some((r: any) => r.Ref === roleId)) continue;
    for (const s of p.Properties.PolicyDocument.Statement) {
      assert.equal(s.Effect, 'Allow');
      for (const a of asArray(s.Action)) for (const r of asArray(s.Resource)) out.push(`${a} on ${name(r)}`);
    }
  }
  return out.sort();
}

const expand = (actions: string[], targets: string[]): string[] =>
  actions.flatMap((a) => targets.map((r) => `${a} on ${r}`));
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
const BLOBS_RW = [
  ...expand(['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], ['bucket/user_dbs/*', 'bucket/journal/*']),
  's3:ListBucket on bucket',
];
const COLLECTION = [
  'dynamodb:GetItem on users',
  ...expand(STATE_RW, ['sessions', 'journal']),
  ...BLOBS_RW,
  'sns:Publish on topic',
  ...SECRET,
];

const EXPECTED: Record<FunctionKey, string[]> = {
  auth: [
    ...expand(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], ['users']),
    ...expand(['s3:GetObject', 's3:PutObject'], ['bucket/user_dbs/*']),
    's3:ListBucket on bucket',
    ...SECRET,
  ],
  review: COLLECTION,
  crud: COLLECTION,
  export: COLLECTION,
  // A collection function that also writes device keys on the user's item.
  sync: [
    ...expand(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], ['users']),
    ...COLLECTION.filter((g) => g !== 'dynamodb:GetItem on users'),
  ],
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
