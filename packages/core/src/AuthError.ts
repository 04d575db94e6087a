/**
 * The two ways a request is refused, as `Schema.TaggedError`s so they cross
 * the RPC wire typed, and their renderings for HTTP (RFC 6750 §3) and gRPC.
 *
 * Descriptions are safe to show a caller: they never contain a token, a
 * secret or the raw input that failed.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/** The error codes of RFC 6750 §3.1. */
export const ErrorCode = Schema.Literal("invalid_request", "invalid_token", "insufficient_scope")

/** @since 0.1.0 */
export type ErrorCode = typeof ErrorCode.Type

/**
 * Why a request is not authenticated. A closed union: switch on it, never
 * parse the description.
 */
export const UnauthenticatedReason = Schema.Literal(
  /** No credentials were sent. The only reason with no RFC 6750 error code. */
  "missing_credentials",
  /** The authorization header is not `Bearer <token68>`, or appears twice. */
  "malformed_header",
  /** A per-RPC and a transport authorization header disagree. */
  "conflicting_credentials",
  /** The token is not a well-formed token of the expected kind. */
  "malformed",
  "too_large",
  "algorithm",
  "signature",
  "unknown_key",
  "keys_unavailable",
  "expired",
  "not_yet_valid",
  "issuer",
  "audience",
  "type",
  "claims",
  "lifetime",
  "revoked",
  /** An opaque token the authorization server does not know, or reports inactive; an unknown or revoked API key. */
  "inactive",
  /** Credentials of a kind this service does not accept (an API key where only tokens are, say). */
  "unsupported_credential",
  /** The verifying service could not reach what it needs to decide (fails closed). */
  "unavailable"
)

/** @since 0.1.0 */
export type UnauthenticatedReason = typeof UnauthenticatedReason.Type

/**
 * Builds a refusal without capturing a stack trace. A refusal is data with a
 * closed reason, not a bug to locate, and capturing a stack costs more than
 * the rest of refusing: under a flood of bad tokens, every one is refused.
 */
const withoutStack = <A>(make: () => A): A => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return make()
  } finally {
    Error.stackTraceLimit = limit
  }
}

const codeOf = (reason: UnauthenticatedReason): ErrorCode | null =>
  reason === "missing_credentials" ?
    null :
    reason === "malformed_header" || reason === "conflicting_credentials" ?
    "invalid_request" :
    "invalid_token"

/** The request carries no valid credentials (HTTP 401, or 400 for `invalid_request`). */
export class Unauthenticated extends Schema.TaggedError<Unauthenticated>("@warden/Unauthenticated")(
  "Unauthenticated",
  {
    /** The RFC 6750 error code; `null` when no credentials were sent. */
    code: Schema.NullOr(Schema.Literal("invalid_request", "invalid_token")),
    reason: UnauthenticatedReason,
    description: Schema.String
  }
) {
  /** Builds the error with the code that belongs to the reason. */
  static of(reason: UnauthenticatedReason, description: string): Unauthenticated {
    // The fields are typed already; skipping the Schema re-check keeps refusals cheap on the request path.
    return withoutStack(() =>
      new Unauthenticated(
        { code: codeOf(reason) as "invalid_request" | "invalid_token" | null, reason, description },
        true
      )
    )
  }
  override get message(): string {
    return `${this.reason}: ${this.description}`
  }
}

/** Why an authenticated request is refused. A closed union. */
export const ForbiddenReason = Schema.Literal(
  "missing_scope",
  "missing_permission",
  /** A deny rule covers the permission. */
  "denied_permission",
  /** The request's tenant is not the one the policy requires. */
  "tenant_mismatch",
  /** The `x-tenant` header names a tenant the credentials do not sign. */
  "tenant_not_signed",
  "not_a_service",
  "not_a_user",
  "wrong_service",
  /** A `Policy.not` whose inner policy allowed. */
  "negated",
  /** No alternative of a `Policy.any` allowed. */
  "no_alternative",
  /** The procedure carries the Authorization middleware but declares no policy. */
  "no_policy",
  /** A policy over a declared claim (`Policy.claim`) was not met. */
  "claim",
  /** `Policy.actor`: the token was not exchanged by a service acting for its subject (no `act` claim). */
  "no_actor",
  /** `Policy.actor`: the acting service is not one the policy names. */
  "wrong_actor"
)

/** @since 0.1.0 */
export type ForbiddenReason = typeof ForbiddenReason.Type

/** The request is authenticated but not allowed (HTTP 403, `insufficient_scope`). */
export class Forbidden extends Schema.TaggedError<Forbidden>("@warden/Forbidden")("Forbidden", {
  code: Schema.Literal("insufficient_scope"),
  reason: ForbiddenReason,
  /** What was required and missing, e.g. `scope orders.write`. */
  requirement: Schema.String,
  /** The scope a client should ask for, when a scope would help (RFC 6750 `scope` attribute). */
  scope: Schema.NullOr(Schema.String),
  description: Schema.String
}) {
  /** Builds the error. */
  static of(
    reason: ForbiddenReason,
    requirement: string,
    description: string,
    scope: string | null = null
  ): Forbidden {
    // The fields are typed already; skipping the Schema re-check keeps refusals cheap on the request path.
    return withoutStack(() =>
      new Forbidden({ code: "insufficient_scope", reason, requirement, scope, description }, true)
    )
  }
  override get message(): string {
    return `${this.reason}: ${this.description}`
  }
}

/** Either refusal. */
export type AuthError = Unauthenticated | Forbidden

/** The HTTP status for a refusal: 400 for `invalid_request`, 401, or 403. */
export const httpStatus = (error: AuthError): 400 | 401 | 403 =>
  error._tag === "Forbidden" ? 403 : error.code === "invalid_request" ? 400 : 401

// RFC 6750 §3: error_description and scope use %x20-21 / %x23-5B / %x5D-7E.
// Double quotes become single quotes; any other character outside that set becomes "?".
const quoted = (value: string): string =>
  `"${value.replace(/"/g, "'").replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/gu, "?")}"`

/**
 * The `WWW-Authenticate` header value for a refusal (RFC 6750 §3). With no
 * credentials sent, only the scheme and realm, as the RFC asks.
 */
export const wwwAuthenticate = (error: AuthError, options?: { readonly realm?: string }): string => {
  const params: Array<string> = []
  if (options?.realm !== undefined) params.push(`realm=${quoted(options.realm)}`)
  if (error.code !== null) {
    params.push(`error="${error.code}"`, `error_description=${quoted(error.description)}`)
  }
  if (error._tag === "Forbidden" && error.scope !== null) params.push(`scope=${quoted(error.scope)}`)
  return params.length === 0 ? "Bearer" : `Bearer ${params.join(", ")}`
}

/** gRPC status codes for refusals. */
export const GrpcStatus = {
  UNAUTHENTICATED: 16,
  PERMISSION_DENIED: 7
} as const

/** The gRPC status for a refusal. */
export const grpcStatus = (error: AuthError): { readonly code: 7 | 16; readonly name: keyof typeof GrpcStatus } =>
  error._tag === "Forbidden" ?
    { code: GrpcStatus.PERMISSION_DENIED, name: "PERMISSION_DENIED" } :
    { code: GrpcStatus.UNAUTHENTICATED, name: "UNAUTHENTICATED" }

/** Whether a value is one of Warden's refusals. */
export const isAuthError = (u: unknown): u is AuthError => u instanceof Unauthenticated || u instanceof Forbidden
