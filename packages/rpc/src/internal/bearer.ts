import type { Credentials } from "@warden/core/Authenticator"
import { Unauthenticated } from "@warden/core/AuthError"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"

/** Longest authorization header accepted; longer is refused before any parsing. */
export const maxHeaderLength = 16 * 1024

// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const bearer = /^[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9\-._~+/]+=*)$/

const malformed = (description: string) => Either.left(Unauthenticated.of("malformed_header", description))

/** Parses one authorization header value strictly. The token never appears in an error. */
export const parse = (value: string): Either.Either<Credentials, Unauthenticated> => {
  if (value.length > maxHeaderLength) {
    return malformed(`the authorization header is longer than ${maxHeaderLength} characters`)
  }
  const match = bearer.exec(value)
  if (match === null) {
    if (!/^[Bb][Ee][Aa][Rr][Ee][Rr](\s|$)/.test(value)) {
      return malformed("the authorization header must use the Bearer scheme")
    }
    return value.includes(",") ?
      malformed("the authorization header must carry exactly one bearer token") :
      malformed("the authorization header must be 'Bearer' followed by one token of the RFC 6750 b64token characters")
  }
  return Either.right({ scheme: "Bearer", token: Redacted.make(match[1]!) })
}

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
): Either.Either<Credentials, Unauthenticated> => {
  const value = headers["authorization"]
  if (transport !== undefined && value !== transport) {
    return Either.left(
      Unauthenticated.of(
        "conflicting_credentials",
        "the request carries two different authorization headers (per-RPC and transport); send one"
      )
    )
  }
  if (value === undefined) {
    return Either.left(Unauthenticated.of("missing_credentials", "the request carries no credentials"))
  }
  return parse(value)
}
