// Ends an exhaustive switch: adding an enum member without handling it becomes a compile error.
export function assertUnreachable(value: never, what = 'value'): never {
  throw new Error(`unhandled ${what}: ${String(value)}`);
}
