// Injection token of the validated LoginProvidersConfig.
export const LOGIN_PROVIDERS_CONFIG = Symbol('LOGIN_PROVIDERS_CONFIG');
