// Who may publish and subscribe what on NATS: the one table every NATS user and permission is generated from
// (nats-server-config.mjs). Subjects are those of libs/messaging/src/subjects.ts; the spec checks they match.

/** SOVREN's JetStream streams (libs/messaging/src/jetstream-setup.ts). */
export const STREAMS = ['USAGE', 'CALLS', 'AUDIT', 'AGENTS', 'BILLING_TIER'];

/**
 * Per service:
 * - respond: request/reply subjects it answers (subscribe, and replies go back through allow_responses);
 * - request: subjects it sends requests to (publish; the reply arrives in its own inbox, `_INBOX.<service>.>`);
 * - publish / subscribe: fire-and-forget subjects;
 * - streamPublish: subjects it publishes to a JetStream stream and waits for the stream's acknowledgement;
 * - consume: streams it reads through its own durable consumers (create, fetch, acknowledge).
 * Every service also answers `<service>.ping`, publishes `monitoring.heartbeat.<service>`, validates credentials
 * with auth (the auth guard: request auth.validate, subscribe auth.revoked) and keeps the streams' configuration
 * in line with the code (each ensures them at start-up: stream info/create/update and listing consumers). Only a
 * stream's consumer may delete and purge it: the one-time recreation when a stream's retention changes (see
 * jetstream-setup.ts), which only succeeds once the consumer has caught up anyway.
 */
export const NATS_PERMISSIONS = {
  auth: {
    // auth.admin.>: the operator's requests (users, API keys), which only the `cli` user may send.
    respond: ['auth.validate', 'auth.admin.>'],
    // At start-up auth asks billing for every owner's standing (reconciles changes it missed).
    request: ['billing.standings'],
    publish: ['auth.revoked'],
    // Tier changes arrive through the BILLING_TIER stream's durable consumer.
    consume: ['BILLING_TIER'],
  },
  billing: {
    respond: ['billing.standings'],
    publish: ['billing.notification', 'billing.usage.dead_letter'],
    streamPublish: ['billing.tier.changed'],
    consume: ['USAGE'],
  },
  inference: {
    respond: [
      'inference.generate',
      'inference.models',
      'inference.models.load',
      'inference.models.unload',
      'inference.synthesize',
      'inference.transcribe',
    ],
    subscribe: ['inference.cancel.*', 'inference.synthesize.cancel.*'],
    // Chunks of a generation go to the stream subject its caller named, which must be the caller's inbox: a
    // request cannot make inference publish on any other subject.
    publish: ['_INBOX.>'],
    streamPublish: ['usage.inference'],
  },
  voice: {
    request: ['inference.generate', 'inference.models', 'inference.synthesize', 'inference.transcribe'],
    publish: ['inference.cancel.*', 'inference.synthesize.cancel.*'],
    streamPublish: ['usage.voice', 'voice.call.>'],
  },
  monitoring: {
    respond: ['monitoring.status'],
    subscribe: ['monitoring.heartbeat.*'],
    publish: ['monitoring.alert'],
  },
};

export const NATS_SERVICES = Object.keys(NATS_PERMISSIONS);

/**
 * NATS users that are not services: `cli`, the operator's `sovren` command and the dev launcher. Its password is in
 * a file only root and the sovren user can read (<SOVREN_ROOT>/nats-credentials/cli.env), so holding it means
 * local access. It may only send these requests (the admin subjects of auth, model control, the status) and read
 * the replies in its own inbox: no service's subjects, no stream, no event.
 */
export const NATS_CLIENTS = {
  cli: {
    request: [
      'auth.admin.>',
      'inference.models',
      'inference.models.load',
      'inference.models.unload',
      'monitoring.status',
    ],
  },
};

/** Every NATS user: the services, then the clients. */
export const NATS_USERS = [...NATS_SERVICES, ...Object.keys(NATS_CLIENTS)];

/** The permissions of any NATS user (a service's from permissionsOf, a client's: its requests and its inbox). */
export function userPermissionsOf(user) {
  const client = NATS_CLIENTS[user];
  if (!client) return permissionsOf(user);
  return {
    publish: { allow: [...client.request] },
    subscribe: { allow: [`_INBOX.${user}.>`] },
  };
}

/** The JetStream API subjects a service needs to read through its durable consumers on `stream` (and own it). */
function consumerApi(stream) {
  return [
    `$JS.API.STREAM.DELETE.${stream}`,
    `$JS.API.STREAM.PURGE.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.INFO.${stream}.>`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.>`,
    `$JS.ACK.${stream}.>`,
  ];
}

/** Stream set-up at start-up (libs/messaging ensureStreams): read, create and update the stream definitions. */
function streamSetupApi() {
  return [
    '$JS.API.INFO',
    ...STREAMS.flatMap((stream) => [
      `$JS.API.STREAM.INFO.${stream}`,
      `$JS.API.STREAM.CREATE.${stream}`,
      `$JS.API.STREAM.UPDATE.${stream}`,
      `$JS.API.CONSUMER.LIST.${stream}`,
      `$JS.API.CONSUMER.NAMES.${stream}`,
    ]),
  ];
}

/**
 * The nats-server permissions of `service`'s user: {publish: {allow}, subscribe: {allow}, allow_responses}.
 * Anything not allowed is denied (nats-server denies by default once an allow list is given).
 */
export function permissionsOf(service) {
  const grants = NATS_PERMISSIONS[service];
  if (!grants) throw new Error(`no NATS permissions for service '${service}' (known: ${NATS_SERVICES.join(', ')})`);
  const publish = [
    `monitoring.heartbeat.${service}`,
    'auth.validate',
    ...(grants.request ?? []),
    ...(grants.publish ?? []),
    ...(grants.streamPublish ?? []),
    ...streamSetupApi(),
    ...(grants.consume ?? []).flatMap(consumerApi),
  ];
  const subscribe = [
    `_INBOX.${service}.>`,
    `${service}.ping`,
    'auth.revoked',
    ...(grants.respond ?? []),
    ...(grants.subscribe ?? []),
  ];
  return {
    publish: { allow: [...new Set(publish)] },
    subscribe: { allow: [...new Set(subscribe)] },
    // Replies to the requests it received (one each, within a minute), and nothing else by that route.
    allow_responses: { max: 1, expires: '1m' },
  };
}
