// The text of a caught value for a log line or an error message: an Error's message, anything else as a string.
// `catch (error)` gives `unknown`, so every catch that reports needs this; it is written once here.

/** The message of an Error, or the value as a string (a thrown string, number, or object). */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Like errorMessage, with the stack trace when there is one (for a crash report). */
export function errorMessageWithStack(error: unknown): string {
  return error instanceof Error ? `${error.message}\n${error.stack ?? ''}` : String(error);
}
