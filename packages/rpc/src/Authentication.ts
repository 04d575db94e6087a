/**
 * The `Authentication` middleware: reads the bearer token strictly (RFC 6750
 * §2.1), authenticates it with the `Authenticator`, and provides
 * `CurrentUser`.
 *
 * @since 0.1.0
 */
import * as RpcMiddleware from "@effect/rpc/RpcMiddleware"
import * as RpcSchema from "@effect/rpc/RpcSchema"
import type { AuditLog } from "@warden/core/AuditLog"
import type { Authenticator } from "@warden/core/Authenticator"
import { Unauthenticated } from "@warden/core/AuthError"
import { CurrentUser } from "@warden/core/Principal"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { CallerCredentials } from "./internal/callerCredentials.js"
import * as RequestAuth from "./internal/requestAuth.js"

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
export class Authentication extends RpcMiddleware.Tag<Authentication>()("@warden/rpc/Authentication", {
  provides: CurrentUser,
  failure: Unauthenticated,
  requiredForClient: true,
  wrap: true
}) {}

/**
 * Annotates a streaming procedure whose stream may outlive the caller's token:
 * authenticated once at the start, trusted for the stream's lifetime.
 */
export class TrustForStreamLifetime
  extends Context.Tag("@warden/rpc/TrustForStreamLifetime")<TrustForStreamLifetime, boolean>()
{}

const expiredMidStream = Unauthenticated.of("expired", "the token expired during the stream")

/** The middleware's implementation. Needs an `Authenticator` and an `AuditLog`. */
export const layer: Layer.Layer<Authentication, never, Authenticator | AuditLog> = Layer.effect(
  Authentication,
  Effect.map(
    RequestAuth.RequestAuth,
    (auth) => (options) =>
      Effect.flatMap(auth.authenticate(options), ({ credentials, principal, tenant }) => {
        const next = options.next.pipe(
          Effect.provideService(CurrentUser, principal),
          Effect.provideService(CallerCredentials, { credentials, expiresAt: principal.expiresAt, tenant })
        )
        const guarded = RpcSchema.isStreamSchema(options.rpc.successSchema) && principal.expiresAt !== null &&
          !Context.getOrElse(options.rpc.annotations, TrustForStreamLifetime, () => false)
        if (!guarded) return next
        const expiresAtMs = principal.expiresAt! * 1000
        return Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.timeoutFail(next, {
            duration: Duration.millis(Math.max(0, expiresAtMs - now)),
            onTimeout: () => expiredMidStream
          }))
      })
  )
).pipe(Layer.provide(RequestAuth.layer))
