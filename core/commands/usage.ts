// A usage error: the command line itself is wrong (unknown command or flag, a
// missing or malformed argument, a bulk action without a selection). The CLI prints
// it in one line and exits 2, so scripts can tell it from a refusal (1).
export class UsageError extends Error {
  override readonly name = 'UsageError'
}
