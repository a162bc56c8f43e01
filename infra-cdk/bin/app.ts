#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { configFromContext } from '../lib/config';
import { JavumboStack } from '../lib/javumbo-stack';

const app = new App();
new JavumboStack(app, 'Javumbo', {
  description: 'javumbo: serverless Anki-compatible spaced repetition',
  config: configFromContext(app.node),
  // Environment-agnostic unless the CLI's account/region are known: synth needs no credentials.
  env:
    process.env.CDK_DEFAULT_ACCOUNT && process.env.CDK_DEFAULT_REGION ?
      { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION }
    : undefined,
});
app.synth();
