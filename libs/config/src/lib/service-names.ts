// The five SOVREN services: the one list every port, metric label and NATS subject prefix is derived from.
export const SERVICE_NAMES = ['auth', 'billing', 'voice', 'inference', 'monitoring'] as const;

export type ServiceName = (typeof SERVICE_NAMES)[number];

export function isServiceName(value: string): value is ServiceName {
  return (SERVICE_NAMES as readonly string[]).includes(value);
}
