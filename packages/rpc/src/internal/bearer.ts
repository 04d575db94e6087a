import { Unauthenticated } from "@warden/core/AuthError"
import * as Credential from "@warden/core/Credential"
import * as Either from "effect/Either"

/**
 * Reads the credentials of a request. `headers` are what the RPC server hands
 * a middleware: the transport's headers merged with the per-RPC headers, the
 * per-RPC ones last, so a per-RPC `authorization` header silently replaces
 * the transport's there. `transport` is the `authorization` header of the
 * HTTP request itself, read from the request object, which no client can
 * set through a per-RPC header. Both present and different is
 * `conflicting_credentials`; neither is `missing_credentials`.
 */
export const fromHeaders = (
  headers: Readonly<Record<string, string | undefined>>,
  transport?: string | undefined
): Either.Either<Credential.Credential, Unauthenticated> => {
  const value = headers["authorization"]
  if (transport !== undefined && value !== transport) {
    return Either.left(
      Unauthenticated.of(
        "conflicting_credentials",
        "the request carries two different authorization headers (per-RPC and transport); send one"
      )
    )
  }
  if (value === undefined) return Either.left(Credential.missing)
  return Credential.fromAuthorization(value)
}
