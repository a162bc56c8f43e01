import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { FIXTURES, logicalId, makeStack, resources, synth } from './helpers';
import { ROUTES } from '../lib/routes';

/** Resource types the emulator (ministack) rejects or cannot run; kept out of the web=false synth. */
const EMULATOR_UNSAFE = [
  'AWS::CloudFront::Distribution',
  'AWS::CloudFront::OriginAccessControl',
  'AWS::CloudFront::ResponseHeadersPolicy',
  'AWS::Lambda::LayerVersion',
  'AWS::CloudWatch::CompositeAlarm',
  'AWS::ApplicationAutoScaling::ScalableTarget',
  'AWS::ApplicationAutoScaling::ScalingPolicy',
];

describe('web=false (the emulator-friendly synth)', () => {
  const t = synth({ web: false });

  it('has no CloudFront, no custom resources and no helper Lambdas', () => {
    for (const type of EMULATOR_UNSAFE) t.resourceCountIs(type, 0);
    const custom = Object.values(resources(t)).filter((r) => r.Type.startsWith('Custom::') || r.Type === 'AWS::CloudFormation::CustomResource');
    assert.deepEqual(custom, []);
    t.resourceCountIs('AWS::Lambda::Function', 7);
    t.resourceCountIs('AWS::S3::Bucket', 1);
  });

  it('has no WebUrl output', () => {
    assert.deepEqual(Object.keys(t.findOutputs('WebUrl')), []);
    t.hasOutput('ApiUrl', {});
  });

  it('"false" from the command line means false', () => {
    synth({ web: 'false' }).resourceCountIs('AWS::CloudFront::Distribution', 0);
  });
});

describe('emulator=true', () => {
  const t = synth({ emulator: true, web: undefined });

  it('defaults web to false and uses no metric-math alarm', () => {
    for (const type of EMULATOR_UNSAFE) t.resourceCountIs(type, 0);
    for (const a of Object.values(t.findResources('AWS::CloudWatch::Alarm'))) {
      assert.equal(a.Properties.Metrics, undefined, 'metric math');
    }
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'AWS/ApiGateway', MetricName: '5xx', Threshold: 10 });
  });

  it('keeps everything else: functions, tables with TTL, flush bus, routes', () => {
    t.resourceCountIs('AWS::Lambda::Function', 7);
    t.resourceCountIs('AWS::DynamoDB::GlobalTable', 3);
    t.hasResourceProperties('AWS::DynamoDB::GlobalTable', { TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true } });
    t.resourceCountIs('AWS::SNS::Subscription', 1);
    t.resourceCountIs('AWS::ApiGatewayV2::Route', ROUTES.length);
  });
});

describe('web=true (static app on S3 + CloudFront)', () => {
  const t = synth({ web: true });
  const res = resources(t);
  const webBucket = logicalId(t, 'AWS::S3::Bucket', 'WebBucket');
  const distribution = logicalId(t, 'AWS::CloudFront::Distribution', 'WebDistribution');

  it('is the default when no flag is given', () => {
    synth({ web: undefined }).resourceCountIs('AWS::CloudFront::Distribution', 1);
  });

  it('the web bucket is private, encrypted, TLS-only and unversioned', () => {
    const p = res[webBucket]!.Properties;
    assert.deepEqual(p.PublicAccessBlockConfiguration, {
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    assert.equal(p.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm, 'AES256');
    assert.equal(p.WebsiteConfiguration, undefined, 'served through CloudFront, not S3 website hosting');
  });

  it('CloudFront reads it through origin access control, scoped to this distribution', () => {
    t.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
    t.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: Match.objectLike({ OriginAccessControlOriginType: 's3', SigningBehavior: 'always' }),
    });
    t.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: webBucket },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Action: 's3:GetObject',
            Principal: { Service: 'cloudfront.amazonaws.com' },
            Condition: {
              StringEquals: {
                'AWS:SourceArn': Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([{ Ref: distribution }])]) }),
              },
            },
          }),
        ]),
      },
    });
  });

  it('the distribution is HTTPS-only, serves index.html and falls back to it for client routes', () => {
    t.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        DefaultRootObject: 'index.html',
        DefaultCacheBehavior: Match.objectLike({
          ViewerProtocolPolicy: 'redirect-to-https',
          AllowedMethods: ['GET', 'HEAD'],
          Compress: true,
          ResponseHeadersPolicyId: Match.anyValue(),
        }),
        CustomErrorResponses: [
          { ErrorCode: 403, ResponseCode: 200, ResponsePagePath: '/index.html', ErrorCachingMinTTL: 0 },
          { ErrorCode: 404, ResponseCode: 200, ResponsePagePath: '/index.html', ErrorCachingMinTTL: 0 },
        ],
      }),
    });
  });

  it('serves the app with a content security policy that allows only itself and the API', () => {
    const policies = Object.values(t.findResources('AWS::CloudFront::ResponseHeadersPolicy'));
    assert.equal(policies.length, 1);
    const sec = policies[0].Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig;
    const csp = JSON.stringify(sec.ContentSecurityPolicy.ContentSecurityPolicy);
    for (const directive of ["default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'", 'connect-src']) {
      assert.ok(csp.includes(directive), `${directive} missing from ${csp}`);
    }
    assert.ok(csp.includes('execute-api'), csp);
    assert.equal(sec.ContentSecurityPolicy.Override, true);
    assert.equal(sec.FrameOptions.FrameOption, 'DENY');
    const distribution = Object.values(t.findResources('AWS::CloudFront::Distribution'))[0];
    const id = distribution.Properties.DistributionConfig.DefaultCacheBehavior.ResponseHeadersPolicyId;
    assert.deepEqual(id, { Ref: logicalId(t, 'AWS::CloudFront::ResponseHeadersPolicy', 'WebHeaders') });
  });

  it('deploys the app with a generated config.js pointing at the API and invalidates CloudFront', () => {
    const deployments = Object.values(t.findResources('Custom::CDKBucketDeployment'));
    assert.equal(deployments.length, 1);
    const p = deployments[0]!.Properties;
    assert.deepEqual(p.DestinationBucketName, { Ref: webBucket });
    assert.deepEqual(p.DistributionId, { Ref: distribution });
    assert.deepEqual(p.DistributionPaths, ['/*']);
    assert.equal(p.Prune, true);
    assert.equal(p.SourceObjectKeys.length, 2, 'the app files plus config.js');
    // config.js is rendered at deploy time from the API's endpoint (a marker in the source data).
    const markers = JSON.stringify(p.SourceMarkers);
    const api = logicalId(t, 'AWS::ApiGatewayV2::Api', 'Api');
    assert.match(markers, new RegExp(`"Fn::GetAtt":\\["${api}","ApiEndpoint"\\]`));
    // ... and names the streaming sync function's URL for the Sync page.
    const syncUrl = logicalId(t, 'AWS::Lambda::Url', 'SyncStreamFunctionFunctionUrl');
    assert.match(markers, new RegExp(`"Fn::GetAtt":\\["${syncUrl}","FunctionUrl"\\]`));
    assert.ok(p.SystemMetadata['cache-control'].includes('max-age=0'));
  });

  it('the CloudFront origin joins the CORS allowlist of the API and of the functions', () => {
    const cors = res[logicalId(t, 'AWS::ApiGatewayV2::Api', 'Api')]!.Properties.CorsConfiguration;
    assert.equal(cors.AllowOrigins.length, 1);
    assert.match(JSON.stringify(cors.AllowOrigins[0]), new RegExp(`"https://",\\{"Fn::GetAtt":\\["${distribution}","DomainName"\\]\\}`));
    const fn = Object.values(t.findResources('AWS::Lambda::Function')).find((f) => f.Properties.Environment?.Variables?.JAVUMBO_BACKEND);
    assert.match(JSON.stringify(fn!.Properties.Environment.Variables.JAVUMBO_CORS_ORIGINS), new RegExp(distribution));
  });

  it('context origins and the CloudFront origin are both allowed', () => {
    const t2 = synth({ web: true, corsOrigins: 'https://app.example.org' });
    const api = Object.values(t2.findResources('AWS::ApiGatewayV2::Api'))[0]!;
    assert.equal(api.Properties.CorsConfiguration.AllowOrigins.length, 2);
    assert.equal(api.Properties.CorsConfiguration.AllowOrigins[0], 'https://app.example.org');
  });

  it('exposes the site URL', () => {
    t.hasOutput('WebUrl', { Value: Match.objectLike({ 'Fn::Join': Match.anyValue() }) });
  });

  it('a missing web directory fails synthesis with a hint to pass web=false', () => {
    const empty = path.join(FIXTURES.lambdaDir, '..', 'no-web');
    fs.mkdirSync(empty, { recursive: true });
    assert.throws(() => makeStack({ web: true, webDir: empty }), /index\.html does not exist.*web=false/);
  });
});
