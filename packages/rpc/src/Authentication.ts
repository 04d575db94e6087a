/**
 * The `Authentication` middleware: reads the bearer token strictly (RFC 6750
 * §2.1), authenticates it with the `Authenticator`, and provides
 * `CurrentUser`.
 *
 * @since 0.1.0
 */
import * as Headers from "@effect/platform/Headers"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as RpcMiddleware from "@effect/rpc/RpcMiddleware"
import type { AuditLog } from "@warden/core/AuditLog"
import type { Authenticator } from "@warden/core/Authenticator"
import { Unauthenticated } from "@warden/core/AuthError"
import { CurrentUser } from "@warden/core/Principal"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Bearer from "./internal/bearer.js"
import * as RequestAuth from "./internal/requestAuth.js"

/**
 * Provides `CurrentUser` from the verified bearer token. Fails with
 * `Unauthenticated`: no code when no credentials were sent,
 * `invalid_request` for a malformed or conflicting header, `invalid_token`
 * when the token does not verify.
 */
export class Authentication extends RpcMiddleware.Tag<Authentication>()("@warden/rpc/Authentication", {
  provides: CurrentUser,
  failure: Unauthenticated
}) {}

/** The middleware's implementation. Needs an `Authenticator` and an `AuditLog`. */
export const layer: Layer.Layer<Authentication, never, Authenticator | AuditLog> = Layer.effect(
  Authentication,
  Effect.map(RequestAuth.RequestAuth, (auth) => auth.authenticate)
).pipe(Layer.provide(RequestAuth.layer))

/**
 * An HTTP middleware for the RPC server's HTTP protocol that keeps the
 * transport `authorization` header apart from per-RPC headers, so that a
 * request carrying two different tokens (one per-RPC, one on the HTTP request)
 * is refused with `invalid_request` instead of one silently winning.
 *
 * ```ts
 * HttpRouter.Default.serve(Authentication.transportHeaders)
 * ```
 */
export const transportHeaders = <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R> =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    const value = request.headers["authorization"]
    if (value === undefined) return app
    const headers = Headers.set(Headers.remove(request.headers, "authorization"), Bearer.transportHeader, value)
    return Effect.provideService(app, HttpServerRequest.HttpServerRequest, request.modify({ headers }))
  })
