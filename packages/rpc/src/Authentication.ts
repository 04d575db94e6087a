/**
 * The `Authentication` middleware: reads the bearer token strictly (RFC 6750
 * §2.1), authenticates it through the request pipeline (`Guard`), and
 * provides `CurrentUser`.
 *
 * @since 0.1.0
 */
import * as RpcMiddleware from "@effect/rpc/RpcMiddleware"
import type { AuditLog } from "@warden/core/AuditLog"
import type { Authenticator } from "@warden/core/Authenticator"
import { Unauthenticated } from "@warden/core/AuthError"
import * as Guard from "@warden/core/Guard"
import { CurrentUser } from "@warden/core/Principal"
import * as Layer from "effect/Layer"
import * as Guarded from "./internal/guarded.js"

/**
 * Provides `CurrentUser` from the verified bearer token. Fails with
 * `Unauthenticated`: no code when no credentials were sent,
 * `invalid_request` for a malformed or conflicting header, `invalid_token`
 * when the token does not verify.
 *
 * Over HTTP, the request's own `authorization` header is read from the HTTP
 * request object and compared with the per-RPC one (which the RPC server
 * merges over it): two different tokens are `conflicting_credentials`. No
 * HTTP middleware is needed for that, and no header a client sends can stand
 * in for the transport's.
 *
 * Every Warden client of a procedure that carries it must say how it
 * authenticates (`requiredForClient`): see `Outbound`.
 *
 * A streaming procedure ends with `Unauthenticated` (`expired`) when the
 * caller's token expires mid-stream, unless it is annotated
 * `TrustForStreamLifetime`.
 */
export class Authentication extends RpcMiddleware.Tag<Authentication>()(Guarded.keys.authentication, {
  provides: CurrentUser,
  failure: Unauthenticated,
  requiredForClient: true,
  wrap: true
}) {}

/**
 * Annotates a streaming procedure whose stream may outlive the caller's token:
 * authenticated once at the start, trusted for the stream's lifetime.
 */
export const TrustForStreamLifetime = Guarded.TrustForStreamLifetime

/** @since 0.1.0 */
export type TrustForStreamLifetime = Guarded.TrustForStreamLifetime

/** The middleware's implementation. Needs an `Authenticator` and an `AuditLog`. */
export const layer: Layer.Layer<Authentication, never, Authenticator | AuditLog> = Guarded.layer(
  Authentication,
  Guarded.keys.authentication
).pipe(
  Layer.provide(Guard.layer)
)
