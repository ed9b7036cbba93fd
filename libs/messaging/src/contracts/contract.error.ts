// The error every contract validator throws: it names the contract and the offending field.

export class ContractError extends Error {
  override readonly name = 'ContractError';
  /** Stable code, used when a responder turns this error into an error reply. */
  readonly code = 'INVALID_PAYLOAD';

  constructor(
    readonly contract: string,
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${contract}: field "${field}" ${problem}`);
  }
}
