import { Unauthenticated } from "@warden/core/AuthError"
import * as Credential from "@warden/core/Credential"
import * as Either from "effect/Either"

/** The transport's own credential headers: read from the HTTP request object, which no per-RPC header can set. */
export interface Transport {
  readonly authorization: string | undefined
  readonly apiKey: string | undefined
}

const conflicting = (name: string) =>
  Either.left(
    Unauthenticated.of(
      "conflicting_credentials",
      `the request carries two different ${name} headers (per-RPC and transport); send one`
    )
  )

/**
 * Reads the credentials of a request. `headers` are what the RPC server hands
 * a middleware: the transport's headers merged with the per-RPC headers, the
 * per-RPC ones last, so a per-RPC `authorization` (or `x-api-key`) header
 * silently replaces the transport's there. `transport` holds the HTTP
 * request's own headers, read from the request object. A header present in
 * both with different values is `conflicting_credentials`; so are an
 * `authorization` and an `x-api-key` header together; neither is
 * `missing_credentials`.
 */
export const fromHeaders = (
  headers: Readonly<Record<string, string | undefined>>,
  transport?: Transport,
  apiKeyHeader: string = Credential.apiKeyHeader
): Either.Either<Credential.Credential, Unauthenticated> => {
  const authorization = headers["authorization"]
  const apiKey = headers[apiKeyHeader]
  if (transport !== undefined) {
    if (transport.authorization !== undefined && authorization !== transport.authorization) {
      return conflicting("authorization")
    }
    if (transport.apiKey !== undefined && apiKey !== transport.apiKey) return conflicting(apiKeyHeader)
  }
  return Credential.fromHeaderValues(authorization, apiKey, apiKeyHeader)
}
