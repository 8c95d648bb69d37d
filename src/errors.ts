/**
 * Bad input from a person or a file: shown as one clear line (CLI exit code 2, HTTP 400), never a stack.
 * `field` names the parameter at fault when there is one. Anything that is not a UserError is a bug.
 */
export class UserError extends Error {
  constructor(message: string, readonly field?: string) {
    super(message);
    this.name = 'UserError';
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}
