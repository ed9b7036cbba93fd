// Loads and validates an environment-variable class (one decorated property per variable, named exactly like
// the variable). Every service validates its own extra variables with this, the same way as the platform ones.
import { plainToInstance } from 'class-transformer';
import { getMetadataStorage, validateSync, ValidationError } from 'class-validator';

import { ConfigProblem, ConfigValidationError } from './config-validation.error';
import { isSecretVariable } from './env-variable.decorators';

export type EnvClass<T extends object> = new () => T;

/**
 * Reads the variables declared on `envClass` from `env`, applies the class's defaults (property initialisers),
 * converts and validates them, and returns the instance. An empty value counts as unset, so a blank line in a
 * systemd EnvironmentFile falls back to the default. Throws ConfigValidationError naming every bad variable.
 */
export function loadEnvConfig<T extends object>(envClass: EnvClass<T>, env: NodeJS.ProcessEnv = process.env): T {
  const raw: Record<string, string> = {};
  for (const variable of declaredVariables(envClass)) {
    const value = env[variable];
    if (value !== undefined && value.trim() !== '') raw[variable] = value;
  }
  const instance = plainToInstance(envClass, raw, { exposeDefaultValues: true });
  const errors = validateSync(instance, { forbidUnknownValues: true, validationError: { target: false } });
  if (errors.length > 0) {
    throw new ConfigValidationError(errors.map((error) => problemFor(envClass, error, raw[error.property])));
  }
  return instance;
}

function declaredVariables(envClass: EnvClass<object>): string[] {
  const metadata = getMetadataStorage().getTargetValidationMetadatas(envClass, '', true, false);
  return [...new Set(metadata.map((entry) => entry.propertyName))];
}

function problemFor(envClass: EnvClass<object>, error: ValidationError, raw: string | undefined): ConfigProblem {
  const reasons = Object.values(error.constraints ?? {});
  const message = reasons.length > 0 ? reasons.join('; ') : 'is invalid';
  return { variable: error.property, message: `${message}${describeValue(envClass, error.property, raw)}` };
}

function describeValue(envClass: EnvClass<object>, variable: string, raw: string | undefined): string {
  if (raw === undefined) return ' (not set)';
  if (isSecretVariable(envClass, variable)) return ' (value hidden: it may hold a secret)';
  const shown = raw.length > 80 ? `${raw.slice(0, 77)}...` : raw;
  return ` (got ${JSON.stringify(shown)})`;
}
