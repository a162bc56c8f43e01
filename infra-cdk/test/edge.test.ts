import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { ConfigError } from '../lib/config';
import { credentialPathPrefixes } from '../lib/routes';
import { logicalId, makeStack, resources, synth } from './helpers';

/** CloudFront's managed policies (same ids in every account). */
const CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
const ALL_VIEWER_EXCEPT_HOST_HEADER = 'b689b0a8-53d0-40ab-baf2-68738e2966ac';

describe('per-source rate limit at the edge: off by default', () => {
  for (const web of [false, true]) {
    it(`web=${web}: no WAF, no CloudFront in front of the API, no ApiViaCloudFrontUrl`, () => {
      const t = synth({ web });
      t.resourceCountIs('AWS::WAFv2::WebACL', 0);
      t.resourceCountIs('AWS::WAFv2::WebACLAssociation', 0);
      // The static app's distribution, if any, and nothing else.
      t.resourceCountIs('AWS::CloudFront::Distribution', web ? 1 : 0);
      assert.deepEqual(Object.keys(t.findOutputs('ApiViaCloudFrontUrl')), []);
    });
  }
});

describe('wafRateLimit=100 (CloudFront + WAF in front of the API)', () => {
  const t = synth({ wafRateLimit: '100' });
  const res = resources(t);
  const aclId = logicalId(t, 'AWS::WAFv2::WebACL', 'ApiEdgeWebAcl');
  const acl = res[aclId]!.Properties;
  const rule = (name: string) => acl.Rules.find((r: any) => r.Name === name);

  it('the web ACL is CLOUDFRONT-scoped and allows by default', () => {
    t.resourceCountIs('AWS::WAFv2::WebACL', 1);
    assert.equal(acl.Scope, 'CLOUDFRONT');
    assert.deepEqual(acl.DefaultAction, { Allow: {} });
    assert.equal(acl.Rules.length, 2);
  });

  it('credential routes: a per-IP rate rule, scoped down to their paths, answering 429', () => {
    const r = rule('credential-routes-per-ip');
    assert.ok(r);
    assert.equal(r.Priority, 0);
    const rate = r.Statement.RateBasedStatement;
    assert.equal(rate.Limit, 100);
    assert.equal(rate.AggregateKeyType, 'IP');
    assert.equal(rate.EvaluationWindowSec, 300);
    const matches = rate.ScopeDownStatement.OrStatement.Statements.map((s: any) => s.ByteMatchStatement);
    assert.deepEqual(
      matches.map((m: any) => m.SearchString).sort(),
      ['/api/account', '/api/login', '/api/register', '/login', '/register', '/sync/hostkey'],
    );
    for (const m of matches) {
      assert.deepEqual(m.FieldToMatch, { UriPath: {} });
      assert.equal(m.PositionalConstraint, 'STARTS_WITH');
      assert.deepEqual(
        m.TextTransformations.map((x: any) => x.Type),
        ['URL_DECODE', 'NORMALIZE_PATH', 'LOWERCASE'],
      );
    }
    assert.equal(r.Action.Block.CustomResponse.ResponseCode, 429);
  });

  it('everything: a looser per-IP rate rule without scope-down, also 429', () => {
    const r = rule('all-routes-per-ip');
    assert.ok(r);
    assert.equal(r.Priority, 1);
    const rate = r.Statement.RateBasedStatement;
    assert.deepEqual(
      { limit: rate.Limit, key: rate.AggregateKeyType, window: rate.EvaluationWindowSec, scope: rate.ScopeDownStatement },
      { limit: 2000, key: 'IP', window: 300, scope: undefined },
    );
    assert.equal(r.Action.Block.CustomResponse.ResponseCode, 429);
    const body = acl.CustomResponseBodies[r.Action.Block.CustomResponse.CustomResponseBodyKey];
    assert.deepEqual(JSON.parse(body.Content), { error: 'Too many requests' });
  });

  it('the scope-down covers every credential route of the route table', () => {
    assert.deepEqual(credentialPathPrefixes(), ['/api/account', '/api/login', '/api/register', '/login', '/register', '/sync/hostKey']);
  });

  it('a distribution in front of the API carries the web ACL and only forwards', () => {
    t.resourceCountIs('AWS::CloudFront::Distribution', 1);
    const dist = res[logicalId(t, 'AWS::CloudFront::Distribution', 'ApiEdgeDistribution')]!.Properties.DistributionConfig;
    assert.deepEqual(dist.WebACLId, { 'Fn::GetAtt': [aclId, 'Arn'] });
    const b = dist.DefaultCacheBehavior;
    assert.equal(b.CachePolicyId, CACHING_DISABLED);
    assert.equal(b.OriginRequestPolicyId, ALL_VIEWER_EXCEPT_HOST_HEADER);
    assert.deepEqual([...b.AllowedMethods].sort(), ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT']);
    assert.equal(b.ViewerProtocolPolicy, 'https-only');
    assert.equal(dist.Origins.length, 1);
    const origin = dist.Origins[0];
    assert.equal(origin.CustomOriginConfig.OriginProtocolPolicy, 'https-only');
    // The origin is the API's own host, cut out of its endpoint URL.
    const api = logicalId(t, 'AWS::ApiGatewayV2::Api', 'Api');
    assert.match(JSON.stringify(origin.DomainName), new RegExp(`"Fn::GetAtt":\\["${api}","ApiEndpoint"\\]`));
  });

  it('outputs the CloudFront URL of the API; the direct URL stays', () => {
    t.hasOutput('ApiViaCloudFrontUrl', {});
    t.hasOutput('ApiUrl', {});
  });

  it('the blanket limit defaults to 10x the credential limit when that is above 2000, and can be set', () => {
    const big = synth({ wafRateLimit: '500' });
    const blanket = (tt: Template) =>
      Object.values(tt.findResources('AWS::WAFv2::WebACL'))[0]!.Properties.Rules.find((r: any) => r.Name === 'all-routes-per-ip')
        .Statement.RateBasedStatement.Limit;
    assert.equal(blanket(big), 5000);
    assert.equal(blanket(synth({ wafRateLimit: '100', wafBlanketRateLimit: '300' })), 300);
  });

  it('with web=true the static app keeps its own distribution, without the web ACL', () => {
    const tw = synth({ wafRateLimit: '100', web: true });
    tw.resourceCountIs('AWS::CloudFront::Distribution', 2);
    const webDist = resources(tw)[logicalId(tw, 'AWS::CloudFront::Distribution', 'WebDistribution')]!;
    assert.equal(webDist.Properties.DistributionConfig.WebACLId, undefined);
  });
});

describe('wafRateLimit validation', () => {
  it('refuses values WAF would refuse, or knobs that would be ignored', () => {
    assert.throws(() => makeStack({ wafRateLimit: '5' }), /wafRateLimit must be 0 \(off\) or 10\.\./);
    assert.throws(() => makeStack({ wafRateLimit: 'lots' }), /wafRateLimit must be a non-negative integer/);
    assert.throws(() => makeStack({ wafRateLimit: '100', wafBlanketRateLimit: '100' }), /wafBlanketRateLimit must be above/);
    assert.throws(() => makeStack({ wafBlanketRateLimit: '1000' }), /only applies with wafRateLimit/);
    assert.throws(() => makeStack({ wafRateLimit: '100', emulator: true, web: undefined }), /emulator/);
  });

  it('a concrete region other than us-east-1 fails synthesis with a clear message', () => {
    assert.throws(
      () => makeStack({ wafRateLimit: '100' }, { account: '123456789012', region: 'eu-west-1' }),
      (e: unknown) => e instanceof ConfigError && /us-east-1.*eu-west-1/.test(e.message),
    );
    const ok = Template.fromStack(makeStack({ wafRateLimit: '100' }, { account: '123456789012', region: 'us-east-1' }));
    ok.resourceCountIs('AWS::WAFv2::WebACL', 1);
  });

  it("the WAF synth passes CDK's CloudFormation validation as errors, not just warnings", () => {
    const strict = { wafRateLimit: '100', web: true, '@aws-cdk/core:validateAgainstDefaultRules': true };
    assert.doesNotThrow(() => Template.fromStack(makeStack(strict)));
  });

  it('0 means off', () => {
    synth({ wafRateLimit: '0' }).resourceCountIs('AWS::WAFv2::WebACL', 0);
  });
});
