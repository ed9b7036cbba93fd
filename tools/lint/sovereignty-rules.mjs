// The sovereignty lint's rule set: which hosts, SDK packages and SMS code shapes are forbidden, and why.
// Lists are regex sources (dots escaped) so that this file does not itself contain the hosts it forbids.

/** Turns a whitespace-separated list of regex sources into an array. */
const list = (text) => text.split(/\s+/).filter(Boolean);

// Outside API hosts, grouped by the sovereignty rule they break. A listed domain also forbids its subdomains.
export const FORBIDDEN_HOST_GROUPS = [
  {
    rule: 'forbidden-host/llm-api',
    hosts: list(String.raw`
      api\.openai\.com openai\.azure\.com api\.anthropic\.com generativelanguage\.googleapis\.com
      aiplatform\.googleapis\.com api\.mistral\.ai api\.cohere\.ai api\.cohere\.com api\.groq\.com
      api\.together\.xyz api\.together\.ai openrouter\.ai api-inference\.huggingface\.co
      router\.huggingface\.co inference\.huggingface\.co api\.replicate\.com api\.perplexity\.ai
      api\.deepseek\.com api\.fireworks\.ai api\.x\.ai api\.ai21\.com api\.elevenlabs\.io
      api\.deepgram\.com api\.assemblyai\.com api\.voyageai\.com
    `),
  },
  {
    rule: 'forbidden-host/cloud-api',
    hosts: list(String.raw`
      amazonaws\.com amazonaws\.com\.cn cloudfront\.net azure\.com azure\.net windows\.net
      azure-api\.net azurewebsites\.net cloudfunctions\.net appspot\.com firebaseio\.com
      firebaseapp\.com digitaloceanspaces\.com
    `),
  },
  {
    rule: 'forbidden-host/telephony-api',
    hosts: list(String.raw`
      twilio\.com twil\.io vonage\.com nexmo\.com plivo\.com bandwidth\.com telnyx\.com sinch\.com
      messagebird\.com signalwire\.com telesign\.com infobip\.com clicksend\.com
      sms\.skyetel\.com mms\.skyetel\.com messaging\.skyetel\.com
    `),
  },
  {
    rule: 'forbidden-host/email-api',
    hosts: list(String.raw`
      sendgrid\.com sendgrid\.net mailgun\.net mailgun\.org mailgun\.com postmarkapp\.com
      mandrillapp\.com sparkpost\.com sparkpostmail\.com mailchimp\.com mailjet\.com sendinblue\.com
      brevo\.com resend\.com mailersend\.com
    `),
  },
  {
    rule: 'forbidden-host/payment-api',
    hosts: list(String.raw`
      stripe\.com paypal\.com paypalobjects\.com braintreegateway\.com squareup\.com
      squareupsandbox\.com payments\.zoho\.com payments\.zoho\.in payments\.zoho\.eu zohoapis\.com
      adyen\.com razorpay\.com authorize\.net api\.checkout\.com
    `),
  },
  {
    rule: 'forbidden-host/analytics-saas',
    hosts: list(String.raw`
      segment\.io segment\.com mixpanel\.com amplitude\.com sentry\.io datadoghq\.com datadoghq\.eu
      newrelic\.com nr-data\.net bugsnag\.com posthog\.com honeycomb\.io google-analytics\.com
      googletagmanager\.com hotjar\.com fullstory\.com logrocket\.com loggly\.com
      papertrailapp\.com rollbar\.com raygun\.io heapanalytics\.com logz\.io splunkcloud\.com
      grafana\.net
    `),
  },
  {
    rule: 'forbidden-host/data-enrichment',
    hosts: list(String.raw`
      clearbit\.com fullcontact\.com zoominfo\.com hunter\.io apollo\.io peopledatalabs\.com
      pipl\.com lusha\.com
    `),
  },
];

// Google Cloud APIs all live under this domain; only the OAuth/OIDC endpoints are allowed (see isAllowedGoogleApi).
export const GOOGLE_APIS_PATTERN = String.raw`(?:[a-z0-9-]+\.)*googleapis\.com(?:/[\w./~%-]*)?`;

/**
 * Google's OAuth token, OIDC discovery and userinfo endpoints are on the egress allowlist; every other
 * googleapis host (Cloud Storage, Vertex AI, Gemini...) is a cloud API.
 */
export function isAllowedGoogleApi(matched) {
  const [host, ...pathParts] = matched.toLowerCase().split('/');
  const path = pathParts.join('/');
  if (host === 'oauth2.googleapis.com' || host === 'openidconnect.googleapis.com') return true;
  // A bare www host is the allowlist entry itself; with a path, only /oauth2/... is OAuth.
  if (host === 'www.googleapis.com') return pathParts.length === 0 || path === '' || path.startsWith('oauth2');
  return false;
}

// SDK packages whose import or dependency means talking to a forbidden service. A trailing '/*' is a scope.
export const FORBIDDEN_PACKAGE_GROUPS = [
  {
    rule: 'forbidden-sdk/llm-api',
    packages: [
      'openai',
      '@anthropic-ai/*',
      '@google/generative-ai',
      '@google/genai',
      '@google-ai/*',
      'cohere-ai',
      '@mistralai/*',
      'groq-sdk',
      'together-ai',
      '@huggingface/inference',
      'replicate',
      '@ai-sdk/*',
      '@langchain/openai',
      '@langchain/anthropic',
      '@langchain/google-genai',
      'elevenlabs',
      '@deepgram/sdk',
      'assemblyai',
    ],
  },
  {
    rule: 'forbidden-sdk/cloud-api',
    packages: [
      'aws-sdk',
      '@aws-sdk/*',
      '@google-cloud/*',
      'googleapis',
      'firebase',
      'firebase-admin',
      // @azure/msal-* is Microsoft's OAuth client library, which the auth service may use for login.
      '@azure/*',
    ],
    allowed: ['@azure/msal-*'],
  },
  {
    rule: 'forbidden-sdk/telephony-api',
    packages: ['twilio', 'vonage', '@vonage/*', 'nexmo', 'plivo', 'telnyx', '@signalwire/*', '@sinch/*', 'messagebird'],
  },
  {
    rule: 'forbidden-sdk/email-api',
    packages: [
      '@sendgrid/*',
      'sendgrid',
      'mailgun.js',
      'mailgun-js',
      'postmark',
      'sparkpost',
      'mandrill-api',
      '@mailchimp/*',
      'node-mailjet',
      '@getbrevo/*',
      'sib-api-v3-sdk',
      'resend',
    ],
  },
  {
    rule: 'forbidden-sdk/payment-api',
    packages: [
      'stripe',
      '@stripe/*',
      'paypal-rest-sdk',
      '@paypal/*',
      'braintree',
      'square',
      'squareup',
      'razorpay',
      '@adyen/*',
      'authorizenet',
    ],
  },
  {
    rule: 'forbidden-sdk/analytics-saas',
    packages: [
      'analytics-node',
      '@segment/*',
      'mixpanel',
      'mixpanel-browser',
      '@amplitude/*',
      'amplitude-js',
      '@sentry/*',
      'dd-trace',
      '@datadog/*',
      'datadog-metrics',
      'newrelic',
      '@newrelic/*',
      'bugsnag',
      '@bugsnag/*',
      'posthog-node',
      'posthog-js',
      '@honeycombio/*',
      'rollbar',
      'logrocket',
      '@logtail/*',
    ],
  },
  {
    rule: 'forbidden-sdk/data-enrichment',
    packages: ['clearbit', '@clearbit/*', 'fullcontact', '@fullcontact/*', 'zoominfo'],
  },
];

function packagePatternMatches(pattern, name) {
  if (pattern.endsWith('*')) return name.startsWith(pattern.slice(0, -1));
  return name === pattern;
}

/** Returns the rule a package name breaks, or undefined when it is allowed. */
/**
 * SDKs of a forbidden service that the tests use as *clients of our own server* (pointed at a localhost baseURL),
 * to prove our compatible API works with the real client. Allowed only where production code cannot reach them:
 * as a devDependency (package.json devDependencies, lockfile entries marked "dev": true) and imported from test
 * files. Each entry says why.
 */
export const TEST_CLIENT_PACKAGES = {
  openai: "the OpenAI SDK calls inference's OpenAI-compatible API on localhost in tests, as users' code will",
};

/** Test files: specs, __tests__ folders and the *-e2e projects. */
export function isTestFile(relativePath) {
  return (
    /\.(?:spec|test|integration-spec|e2e-spec)\.[cm]?[jt]sx?$/.test(relativePath) ||
    /(?:^|\/)__tests__\//.test(relativePath) ||
    /(?:^|\/)apps\/[^/]+-e2e\//.test(relativePath)
  );
}

/** Whether a test-client package may be used here (see TEST_CLIENT_PACKAGES). */
export function isTestClientPackage(packageName) {
  return Object.prototype.hasOwnProperty.call(TEST_CLIENT_PACKAGES, packageName);
}

export function forbiddenPackageRule(packageName) {
  for (const group of FORBIDDEN_PACKAGE_GROUPS) {
    if (!group.packages.some((pattern) => packagePatternMatches(pattern, packageName))) continue;
    if ((group.allowed ?? []).some((pattern) => packagePatternMatches(pattern, packageName))) return undefined;
    return group.rule;
  }
  return undefined;
}

/** Reduces an import specifier ('@scope/pkg/sub', 'pkg/sub') to its package name. */
export function packageNameOf(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

// Module specifiers in import/export/require/dynamic import syntax.
export const IMPORT_PATTERNS = [
  /\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
  /\bimport\s*['"]([^'"]+)['"]/g,
  /\b(?:require|import)\s*\(\s*['"`]([^'"`]+)['"`]\s*\)/g,
];

// SMS is forbidden as a feature, not as a word: these match code shapes (identifiers, routes, subjects,
// string literals), never prose like "voice only, no SMS".
export const MESSAGING_FEATURE_PATTERNS = [
  // e.g. sendSms, send_sms, receive-sms, handleSMS  (sovereignty-lint-allow: examples of what this rule catches)
  {
    rule: 'sms-feature/identifier',
    pattern:
      /\b(?:send|receive|recv|get|list|create|handle|dispatch|deliver|queue|process|post|on|inbound|outbound)[_-]?sms\w*/gi,
  },
  // e.g. SmsService, SMSController, smsGateway, SMS_API_KEY, sms_enabled  (sovereignty-lint-allow: examples)
  { rule: 'sms-feature/identifier', pattern: /\b(?:Sms|SMS|sms)(?:[A-Z][a-z]\w*|_\w+)/g },
  // e.g. isSmsEnabled, allowSMS, inboundSms  (sovereignty-lint-allow: examples)
  { rule: 'sms-feature/identifier', pattern: /\b[a-z][a-z0-9]*(?:Sms|SMS)(?![a-z])\w*/g },
  // e.g. ALLOW_SMS, inbound_sms  (sovereignty-lint-allow: examples)
  { rule: 'sms-feature/identifier', pattern: /\b\w+_(?:sms|SMS)\b/g },
  // a string literal whose path, subject or value segment is sms, e.g. '/api/v1/sms', 'voice.sms.send', 'sms'  (sovereignty-lint-allow: examples)
  {
    rule: 'sms-feature/route-or-subject',
    pattern: /['"`](?:[^'"`\s]*[/.:])?(?:sms|SMS|Sms)(?:[/.:?][^'"`\s]*)?['"`]/g,
  },
  // messaging endpoints of carriers (Skyetel's and look-alikes) as route strings
  {
    rule: 'sms-feature/messaging-endpoint',
    pattern: /['"`][^'"`\s]*\/v1\/(?:messages|messaging|mms)\b[^'"`\s]*['"`]/g,
  },
];

// An inline, reasoned exception: `// sovereignty-lint-allow: <reason>` on the same line.
export const ALLOW_PATTERN = /sovereignty-lint-allow:\s*\S/;
