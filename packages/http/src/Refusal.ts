/**
 * Warden's refusals as HTTP responses (RFC 6750 §3) and as the HttpApi
 * document describes them: one schema per status, so the generated OpenAPI
 * document lists each status with its body.
 *
 * | refusal | status | `WWW-Authenticate` |
 * | --- | --- | --- |
 * | no credentials | 401 | `Bearer` (no error code) |
 * | malformed or conflicting `authorization` | 400 | `Bearer error="invalid_request", …` |
 * | a token that does not verify | 401 | `Bearer error="invalid_token", …` |
 * | a store Warden needs is unavailable | 503 | none; `Retry-After` |
 * | authenticated, not allowed | 403 | `Bearer error="insufficient_scope", …, scope=…` when a scope would help |
 *
 * @since 0.2.0
 */
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type { AuthError } from "@warden/core/AuthError"
import { Forbidden, Unauthenticated, wwwAuthenticate } from "@warden/core/AuthError"
import * as Schema from "effect/Schema"

/** Whether a refusal means the service could not decide (fails closed): 503, not the caller's fault. */
export const isUnavailable = (error: AuthError): boolean =>
  error._tag === "Unauthenticated" && (error.reason === "unavailable" || error.reason === "keys_unavailable")

/** The HTTP status of a refusal. */
export const statusOf = (error: AuthError): 400 | 401 | 403 | 503 =>
  error._tag === "Forbidden" ? 403 : isUnavailable(error) ? 503 : error.code === "invalid_request" ? 400 : 401

/** 400: the `authorization` header is malformed or sent twice (`invalid_request`). */
export const InvalidRequest = Unauthenticated.pipe(
  Schema.filter((e) => e.code === "invalid_request"),
  Schema.annotations(HttpApiSchema.annotations({
    identifier: "WardenInvalidRequest",
    description: "The authorization header is malformed or sent twice (RFC 6750 invalid_request)",
    status: 400
  }))
)

/** 503: a store Warden needs cannot answer; the request is refused, never decided without it. */
export const Unavailable = Unauthenticated.pipe(
  Schema.filter((e) => e.reason === "unavailable" || e.reason === "keys_unavailable"),
  Schema.annotations(HttpApiSchema.annotations({
    identifier: "WardenUnavailable",
    description: "A store Warden needs is unavailable; try again after Retry-After",
    status: 503
  }))
)

/** 401: no credentials, or credentials that do not verify (`invalid_token`). */
export const InvalidToken = Unauthenticated.pipe(
  Schema.annotations(HttpApiSchema.annotations({
    identifier: "WardenUnauthenticated",
    description: "No credentials were sent (no error code), or they do not verify (RFC 6750 invalid_token)",
    status: 401
  }))
)

/** 403: authenticated but not allowed (`insufficient_scope`). */
export const InsufficientScope = Forbidden.pipe(
  Schema.annotations(HttpApiSchema.annotations({
    identifier: "WardenForbidden",
    description: "Authenticated, but the endpoint's policy does not allow it (RFC 6750 insufficient_scope)",
    status: 403
  }))
)

/**
 * Every refusal of a protected endpoint, most specific first: the failure
 * of Warden's middlewares, so each appears in the endpoint's error schema.
 */
export const Refusal = Schema.Union(InvalidRequest, Unavailable, InvalidToken, InsufficientScope)

/** Seconds a client is told to wait after a 503. */
export const retryAfterSeconds = 1

const encodeUnauthenticated = Schema.encodeSync(Unauthenticated)
const encodeForbidden = Schema.encodeSync(Forbidden)

/**
 * The response for a refusal: its status, the RFC 6750 `WWW-Authenticate`
 * header (or `Retry-After` for a 503), `Cache-Control: no-store`, and the
 * refusal as its JSON body (the schema the OpenAPI document names).
 */
export const toResponse = (error: AuthError, options?: { readonly realm?: string }) => {
  const status = statusOf(error)
  const headers: Record<string, string> = { "cache-control": "no-store" }
  if (status === 503) headers["retry-after"] = String(retryAfterSeconds)
  else headers["www-authenticate"] = wwwAuthenticate(error, options)
  const body = error._tag === "Forbidden" ? encodeForbidden(error) : encodeUnauthenticated(error)
  return HttpServerResponse.unsafeJson(body, { status, headers })
}
