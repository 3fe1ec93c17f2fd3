import nock from 'nock';

// No test may reach the internet. Loopback stays open: the real hub, agents and git servers listen there.
nock.disableNetConnect();
nock.enableNetConnect((host) => /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/.test(host));

// The agent loads its protocol checks' validator with its first job (lib/check-protocol.ts); tests check jobs directly.
await (await import('../lib/check-protocol.js')).loadProtocolChecks();
